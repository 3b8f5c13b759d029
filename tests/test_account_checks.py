"""The account reads of issue 15 in the cloud module: the vCPU quota (Service Quotas), the
AMI the public SSM parameter names today, the processor's failure queue depth (SQS), and
which nodes a change set replaces (a new AMI included). AWS's answers through botocore's
Stubber; the sandbox (moto's server) where it emulates the service."""

from __future__ import annotations

import dataclasses
import json
import uuid

import boto3
import pytest
from botocore.stub import Stubber
from variants import VARIANTS

from pushstack import processor_zip
from pushstack.cloud import Cloud, CloudError, Target, changesets, resolve_target
from pushstack.cloud.changes import kept_policies
from pushstack.cloud.preflight import (
    QUOTA_CODE,
    SANDBOX_QUOTA_NOTE,
    current_ami,
    vcpu_quota,
)
from pushstack.cloud.queues import failure_queue
from pushstack.template import AMI_PARAMETER, build_template

ACCOUNT = "123456789012"
QUOTA_ARN = f"arn:aws:servicequotas:us-east-1:{ACCOUNT}:ec2/{QUOTA_CODE}"


@pytest.fixture
def cloud():
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    # Calls the Stubber does not answer go to a closed local port, never to AWS.
    return Cloud(Target("aws", "us-east-1", ACCOUNT, "http://127.0.0.1:9", session))


@pytest.fixture(scope="module")
def sandbox(sandbox_server):
    return Cloud(resolve_target("sandbox", "us-east-1", sandbox_server.url))


def quota_reply(value: float) -> dict:
    """GetServiceQuota's answer, as AWS gives it for this quota."""
    return {
        "Quota": {
            "ServiceCode": "ec2",
            "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
            "QuotaArn": QUOTA_ARN,
            "QuotaCode": QUOTA_CODE,
            "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }
    }


# The vCPU quota.


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(1152.0, "enough"), (24.0, "enough"), (16.0, "desired"), (12.0, "desired"), (5.0, "short")],
)
def test_the_quota_is_compared_with_what_the_nodes_need(cloud, value, verdict):
    processor = VARIANTS["processor"]
    desired, maximum = processor.vcpus(), processor.vcpus("max_size")
    assert (desired, maximum) == (12, 24)
    with Stubber(cloud._client("service-quotas")) as quotas:
        quotas.add_response(
            "get_service_quota",
            quota_reply(value),
            {"ServiceCode": "ec2", "QuotaCode": QUOTA_CODE},
        )
        quota = vcpu_quota(cloud)
        quotas.assert_no_pending_responses()
    assert quota.vcpus == int(value) and quota.region == "us-east-1"
    assert quota.verdict(desired, maximum) == verdict
    assert quota.increase_command(maximum) == (
        "aws service-quotas request-service-quota-increase --service-code ec2 "
        f"--quota-code {QUOTA_CODE} --desired-value 24 --region us-east-1"
    )


def test_no_quota_value_or_no_access_is_a_message_not_a_number(cloud):
    with Stubber(cloud._client("service-quotas")) as quotas:
        quotas.add_client_error(
            "get_service_quota",
            "NoSuchResourceException",
            "The request failed because the specified service does not exist.",
            400,
        )
        with pytest.raises(CloudError) as missing:
            vcpu_quota(cloud)
        quotas.add_client_error(
            "get_service_quota",
            "AccessDeniedException",
            f"User: arn:aws:iam::{ACCOUNT}:user/ops is not authorized to perform: "
            f"servicequotas:GetServiceQuota on resource: {QUOTA_ARN}",
            400,
        )
        with pytest.raises(CloudError) as denied:
            vcpu_quota(cloud)
    assert missing.value.code == "NoSuchResourceException"
    assert f"Service Quotas has no value of the quota {QUOTA_CODE}" in missing.value.message
    assert "Service Quotas console" in missing.value.advice
    assert denied.value.code == "AccessDeniedException"
    assert "may not call servicequotas:GetServiceQuota" in denied.value.message


def test_the_sandbox_has_no_ec2_quota_and_says_so(sandbox):
    """moto 5.2.5 answers GetServiceQuota of ec2 with NoSuchResourceException (it knows VPC's
    quotas only): no number is made up. If moto learns it, this test says so."""
    quota = vcpu_quota(sandbox)
    assert quota.value is None and quota.vcpus is None
    assert quota.note == SANDBOX_QUOTA_NOTE
    assert quota.verdict(12, 24) == "unknown"


# Today's AMI.


def test_the_current_ami_is_what_a_launch_in_the_sandbox_resolves(sandbox):
    ami = current_ami(sandbox, AMI_PARAMETER)
    assert ami.ami_id.startswith("ami-") and ami.parameter == AMI_PARAMETER
    # moto resolves the template's LatestAmiId at create from the same parameter.
    region = sandbox.target.client("ssm").get_parameters(Names=[AMI_PARAMETER])
    assert ami.ami_id == region["Parameters"][0]["Value"]


def test_a_missing_ami_parameter_says_to_pin_one(cloud):
    with Stubber(cloud._client("ssm")) as ssm:
        ssm.add_response(
            "get_parameters",
            {"Parameters": [], "InvalidParameters": [AMI_PARAMETER]},
            {"Names": [AMI_PARAMETER]},
        )
        with pytest.raises(CloudError) as missing:
            current_ami(cloud, AMI_PARAMETER)
    assert f"The SSM parameter {AMI_PARAMETER} does not exist in us-east-1" in str(missing.value)
    assert "Pinned AMI" in missing.value.advice


# The processor's failure queue.


@pytest.fixture(scope="module")
def processor_stack(sandbox):
    network = sandbox.sandbox_network()
    suffix = uuid.uuid4().hex[:8]
    opts = dataclasses.replace(
        VARIANTS["processor"],
        region="us-east-1",
        stack_name=f"queue-{suffix}",
        table_prefix=f"autopush_{suffix}",
        vpc_id=network.vpc_id,
        subnet_ids=network.public_subnet_ids,
        private_subnet_ids=network.private_subnet_ids,
        messages_api_subnet_id=network.private_subnet_ids[0],
        private_route_table_ids=network.private_route_table_ids,
        processor_code_bucket="",
        processor_code_key=processor_zip.zip_key(),
    )
    sandbox.launch(opts, acknowledged=("CAPABILITY_IAM",), launch_id=f"queue-{suffix}")
    return opts.stack_name


def test_the_failure_queue_depth_counts_waiting_and_in_flight_events(sandbox, processor_stack):
    url = sandbox.stack_outputs(processor_stack)["ProcessorFailureQueueURL"]
    queue = failure_queue(sandbox, url)
    assert (queue.depth, queue.waiting, queue.in_flight) == (0, 0, 0)
    assert queue.retention_days == 14  # the template's, read from the queue
    sqs = sandbox.target.client("sqs")
    for number in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestPayload": number}))
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600)
    queue = failure_queue(sandbox, url)
    assert (queue.depth, queue.waiting, queue.in_flight) == (3, 2, 1)
    assert queue.as_dict() == {
        "url": url,
        "depth": 3,
        "waiting": 2,
        "in_flight": 1,
        "retention_days": 14,
    }


def test_a_deleted_failure_queue_is_said_in_words(sandbox):
    sqs = sandbox.target.client("sqs")
    url = sqs.create_queue(QueueName=f"gone-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(CloudError) as gone:
        failure_queue(sandbox, url)
    assert gone.value.code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
    assert "does not exist any more: it was deleted outside the stack" in gone.value.message
    assert "on-failure destination" in gone.value.advice


def test_a_failure_queue_that_may_not_be_read_names_the_action(cloud):
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/push-ProcessorFailureQueue-X"
    with Stubber(cloud._client("sqs")) as sqs:
        sqs.add_client_error(
            "get_queue_attributes",
            "AccessDenied",
            f"User: arn:aws:iam::{ACCOUNT}:user/ops is not authorized to perform: "
            "sqs:getqueueattributes on resource: arn:aws:sqs:us-east-1:123456789012:x",
            403,
        )
        with pytest.raises(CloudError) as denied:
            failure_queue(cloud, url)
        sqs.add_client_error(
            "get_queue_attributes",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
            400,
        )
        with pytest.raises(CloudError) as gone:
            failure_queue(cloud, url)
    assert "Access denied" in denied.value.message
    assert "sqs:getqueueattributes" in denied.value.message
    assert "push-ProcessorFailureQueue-X does not exist any more" in gone.value.message


# Which nodes a change set replaces.

STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/push/0b9c8a70"
CHANGE_SET = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/pushstack-1/abc"
OLD_AMI, NEW_AMI = "ami-0aaaaaaaaaaaaaaaa", "ami-0bbbbbbbbbbbbbbbb"


def _template(**changes) -> dict:
    return build_template(dataclasses.replace(VARIANTS["none"], **changes)).to_dict()


def _parameters(template: dict, **values) -> list[dict]:
    """Every parameter of the template as DescribeStacks lists them: AWS gives an
    SSM-typed one's name as its value, and the AMI it resolved as ResolvedValue."""
    listed = []
    for key, spec in template["Parameters"].items():
        value = values.get(key, spec.get("Default", "x"))
        entry = {"ParameterKey": key, "ParameterValue": str(value)}
        if key == "LatestAmiId":
            entry["ResolvedValue"] = values.get("resolved", OLD_AMI)
        listed.append(entry)
    return listed


def _aws_ami_changes() -> list[dict]:
    """What AWS lists when only the resolved AMI changed: each launch template, from the
    parameter, and each group, from the launch template's new version."""
    listed = []
    for group in ("Connection", "Endpoint"):
        listed.append(
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": f"{group}LaunchTemplate",
                    "PhysicalResourceId": f"lt-0{group.lower()[:4]}",
                    "ResourceType": "AWS::EC2::LaunchTemplate",
                    "Replacement": "False",
                    "Scope": ["Properties"],
                    "Details": [
                        {
                            "Target": {
                                "Attribute": "Properties",
                                "Name": "LaunchTemplateData",
                                "RequiresRecreation": "Never",
                            },
                            "Evaluation": "Static",
                            "ChangeSource": "ParameterReference",
                            "CausingEntity": "LatestAmiId",
                        }
                    ],
                },
            }
        )
        listed.append(
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": f"{group}Nodes",
                    "PhysicalResourceId": f"push-{group}Nodes-X",
                    "ResourceType": "AWS::AutoScaling::AutoScalingGroup",
                    "Replacement": "False",
                    "Scope": ["Properties"],
                    "Details": [
                        {
                            "Target": {
                                "Attribute": "Properties",
                                "Name": "LaunchTemplate",
                                "RequiresRecreation": "Never",
                            },
                            "Evaluation": "Dynamic",
                            "ChangeSource": "ResourceAttribute",
                            "CausingEntity": f"{group}LaunchTemplate.LatestVersionNumber",
                        }
                    ],
                },
            }
        )
    return listed


def _describe_change_set(
    old: dict, new: dict, changes: list[dict], today: str, new_values=None, **values
):
    """Cloud's reads of a change set after its ownership check, stubbed: the stack, its
    template, the change set's template, and the AMI parameter today."""
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    ssm = boto3.client("ssm", region_name="us-east-1")
    cfn_stub, ssm_stub = Stubber(cfn), Stubber(ssm)
    stack = {
        "StackName": "push",
        "StackId": STACK,
        "CreationTime": "2026-11-27T12:00:00Z",
        "StackStatus": "UPDATE_COMPLETE",
        "Parameters": _parameters(old, **values),
    }
    cfn_stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})
    cfn_stub.add_response("get_template", {"TemplateBody": json.dumps(old)})
    cfn_stub.add_response("get_template", {"TemplateBody": json.dumps(new)})
    if today:
        ssm_stub.add_response(
            "get_parameters",
            {"Parameters": [{"Name": AMI_PARAMETER, "Type": "String", "Value": today}]},
            {"Names": [AMI_PARAMETER]},
        )
    else:
        ssm_stub.add_client_error(
            "get_parameters",
            "AccessDeniedException",
            f"User: arn:aws:iam::{ACCOUNT}:user/ops is not authorized to perform: "
            "ssm:GetParameters on resource: arn:aws:ssm:us-east-1::parameter/aws/service/x",
            400,
        )
    clients = {"cloudformation": cfn, "ssm": ssm}
    cloud = Cloud(
        Target(
            "aws",
            "us-east-1",
            ACCOUNT,
            "http://127.0.0.1:9",
            boto3.Session(aws_access_key_id="t", aws_secret_access_key="t"),
        )
    )
    cloud._clients.update(clients)
    reply = {
        "ChangeSetId": CHANGE_SET,
        "StackId": STACK,
        "StackName": "push",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Parameters": _parameters(new, **{**values, **(new_values or {})}),
        "Changes": changes,
    }
    with cfn_stub, ssm_stub:
        view = changesets.describe(cloud._call, reply, "us-east-1", kept_policies(old))
        cfn_stub.assert_no_pending_responses()
        ssm_stub.assert_no_pending_responses()
    return view


def test_a_new_ami_replaces_every_node_even_when_nothing_else_changes():
    template = _template()
    view = _describe_change_set(template, template, _aws_ami_changes(), NEW_AMI)
    rollout = view.rollout
    assert rollout.ami.new and (rollout.ami.deployed, rollout.ami.current) == (OLD_AMI, NEW_AMI)
    assert rollout.ami.ssm_name == AMI_PARAMETER
    assert [group.logical_id for group in rollout.replaced] == ["ConnectionNodes", "EndpointNodes"]
    connection = rollout.replaced[0]
    assert connection.reasons == (f"a new AMI: {OLD_AMI} → {NEW_AMI}",)
    assert connection.clients and connection.batch == 1
    assert rollout.drops_connections
    # The parameter's value (the SSM name) is the same: no parameter change is listed.
    assert not view.changed_parameters


def test_a_new_ami_is_named_even_when_aws_lists_only_another_change():
    """An update of the desired capacity only, after Amazon published a new AMI."""
    old = _template()
    capacity = {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": "ConnectionNodes",
            "ResourceType": "AWS::AutoScaling::AutoScalingGroup",
            "Replacement": "False",
            "Details": [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "DesiredCapacity",
                        "RequiresRecreation": "Never",
                    },
                    "Evaluation": "Static",
                    "ChangeSource": "ParameterReference",
                    "CausingEntity": "ConnectionDesiredCapacity",
                }
            ],
        },
    }
    view = _describe_change_set(
        old, old, [capacity], NEW_AMI, new_values={"ConnectionDesiredCapacity": "3"}
    )
    replaced = {group.logical_id: group.reasons for group in view.rollout.replaced}
    assert replaced == {
        "ConnectionNodes": (f"a new AMI: {OLD_AMI} → {NEW_AMI}",),
        "EndpointNodes": (f"a new AMI: {OLD_AMI} → {NEW_AMI}",),
    }


def test_the_same_ami_and_a_new_instance_type_replace_only_that_group():
    template = _template()
    same = _describe_change_set(template, template, [], OLD_AMI)
    assert same.rollout.groups == () and not same.rollout.ami.new  # nothing changes
    assert same.rollout.ami.deployed == OLD_AMI
    bigger = _describe_change_set(
        template,
        template,
        [],
        OLD_AMI,
        new_values={"ConnectionInstanceType": "m5.large"},
        ConnectionInstanceType="t3.small",
    )
    (group,) = bigger.rollout.groups
    assert group.logical_id == "ConnectionNodes" and group.replaced
    assert group.reasons == ("the instance type (t3.small → m5.large)",)
    assert bigger.rollout.drops_connections
    fewer = _describe_change_set(
        template,
        template,
        [],
        OLD_AMI,
        new_values={"EndpointDesiredCapacity": "1"},
        EndpointDesiredCapacity="3",
    )
    (group,) = fewer.rollout.groups
    assert (group.logical_id, group.replaced, group.fewer) == ("EndpointNodes", False, 2)
    assert not fewer.rollout.drops_connections  # endpoint nodes hold no connection


def test_pinning_the_ami_the_nodes_run_replaces_none_and_another_replaces_all():
    old = _template()
    pinned = _template(ami_id=OLD_AMI)

    def pin(ami: str):
        cfn = boto3.client("cloudformation", region_name="us-east-1")
        stub = Stubber(cfn)
        stack = {
            "StackName": "push",
            "StackId": STACK,
            "CreationTime": "2026-11-27T12:00:00Z",
            "StackStatus": "CREATE_COMPLETE",
            "Parameters": _parameters(old),
        }
        stub.add_response("describe_stacks", {"Stacks": [stack]})
        stub.add_response("get_template", {"TemplateBody": json.dumps(old)})
        stub.add_response("get_template", {"TemplateBody": json.dumps(pinned)})
        reply = {
            "ChangeSetId": CHANGE_SET,
            "StackId": STACK,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Parameters": _parameters(pinned, AmiId=ami),
            "Changes": [],
        }

        def call(service, operation, **kwargs):
            assert service == "cloudformation"  # a pinned AMI needs no SSM read
            return getattr(cfn, operation)(**kwargs)

        with stub:
            return changesets.describe(call, reply, "us-east-1", kept_policies(old))

    # The AMI the stack resolved (ResolvedValue), pinned: the launch templates stay as they are.
    assert pin(OLD_AMI).rollout.groups == ()
    moved = pin(NEW_AMI).rollout
    assert moved.ami is None
    assert {group.logical_id: group.reasons for group in moved.replaced} == {
        "ConnectionNodes": (f"the AMI (ImageId): {OLD_AMI} → {NEW_AMI}",),
        "EndpointNodes": (f"the AMI (ImageId): {OLD_AMI} → {NEW_AMI}",),
    }


def test_an_ami_that_cannot_be_checked_leaves_the_rest_and_says_so():
    old = _template()
    view = _describe_change_set(old, old, [], "", new_values={"ConnectionInstanceType": "m5.large"})
    assert view.rollout.ami is None
    assert [group.logical_id for group in view.rollout.replaced] == ["ConnectionNodes"]
    assert "could not be checked: Access denied" in view.rollout.problem
    assert "ssm:GetParameters" in view.rollout.problem
    assert view.problem == ""  # the diff itself is whole


def test_a_launch_template_aws_lists_without_details_still_rolls_its_group():
    from pushstack.cloud import rollout
    from pushstack.cloud.views import Change

    template = _template()
    listed = (
        Change("Modify", "EndpointLaunchTemplate", "AWS::EC2::LaunchTemplate", "False"),
        Change("Add", "MessagesApiNodes", "AWS::AutoScaling::AutoScalingGroup"),
    )
    (group,) = rollout.groups(listed, template)
    assert group.logical_id == "EndpointNodes" and group.replaced and not group.clients
    assert group.reasons == ("its launch template, which the change set lists as modified",)
    replaced = Change("Modify", "ConnectionNodes", "AWS::AutoScaling::AutoScalingGroup", "True")
    (group,) = rollout.groups((replaced,), template)
    assert group.reasons == ("the group itself is replaced by a new one",) and group.clients


def test_following_the_public_ami_again_names_the_ami_the_nodes_move_to():
    pinned, following = _template(ami_id=OLD_AMI), _template()
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    ssm = boto3.client("ssm", region_name="us-east-1")
    with Stubber(cfn) as cfn_stub, Stubber(ssm) as ssm_stub:
        stack = {
            "StackName": "push",
            "StackId": STACK,
            "CreationTime": "2026-11-27T12:00:00Z",
            "StackStatus": "CREATE_COMPLETE",
            "Parameters": _parameters(pinned, AmiId=OLD_AMI),
        }
        cfn_stub.add_response("describe_stacks", {"Stacks": [stack]})
        cfn_stub.add_response("get_template", {"TemplateBody": json.dumps(pinned)})
        cfn_stub.add_response("get_template", {"TemplateBody": json.dumps(following)})
        ssm_stub.add_response(
            "get_parameters",
            {"Parameters": [{"Name": AMI_PARAMETER, "Type": "String", "Value": NEW_AMI}]},
            {"Names": [AMI_PARAMETER]},
        )
        reply = {
            "ChangeSetId": CHANGE_SET,
            "StackId": STACK,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Parameters": [p for p in _parameters(following) if p["ParameterKey"] != "LatestAmiId"]
            + [{"ParameterKey": "LatestAmiId", "ParameterValue": AMI_PARAMETER}],
            "Changes": [],
        }
        clients = {"cloudformation": cfn, "ssm": ssm}

        def call(service, operation, **kwargs):
            return getattr(clients[service], operation)(**kwargs)

        view = changesets.describe(call, reply, "us-east-1", kept_policies(pinned))
        ssm_stub.assert_no_pending_responses()
    rollout = view.rollout
    assert rollout.ami.deployed == "" and not rollout.ami.new
    reason = f"the AMI (ImageId): {OLD_AMI} → {NEW_AMI} (what {AMI_PARAMETER} names today)"
    assert {group.logical_id: group.reasons for group in rollout.replaced} == {
        "ConnectionNodes": (reason,),
        "EndpointNodes": (reason,),
    }
