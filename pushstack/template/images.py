"""autopush-rs's images, built in the operator's account: ECR repository, CodeBuild, trigger.

Mozilla publishes no autopush-rs images (since September 2024), so the stack
builds autoconnect and autoendpoint from the pinned release with the ``redis``
feature, as upstream's docker-compose-redis.yml does. A Rust build takes far
longer than a Lambda may run (15 minutes), so the custom resource's function
only starts the build and hands it CloudFormation's response URL: the build
itself answers when its images are pushed (or failed), and the node groups,
which depend on it, start only then. No Lambda waits and no poller runs.
"""

from __future__ import annotations

import json

from awacs import codebuild as cb_actions
from awacs import ecr as ecr_actions
from awacs import logs as logs_actions
from troposphere import GetAtt, Ref, Sub, Template, awslambda, codebuild, ecr, logs
from troposphere.cloudformation import CustomResource

from pushstack.options import AUTOPUSH_RS_COMMIT, AUTOPUSH_RS_VERSION, Options
from pushstack.template.common import (
    LAMBDA_RUNTIME,
    STACK_UUID,
    STACK_UUID_SHORT,
    allow,
    arn,
    assume_role_policy,
    carried,
    role,
    skip_checks,
)

SOURCE_URL = "https://github.com/mozilla-services/autopush-rs.git"
PROGRAMS = ("autoconnect", "autoendpoint")
# As docker-compose-redis.yml builds them: the Redis/Valkey backend, nothing else.
CARGO_FEATURES = "--no-default-features --features redis"
# CloudFormation waits at most an hour for a custom resource; the build must end first.
BUILD_TIMEOUT_MINUTES = 55
CUSTOM_RESOURCE_TIMEOUT_SECONDS = 3600
# Named, not read from the project: the role and the trigger then need no
# attribute of it (which the sandbox, lacking CodeBuild, could not give).
PROJECT_NAME = Sub("autopush-rs-build-${Id}", Id=STACK_UUID_SHORT)
PROJECT_ARN = Sub(
    "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/autopush-rs-build-${Id}",
    Id=STACK_UUID_SHORT,
)
# Lowercase, as ECR wants, and the stack's own.
RS_REPOSITORY = Sub("autopush-rs-${Id}", Id=STACK_UUID_SHORT)
COPIES_REPOSITORY = Sub("autopush-${Uuid}", Uuid=STACK_UUID)
IMAGES_KEPT = 5  # per program: the current release and a few earlier ones to roll back to


# Typical first create, in minutes (benchmarks/templates.py's critical paths).
BUILD_MINUTES = 30


def first_create_note(opts: Options) -> str:
    """How long the first create takes, and why, in words for the preview."""
    if opts.builds_images:
        return (
            f"The first create takes about {BUILD_MINUTES + 5} minutes: CodeBuild compiles "
            f"autoconnect and autoendpoint from autopush-rs {AUTOPUSH_RS_VERSION}'s sources "
            f"(about {BUILD_MINUTES} minutes, while the store is created), then the nodes "
            "start. Mozilla publishes no images of it. Later updates of the same release "
            "reuse the images."
        )
    if opts.rs:
        return (
            "The first create takes about 20 minutes, most of it ElastiCache creating the "
            "store; the nodes start once it exists."
        )
    return "The first create takes about 8 minutes."


def image_sources_note(opts: Options) -> str:
    """Where the nodes' images come from, in words for the preview."""
    if opts.builds_images:
        where = (
            "The push nodes pull autoconnect and autoendpoint from the stack's own ECR "
            "repository, built there from autopush-rs's sources (the build itself pulls "
            "Rust and Debian base images from Docker Hub)."
        )
    elif opts.rs:
        where = "The push nodes pull the autoconnect and autoendpoint images you gave."
    else:
        where = (
            f"The push nodes run {opts.autopush_image} from the stack's own ECR repository: "
            "the first node to boot copies it there from its registry (Docker Hub unless "
            "it names another), every later node pulls the copy. Docker Hub's pull limits "
            "or a removed tag then touch only a stack's first boot (an image already in ECR "
            "is pulled where it is)."
        )
    if opts.processor:
        where += (
            f" The Messages API nodes copy and pull {opts.messages_api_image} the same "
            "way. Their subnet needs a route out: a NAT gateway (the first copy comes from "
            "Docker Hub), or, once copied, VPC endpoints for ECR (ecr.api, ecr.dkr), "
            "CloudFormation and ElastiCache, with the S3 gateway endpoint on its route "
            "table (image layers and Amazon Linux packages come from S3)."
        )
    return where


def image_tag(program: str) -> str:
    return f"{program}-{AUTOPUSH_RS_VERSION}"


def built_image(program: str) -> str:
    """The image's reference as Fn::Sub text, in the stack's repository."""
    return "${ImageRepository.RepositoryUri}:" + image_tag(program)


def image_repository(t: Template, name: Sub = RS_REPOSITORY, lifecycle: bool = True) -> None:
    """The stack's ECR repository: autopush-rs's built images, or the copies of the
    legacy engine's (and the Messages API's) images."""
    rules = [
        {
            "rulePriority": 1,
            "description": "Untagged layers of interrupted pushes",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        },
        *(
            {
                "rulePriority": 2 + index,
                "description": f"The newest {IMAGES_KEPT} {program} images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [f"{program}-"],
                    "countType": "imageCountMoreThan",
                    "countNumber": IMAGES_KEPT,
                },
                "action": {"type": "expire"},
            }
            for index, program in enumerate(PROGRAMS)
        ),
    ]
    # A copy is made once per image the stack runs: nothing to expire.
    extra = {}
    if lifecycle:
        extra["LifecyclePolicy"] = ecr.LifecyclePolicy(
            LifecyclePolicyText=json.dumps({"rules": rules}, separators=(",", ":"))
        )
    t.add_resource(
        ecr.Repository(
            "ImageRepository",
            RepositoryName=name,
            ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
            ImageTagMutability="IMMUTABLE",
            EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType="AES256"),
            **extra,
            # Built or copied again on demand: a delete removes them with the repository.
            EmptyOnDelete=True,
            Metadata=skip_checks(("CKV_AWS_136", "AWS managed key; no CMK to manage.")),
        )
    )


# Runs in CodeBuild (Amazon Linux, Docker). The tag is checked against the commit
# pushstack was checked against; an image already in the (immutable) repository
# is kept, so an update or a retried create does not rebuild it.
BUILD_SCRIPT = f"""\
set -euo pipefail
registry=${{REPOSITORY_URI%%/*}}
aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$registry"
git clone --quiet --depth 1 --branch "$VERSION" {SOURCE_URL} src
[ "$(git -C src rev-parse HEAD)" = "$COMMIT" ] || {{ echo "tag $VERSION moved"; exit 1; }}
for program in {" ".join(PROGRAMS)}; do
  tag=$program-$VERSION
  if aws ecr describe-images --repository-name "${{REPOSITORY_URI#*/}}" --image-ids imageTag="$tag" >/dev/null 2>&1; then
    echo "$tag is already built"; continue
  fi
  docker build --quiet --build-arg CRATE=$program --build-arg BINARY=$program \\
    --build-arg "BUILD_ARGS={CARGO_FEATURES}" -t "$REPOSITORY_URI:$tag" src
  docker push --quiet "$REPOSITORY_URI:$tag"
done
"""

# CloudFormation's answer, sent by the build once it has ended either way.
ANSWER_SCRIPT = """\
[ -n "${RESPONSE_URL:-}" ] || exit 0
status=FAILED; [ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ] && status=SUCCESS
printf '{"Status":"%s","Reason":"%s","PhysicalResourceId":"%s","StackId":"%s","RequestId":"%s","LogicalResourceId":"%s","Data":{}}' \\
  "$status" "CodeBuild build $CODEBUILD_BUILD_ID (its log is in CloudWatch Logs)" \\
  "$PHYSICAL_ID" "$STACK_ID" "$REQUEST_ID" "$LOGICAL_ID" > answer.json
curl -sS --retry 5 -X PUT -H 'Content-Type:' --data-binary @answer.json "$RESPONSE_URL"
"""


def buildspec() -> str:
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "build": {"commands": [BUILD_SCRIPT]},
            "post_build": {"commands": [ANSWER_SCRIPT]},
        },
    }
    return json.dumps(spec, indent=1)


def build_project(t: Template) -> None:
    t.add_resource(
        logs.LogGroup(
            "ImageBuildLogGroup",
            RetentionInDays=90,
            Metadata=skip_checks(("CKV_AWS_158", "Logs' own encryption; no CMK to manage.")),
        )
    )
    repository_arn = GetAtt("ImageRepository", "Arn")
    t.add_resource(
        role(
            "ImageBuildRole",
            assume_role_policy("codebuild.amazonaws.com"),
            "build-images",
            [
                # Takes no resource: it returns a login for the account's registry.
                allow([ecr_actions.GetAuthorizationToken], ["*"]),
                allow(
                    [
                        ecr_actions.DescribeImages,
                        ecr_actions.BatchCheckLayerAvailability,
                        ecr_actions.InitiateLayerUpload,
                        ecr_actions.UploadLayerPart,
                        ecr_actions.CompleteLayerUpload,
                        ecr_actions.PutImage,
                    ],
                    [repository_arn],
                ),
                allow(
                    [logs_actions.CreateLogStream, logs_actions.PutLogEvents],
                    [GetAtt("ImageBuildLogGroup", "Arn")],
                ),
            ],
        )
    )
    variables = {
        "REPOSITORY_URI": GetAtt("ImageRepository", "RepositoryUri"),
        "VERSION": AUTOPUSH_RS_VERSION,
        "COMMIT": AUTOPUSH_RS_COMMIT,
    }
    t.add_resource(
        codebuild.Project(
            "ImageBuildProject",
            Name=PROJECT_NAME,
            Description=Sub(f"Builds autopush-rs {AUTOPUSH_RS_VERSION} for ${{AWS::StackName}}"),
            ServiceRole=GetAtt("ImageBuildRole", "Arn"),
            Source=codebuild.Source(Type="NO_SOURCE", BuildSpec=buildspec()),
            Artifacts=codebuild.Artifacts(Type="NO_ARTIFACTS"),
            Environment=codebuild.Environment(
                Type="LINUX_CONTAINER",
                # Rust's release build of the whole workspace wants the cores and memory.
                ComputeType="BUILD_GENERAL1_LARGE",
                Image="aws/codebuild/amazonlinux-x86_64-standard:5.0",
                PrivilegedMode=True,  # docker build runs inside the build container
                EnvironmentVariables=[
                    codebuild.EnvironmentVariable(Name=name, Type="PLAINTEXT", Value=value)
                    for name, value in variables.items()
                ],
            ),
            TimeoutInMinutes=BUILD_TIMEOUT_MINUTES,
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(
                    Status="ENABLED", GroupName=Ref("ImageBuildLogGroup")
                )
            ),
            Metadata={
                **skip_checks(
                    ("CKV_AWS_147", "AWS managed key; no CMK to manage."),
                    ("CKV_AWS_316", "docker build needs a privileged build container."),
                ),
                # CodeBuild is missing in a few regions: there the options refuse a
                # build and ask for the images (NO_CODEBUILD_REGIONS).
                "cfn-lint": {"config": {"ignore_checks": ["E3006"]}},
            },
        )
    )


# Starts the build with CloudFormation's response details and returns: the build
# answers. Delete has nothing to undo (the images go with their repository).
STARTER_CODE = """\
import json
import urllib.request

import boto3


def answer(event, status, reason):
    body = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    request = urllib.request.Request(
        event["ResponseURL"], data=json.dumps(body).encode(), method="PUT",
        headers={"Content-Type": ""},
    )
    urllib.request.urlopen(request, timeout=30)


def handler(event, context):
    if event["RequestType"] == "Delete":
        return answer(event, "SUCCESS", "nothing to delete")
    details = {
        "RESPONSE_URL": event["ResponseURL"],
        "STACK_ID": event["StackId"],
        "REQUEST_ID": event["RequestId"],
        "LOGICAL_ID": event["LogicalResourceId"],
        "PHYSICAL_ID": event.get("PhysicalResourceId") or event["LogicalResourceId"],
    }
    try:
        build = boto3.client("codebuild").start_build(
            projectName=event["ResourceProperties"]["ProjectName"],
            environmentVariablesOverride=[
                {"name": name, "value": value, "type": "PLAINTEXT"}
                for name, value in details.items()
            ],
        )
        print("started", build["build"]["id"])
    except Exception as exc:
        print("could not start the build:", exc)
        answer(event, "FAILED", "could not start the image build: " + str(exc)[:200])
"""


def build_trigger(t: Template) -> None:
    t.add_resource(
        logs.LogGroup(
            "ImageBuildStarterLogGroup",
            RetentionInDays=90,
            Metadata=skip_checks(("CKV_AWS_158", "Logs' own encryption; no CMK to manage.")),
        )
    )
    t.add_resource(
        role(
            "ImageBuildStarterRole",
            assume_role_policy("lambda.amazonaws.com"),
            "start-image-build",
            [
                allow([cb_actions.StartBuild], [PROJECT_ARN]),
                allow(
                    [logs_actions.CreateLogStream, logs_actions.PutLogEvents],
                    [GetAtt("ImageBuildStarterLogGroup", "Arn")],
                ),
            ],
        )
    )
    t.add_resource(
        awslambda.Function(
            "ImageBuildStarterFunction",
            Description="Starts the autopush-rs image build for CloudFormation",
            Runtime=LAMBDA_RUNTIME,
            Handler="index.handler",
            Code=awslambda.Code(ZipFile=carried(STARTER_CODE)),
            Role=GetAtt("ImageBuildStarterRole", "Arn"),
            Timeout=60,
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref("ImageBuildStarterLogGroup")),
            Metadata=skip_checks(
                (
                    "CKV_AWS_115",
                    "Would fail in accounts with a low concurrency limit.",
                ),
                ("CKV_AWS_116", "Invoked by CloudFormation, which reports a failure."),
                ("CKV_AWS_117", "Needs only CodeBuild's API and the CloudFormation response URL."),
                ("CKV_AWS_50", "Runs once per stack operation; tracing adds nothing."),
            ),
        )
    )
    t.add_resource(
        CustomResource(
            "ImageBuild",
            DependsOn=["ImageBuildProject"],
            ServiceToken=GetAtt("ImageBuildStarterFunction", "Arn"),
            ServiceTimeout=CUSTOM_RESOURCE_TIMEOUT_SECONDS,
            ProjectName=PROJECT_NAME,
            # A new release (or a moved pin) is an update, which builds again.
            Version=AUTOPUSH_RS_VERSION,
            Commit=AUTOPUSH_RS_COMMIT,
        )
    )


def copies_images(opts: Options) -> bool:
    """Whether the nodes run copies, in the stack's repository, of images kept elsewhere
    (the legacy engine's and the Messages API's, on Docker Hub by default)."""
    return not opts.rs


# The boot script's setting naming the repository that holds the copies.
MIRROR = "${ImageRepository.RepositoryUri}"


def images(t: Template, opts: Options) -> None:
    """The repository, the build and its trigger, unless the operator gave the images;
    for the legacy engine, the repository its nodes copy their images into, once."""
    if copies_images(opts):
        image_repository(t, COPIES_REPOSITORY, lifecycle=False)
    if not opts.builds_images:
        return
    image_repository(t)
    build_project(t)
    build_trigger(t)


PULL_ACTIONS = [
    ecr_actions.BatchGetImage,
    ecr_actions.GetDownloadUrlForLayer,
    ecr_actions.BatchCheckLayerAvailability,
]


# Pulls from the account's repositories (AWS managed, to keep the template small).
PULL_POLICY = "AmazonEC2ContainerRegistryPullOnly"


def node_pull_statements(opts: Options) -> list:
    """What a node needs to pull its images from ECR; for copies (with PULL_POLICY), to
    push them once."""
    if copies_images(opts):
        # The first node to boot on an image copies it in; its tags are immutable, so
        # no node can replace a copy another node pulls.
        push = [
            ecr_actions.BatchCheckLayerAvailability,
            ecr_actions.InitiateLayerUpload,
            ecr_actions.UploadLayerPart,
            ecr_actions.CompleteLayerUpload,
            ecr_actions.PutImage,
        ]
        return [allow(push, [GetAtt("ImageRepository", "Arn")])]
    if opts.builds_images:
        repositories = [GetAtt("ImageRepository", "Arn")]
    else:
        # Given images may be in any of the account's repositories (elsewhere, no
        # ECR rights are needed).
        repositories = [arn("ecr", "repository/*")]
    return [
        allow([ecr_actions.GetAuthorizationToken], ["*"]),
        allow(PULL_ACTIONS, repositories),
    ]
