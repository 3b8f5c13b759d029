"""Log processing: the processor Lambda, its settings, Redis and the Push Messages API."""

from __future__ import annotations

from awacs import elasticache as ec_actions
from awacs import logs as logs_actions
from awacs import s3 as s3_actions
from awacs import sqs as sqs_actions
from troposphere import (
    AccountId,
    Equals,
    GetAtt,
    If,
    Ref,
    Split,
    Sub,
    Template,
    awslambda,
    ec2,
    elasticache,
    iam,
    logs,
    sqs,
)
from troposphere.cloudformation import CustomResource

from pushstack.artifacts import BUCKET_SUB
from pushstack.options import Options
from pushstack.template.boot import user_data
from pushstack.template.common import (
    LAMBDA_RUNTIME,
    MESSAGES_API,
    MESSAGES_API_PORT,
    REDIS_PORT,
    SETTINGS_KEY,
    STACK_UUID_SHORT,
    allow,
    assume_role_policy,
    carried,
    role,
    session_manager_statements,
    skip_checks,
)
from pushstack.template.images import MIRROR, PULL_POLICY, node_pull_statements
from pushstack.template.logs import created_bucket_arn, log_bucket_arn
from pushstack.template.network import (
    dns_record,
    ingress,
    load_balancer,
    load_balancer_security_group,
    node_security_group,
    security_group,
)
from pushstack.template.nodes import auto_scaling_group, launch_template

PROCESSOR_HANDLER = "push_processor.handler"  # processor/push_processor.py in the zip
# A replication group, not a CacheCluster, for encryption at rest. Named apart from the
# cluster (push-redis-<id>) of stacks made before, which an update creates it beside.
REDIS_NAME = "push-messages-${Id}"
REDIS_GROUP_ID = Sub(REDIS_NAME, Id=STACK_UUID_SHORT)
REDIS_GROUP_ARN = Sub(
    "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:replicationgroup:"
    + REDIS_NAME,
    Id=STACK_UUID_SHORT,
)


def lambda_log_group(t: Template, logical_id: str) -> None:
    t.add_resource(
        logs.LogGroup(
            logical_id,
            RetentionInDays=90,
            Metadata=skip_checks(("CKV_AWS_158", "Logs' own encryption; no CMK to manage.")),
        )
    )


def lambda_checks(*extra: tuple[str, str]) -> dict:
    return skip_checks(
        (
            "CKV_AWS_115",
            "Would fail in accounts with a low concurrency limit.",
        ),
        (
            "CKV_AWS_116",
            "Failures: to a queue (processor), to CloudFormation (settings).",
        ),
        *extra,
    )


def redis(t: Template) -> None:
    """Redis in the private subnets, open only to the processor and the Messages API,
    encrypted at rest; neither encrypted in transit nor with an AUTH token, because
    push-messages 0.7 can use neither: it makes its client with host, port and database
    only (push_messages/__init__.py: ``redis.StrictRedis(host=, port=, db=)``) and reads
    no password or TLS setting, and ElastiCache takes an AUTH token only with TLS."""
    t.add_resource(
        security_group(
            "ProcessorSecurityGroup",
            "Push processor Lambda",
            [],
            skip_checks(("CKV2_AWS_5", "Attached to the processor Lambda.")),
        )
    )
    # The rules apart from the group, so that Redis (the longest to create) need
    # not wait for the groups they name.
    t.add_resource(
        security_group(
            "RedisSecurityGroup", "Redis: only from the processor and the Messages API", []
        )
    )
    for logical_id, client, what in (
        ("RedisFromProcessor", "ProcessorSecurityGroup", "the processor"),
        ("RedisFromMessagesApi", "MessagesApiNodeSecurityGroup", "the Messages API"),
    ):
        t.add_resource(
            ec2.SecurityGroupIngress(
                logical_id,
                GroupId=Ref("RedisSecurityGroup"),
                IpProtocol="tcp",
                FromPort=REDIS_PORT,
                ToPort=REDIS_PORT,
                SourceSecurityGroupId=Ref(client),
                Description=f"Redis from {what}",
            )
        )
    t.add_resource(
        elasticache.SubnetGroup(
            "RedisSubnetGroup",
            Description="Private subnets of the push Redis",
            SubnetIds=Ref("PrivateSubnetIds"),
        )
    )
    # A new logical id: CloudFormation cannot change the type of the "Redis" CacheCluster
    # of earlier stacks, so an update creates this one and deletes that one, with its data.
    t.add_resource(
        elasticache.ReplicationGroup(
            "RedisGroup",
            ReplicationGroupId=REDIS_GROUP_ID,
            ReplicationGroupDescription="Push Messages API keys and messages",
            Engine="redis",
            CacheNodeType=Ref("RedisNodeType"),
            NumCacheClusters=1,
            CacheSubnetGroupName=Ref("RedisSubnetGroup"),
            SecurityGroupIds=[Ref("RedisSecurityGroup")],
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=False,
            # Redis holds the Messages API's registered keys: a daily snapshot, kept 5 days.
            SnapshotRetentionLimit=5,
            Metadata=skip_checks(
                ("CKV_AWS_30", "push-messages 0.7's Redis client has no TLS setting."),
                ("CKV_AWS_31", "ElastiCache AUTH needs TLS, which push-messages cannot use."),
                ("CKV_AWS_191", "Encrypted with the AWS managed key; no CMK to manage."),
            ),
        )
    )


def s3_endpoint(t: Template) -> None:
    """The processor's way to S3 from its private subnets (its settings and the logs), and
    the Messages API nodes' to their image layers and packages: a gateway endpoint on the
    given route tables. No policy: every subnet using those tables reaches S3 through it."""
    t.add_resource(
        ec2.VPCEndpoint(
            "S3Endpoint",
            VpcId=Ref("VpcId"),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=Split(",", Ref("PrivateRouteTableIds")),
        )
    )


def s3_access_note(opts: Options) -> str:
    """How the processor reaches S3 from its private subnets, in words for the preview."""
    if not opts.processor:
        return ""
    if opts.s3_endpoint:
        return (
            "The processor reads its settings and the logs from S3 in its private subnets: "
            "the stack adds an S3 gateway endpoint (free) to the route tables "
            f"{', '.join(opts.private_route_table_ids) or 'you give'}, so every subnet using "
            "them reaches S3 through it. If one already has an S3 gateway endpoint, the "
            'create fails: tick "S3 endpoint exists already" instead.'
        )
    return (
        "You said the VPC already has an S3 gateway endpoint: the stack creates none. It "
        "must be on the private subnets' route tables (or those subnets need a NAT "
        "gateway): without a way to S3, each processor invocation waits out its 5-minute "
        "timeout, is tried twice more, and its log event lands in the failure queue."
    )


def processor_code_bucket(t: Template):
    """The bucket of the processor's zip: the one given, or pushstack's artifacts bucket."""
    t.add_condition("UseArtifactsBucket", Equals(Ref("ProcessorCodeBucket"), ""))
    return If("UseArtifactsBucket", Sub(BUCKET_SUB), Ref("ProcessorCodeBucket"))


def processor(t: Template) -> None:
    """The processor Lambda (pushstack's own, processor/push_processor.py), fed by new logs."""
    lambda_log_group(t, "ProcessorLogGroup")
    t.add_resource(
        role(
            "ProcessorRole",
            assume_role_policy("lambda.amazonaws.com"),
            "process-logs",
            # The logs and its settings object; Redis's address is in the settings.
            [
                allow([s3_actions.GetObject], [log_bucket_arn("/*")]),
                allow([s3_actions.ListBucket], [log_bucket_arn()]),
                # Where Lambda puts an event whose every try failed.
                allow([sqs_actions.SendMessage], [GetAtt("ProcessorFailureQueue", "Arn")]),
            ],
            managed=["service-role/AWSLambdaVPCAccessExecutionRole"],
        )
    )
    t.add_resource(
        awslambda.Function(
            "ProcessorFunction",
            Description="Push processor: push logs to Messages API data",
            Runtime=LAMBDA_RUNTIME,
            Handler=PROCESSOR_HANDLER,
            Code=awslambda.Code(S3Bucket=processor_code_bucket(t), S3Key=Ref("ProcessorCodeKey")),
            Role=GetAtt("ProcessorRole", "Arn"),
            MemorySize=512,
            Timeout=300,
            VpcConfig=awslambda.VPCConfig(
                SubnetIds=Ref("PrivateSubnetIds"),
                SecurityGroupIds=[Ref("ProcessorSecurityGroup")],
            ),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref("ProcessorLogGroup")),
            TracingConfig=awslambda.TracingConfig(Mode="PassThrough"),
            Metadata=lambda_checks(
                (
                    "CKV_AWS_50",
                    "Left to the operator (extra cost).",
                ),
            ),
        )
    )
    processor_failures(t)
    t.add_resource(
        awslambda.Permission(
            "ProcessorInvokePermission",
            Action="lambda:InvokeFunction",
            FunctionName=Ref("ProcessorFunction"),
            Principal="s3.amazonaws.com",
            SourceAccount=AccountId,
            SourceArn=log_bucket_arn(),
        )
    )


def processor_failures(t: Template) -> None:
    """An on-failure destination: an event the processor failed on (S3 unreachable,
    Redis down) lands in a retained queue, with its error, instead of vanishing."""
    t.add_resource(
        sqs.Queue(
            "ProcessorFailureQueue",
            MessageRetentionPeriod=14 * 24 * 3600,  # SQS's longest: two weeks to look
            SqsManagedSseEnabled=True,
            DeletionPolicy="Retain",
            Metadata=skip_checks(("CKV_AWS_27", "Encrypted by SQS's own keys (SSE-SQS).")),
            UpdateReplacePolicy="Retain",
        )
    )
    t.add_resource(
        awslambda.EventInvokeConfig(
            "ProcessorFailureDestination",
            FunctionName=Ref("ProcessorFunction"),
            Qualifier="$LATEST",
            MaximumRetryAttempts=2,
            DestinationConfig=awslambda.DestinationConfig(
                OnFailure=awslambda.OnFailure(Destination=GetAtt("ProcessorFailureQueue", "Arn"))
            ),
        )
    )


# Runs once Redis exists (a replication group may take longer to create than a
# function may run), and reads its address.
SETTINGS_WRITER_CODE = """\
import json

import boto3
import cfnresponse


def handler(event, context):
    props = event["ResourceProperties"]
    status = cfnresponse.SUCCESS
    try:
        # The bucket and this object outlive the stack: nothing to do on Delete.
        if event["RequestType"] in ("Create", "Update"):
            [group] = boto3.client("elasticache").describe_replication_groups(
                ReplicationGroupId=props["RedisGroupId"]
            )["ReplicationGroups"]
            endpoint = group["NodeGroups"][0]["PrimaryEndpoint"]
            boto3.client("s3").put_object(
                Bucket=props["Bucket"],
                Key=props["Key"],
                Body=json.dumps(
                    {"redis_host": endpoint["Address"], "redis_port": endpoint["Port"]}
                ).encode(),
                ContentType="application/json",
            )
    except Exception as exc:
        print("could not write the settings object:", exc)
        status = cfnresponse.FAILED
    cfnresponse.send(event, context, status, {}, props["Bucket"] + "/" + props["Key"])
"""


def processor_settings(t: Template) -> None:
    """The processor's settings object (Redis's address), written by the stack."""
    lambda_log_group(t, "SettingsWriterLogGroup")
    t.add_resource(
        role(
            "SettingsWriterRole",
            assume_role_policy("lambda.amazonaws.com"),
            "write-settings",
            [
                allow([s3_actions.PutObject], [created_bucket_arn("/" + SETTINGS_KEY)]),
                allow([ec_actions.DescribeReplicationGroups], [REDIS_GROUP_ARN]),
                allow(
                    [logs_actions.CreateLogStream, logs_actions.PutLogEvents],
                    [GetAtt("SettingsWriterLogGroup", "Arn")],
                ),
            ],
        )
    )
    t.add_resource(
        awslambda.Function(
            "SettingsWriterFunction",
            Description="Writes the push processor's settings",
            Runtime=LAMBDA_RUNTIME,
            Handler="index.handler",
            Code=awslambda.Code(ZipFile=carried(SETTINGS_WRITER_CODE)),
            Role=GetAtt("SettingsWriterRole", "Arn"),
            Timeout=60,
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref("SettingsWriterLogGroup")),
            Metadata=lambda_checks(
                (
                    "CKV_AWS_117",
                    "Reaches only AWS APIs and CloudFormation.",
                ),
                ("CKV_AWS_50", "Runs once per stack operation."),
            ),
        )
    )
    t.add_resource(
        CustomResource(
            "ProcessorSettings",
            ServiceToken=GetAtt("SettingsWriterFunction", "Arn"),
            Bucket=Ref("LogBucket"),
            Key=SETTINGS_KEY,
            RedisGroupId=REDIS_GROUP_ID,
            DependsOn=["RedisGroup"],
        )
    )


def messages_api(t: Template, opts: Options) -> None:
    """Push Messages API nodes next to Redis, behind their own load balancer.

    push-messages has no authentication: its load balancer is internal unless the
    operator names the one network allowed to reach it.
    """
    if opts.messages_api_public:
        clients = {"cidr": Ref("MessagesApiCidr")}
    else:
        clients = {"why": "An internal load balancer: only the VPC and networks routed to it."}
    t.add_resource(
        load_balancer_security_group(
            "MessagesApiLoadBalancerSecurityGroup", "Messages API", opts, **clients
        )
    )
    t.add_resource(
        node_security_group(
            "MessagesApiNodeSecurityGroup",
            "Messages API nodes: HTTP from their load balancer",
            [
                ingress(
                    MESSAGES_API_PORT,
                    "HTTP from the load balancer",
                    source="MessagesApiLoadBalancerSecurityGroup",
                )
            ],
            opts,
        )
    )
    t.add_resource(
        role(
            "MessagesApiRole",
            assume_role_policy("ec2.amazonaws.com"),
            "messages-api",
            # The boot script looks up Redis's address (push-messages itself cannot:
            # its botocore is too old for IMDSv2).
            [
                allow([ec_actions.DescribeReplicationGroups], [REDIS_GROUP_ARN]),
                *node_pull_statements(opts),
                *session_manager_statements(),
            ],
            managed=[PULL_POLICY],
        )
    )
    t.add_resource(
        iam.InstanceProfile("MessagesApiInstanceProfile", Roles=[Ref("MessagesApiRole")])
    )
    load_balancer(
        t,
        MESSAGES_API,
        opts,
        Ref("SubnetIds"),
        "MessagesApiLoadBalancerSecurityGroup",
        internal=not opts.messages_api_public,
    )
    dns_record(t, opts, "messages_api_hostname", "MessagesApiLoadBalancer")
    env = {"PORT": str(MESSAGES_API_PORT), "REDIS_HOST": "$REDIS_HOST", "REDIS_PORT": "$REDIS_PORT"}
    # The group id is known before Redis exists: the nodes boot while Redis is
    # created, and wait for its address within their signal timeout.
    script = user_data(
        MESSAGES_API,
        "",
        "${MessagesApiImage}",
        env,
        secret=False,
        variables={"RedisGroupId": REDIS_GROUP_ID},
        settings={"REDIS_GROUP_ID": "${RedisGroupId}", "MIRROR": MIRROR},
    )
    launch_template(
        t,
        MESSAGES_API,
        opts,
        ["MessagesApiNodeSecurityGroup"],
        script,
        "MessagesApiInstanceProfile",
        # A private subnet: its way out is a NAT gateway (or endpoints); a public address
        # would cost money and lead nowhere.
        public_ip=False,
    )
    auto_scaling_group(t, MESSAGES_API, [Ref("MessagesApiSubnetId")])
