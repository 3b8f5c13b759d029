"""Watching a stack: event sequences as CloudFormation returns them (newest first,
through botocore's Stubber) read into progress a user can follow."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from pushstack.cloud import Cloud, Target
from pushstack.cloud import events as ev

STACK = "push"
STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/push/0b9c8a70-0000-11ef-9c1a-0a1b2c3d4e5f"
)
T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {
    "Resources": {
        "RouterTable": {"Type": "AWS::DynamoDB::Table"},
        "NodeRole": {"Type": "AWS::IAM::Role"},
        "LoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"},
        "NodeSecurityGroup": {"Type": "AWS::EC2::SecurityGroup"},
        "SshRule": {"Type": "AWS::EC2::SecurityGroupIngress", "Condition": "WithSsh"},
    },
    "Parameters": {"KeyName": {"Type": "String", "Default": ""}},
    "Conditions": {"WithSsh": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeyName"}, ""]}]}},
}
TYPES = {name: spec["Type"] for name, spec in TEMPLATE["Resources"].items()}


def event(second: int, logical_id: str, status: str, reason: str = "") -> dict:
    """One DescribeStackEvents entry, shaped as AWS returns it."""
    is_stack = logical_id == STACK
    item = {
        "StackId": STACK_ID,
        "EventId": f"{logical_id}-{status}-{second}" if not is_stack else f"e-{second:04d}",
        "StackName": STACK,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": STACK_ID if is_stack else f"{logical_id.lower()}-1",
        "ResourceType": "AWS::CloudFormation::Stack" if is_stack else TYPES[logical_id],
        "Timestamp": T0 + timedelta(seconds=second),
        "ResourceStatus": status,
    }
    if reason:
        item["ResourceStatusReason"] = reason
    return item


# A successful create, oldest first.
CREATE = [
    event(0, STACK, "CREATE_IN_PROGRESS", "User Initiated"),
    event(2, "RouterTable", "CREATE_IN_PROGRESS"),
    event(3, "NodeRole", "CREATE_IN_PROGRESS"),
    event(4, "NodeSecurityGroup", "CREATE_IN_PROGRESS"),
    event(5, "RouterTable", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
    event(9, "NodeSecurityGroup", "CREATE_COMPLETE"),
    event(12, "RouterTable", "CREATE_COMPLETE"),
    event(20, "NodeRole", "CREATE_COMPLETE"),
    event(21, "LoadBalancer", "CREATE_IN_PROGRESS"),
    event(200, "LoadBalancer", "CREATE_COMPLETE"),
    event(201, STACK, "CREATE_COMPLETE"),
]
LB_REASON = (
    'Resource handler returned message: "At least two subnets in two different Availability '
    "Zones must be specified (Service: ElasticLoadBalancingV2, Status Code: 400, "
    'Request ID: 6a1b...)" (RequestToken: 3f0c..., HandlerErrorCode: InvalidRequest)'
)
# A failure: the load balancer fails, the role is cancelled, the stack rolls back.
FAILED_CREATE = [
    event(0, STACK, "CREATE_IN_PROGRESS", "User Initiated"),
    event(2, "RouterTable", "CREATE_IN_PROGRESS"),
    event(3, "NodeRole", "CREATE_IN_PROGRESS"),
    event(4, "LoadBalancer", "CREATE_IN_PROGRESS"),
    event(12, "RouterTable", "CREATE_COMPLETE"),
    # Same second: CloudFormation may list the cancellation first.
    event(14, "NodeRole", "CREATE_FAILED", "Resource creation cancelled"),
    event(14, "LoadBalancer", "CREATE_FAILED", LB_REASON),
    event(
        16,
        STACK,
        "ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [NodeRole, LoadBalancer]. "
        "Rollback requested by user.",
    ),
    event(18, "LoadBalancer", "DELETE_COMPLETE"),
    event(20, "NodeRole", "DELETE_COMPLETE"),
    event(21, "RouterTable", "DELETE_SKIPPED"),
    event(22, STACK, "ROLLBACK_COMPLETE"),
]
SG_REASON = (
    "resource sg-0a1b2c3d4e5f60718 has a dependent object (Service: Ec2, Status Code: 400, "
    "Request ID: 9d2e...)"
)
# A delete blocked by network interfaces the processor Lambda left in the security group.
BLOCKED_DELETE = [
    *CREATE,
    event(300, STACK, "DELETE_IN_PROGRESS", "User Initiated"),
    event(302, "LoadBalancer", "DELETE_IN_PROGRESS"),
    event(330, "LoadBalancer", "DELETE_COMPLETE"),
    event(331, "NodeRole", "DELETE_IN_PROGRESS"),
    event(332, "NodeRole", "DELETE_COMPLETE"),
    event(333, "RouterTable", "DELETE_SKIPPED"),
    event(334, "NodeSecurityGroup", "DELETE_IN_PROGRESS"),
    event(1250, "NodeSecurityGroup", "DELETE_FAILED", SG_REASON),
    event(
        1251,
        STACK,
        "DELETE_FAILED",
        "The following resource(s) failed to delete: [NodeSecurityGroup]. ",
    ),
]


def stack_reply(status: str, reason: str = "", outputs: dict | None = None) -> dict:
    stack = {
        "StackName": STACK,
        "StackId": STACK_ID,
        "CreationTime": T0,
        "StackStatus": status,
        "Parameters": [{"ParameterKey": "KeyName", "ParameterValue": ""}],
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in (outputs or {}).items()],
        "Tags": [{"Key": "pushstack:launched-by", "Value": "pushstack"}],
    }
    if reason:
        stack["StackStatusReason"] = reason
    return {"Stacks": [stack]}


def events_reply(events: list[dict]) -> dict:
    return {"StackEvents": list(reversed(events))}


@pytest.fixture
def cloud():
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return Cloud(Target("aws", "us-east-1", "123456789012", None, session))


@pytest.fixture
def stub(cloud):
    with Stubber(cloud._client("cloudformation")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_poll(stub, status, events, *, reason="", outputs=None, template=True):
    stub.add_response("describe_stacks", stack_reply(status, reason, outputs), {"StackName": STACK})
    stub.add_response("describe_stack_events", events_reply(events), {"StackName": STACK_ID})
    if template:
        stub.add_response(
            "get_template", {"TemplateBody": json.dumps(TEMPLATE)}, {"StackName": STACK_ID}
        )


def test_a_successful_create_counts_up_to_every_resource(cloud, stub):
    expect_poll(stub, "CREATE_IN_PROGRESS", CREATE[:6])
    first = cloud.progress(STACK)
    # SshRule's condition is false (no key pair): four resources, one done so far.
    assert (first.done, first.total, first.finished) == (1, 4, False)
    assert first.failure is None

    outputs = {"WebSocketURL": "ws://push-1.elb.amazonaws.com"}
    # Only the newest page is read: it reaches back to the newest event already seen
    # (the older page is not stubbed, so reading it would fail the test).
    newest_page = events_reply(CREATE[5:])
    stub.add_response("describe_stack_events", {**newest_page, "NextToken": "older"})
    # The stack's own CREATE_COMPLETE is among them: described again, for its outputs.
    stub.add_response("describe_stacks", stack_reply("CREATE_COMPLETE", outputs=outputs))
    last = cloud.progress(STACK)
    assert (last.done, last.total, last.finished) == (4, 4, True)
    assert last.status == "CREATE_COMPLETE"
    assert last.outputs == outputs
    # Every event once, oldest first, though the second poll re-read the first ones.
    assert [e.event_id for e in last.events] == [item["EventId"] for item in CREATE]
    assert last.as_dict()["events"][0]["status"] == "CREATE_IN_PROGRESS"


def test_while_an_operation_runs_a_poll_costs_one_events_call(cloud, stub):
    """However long a create runs, each poll reads only the new events (one call); the
    stack is described again when its own events say it moved: here, at the end."""
    expect_poll(stub, "CREATE_IN_PROGRESS", CREATE[:6])
    assert cloud.progress(STACK).done == 1
    for polls in range(3):  # nothing new, then two resources done: events only
        page = CREATE[5:6] if polls < 2 else CREATE[5:8]
        stub.add_response("describe_stack_events", events_reply(page), {"StackName": STACK_ID})
        middle = cloud.progress(STACK)
        assert middle.status == "CREATE_IN_PROGRESS" and not middle.finished
    assert middle.done == 3
    stub.add_response("describe_stack_events", events_reply(CREATE[7:]), {"StackName": STACK_ID})
    outputs = {"EndpointURL": "http://updates-1.elb.amazonaws.com"}
    stub.add_response(
        "describe_stacks", stack_reply("CREATE_COMPLETE", outputs=outputs), {"StackName": STACK}
    )
    last = cloud.progress(STACK)
    assert (last.status, last.done, last.finished, last.outputs) == (
        "CREATE_COMPLETE",
        4,
        True,
        outputs,
    )
    # Ended: the next poll asks for the stack's status first again.
    expect_poll(stub, "CREATE_COMPLETE", CREATE, template=False)
    assert cloud.progress(STACK).finished


def test_a_process_given_anothers_progress_reads_only_what_is_new(cloud, stub):
    """Worker processes share progress (webapp.shared_progress): the one asking AWS this
    time takes the last answer as read, so it makes one events call, not a DescribeStacks,
    the whole event log and GetTemplate of its own."""
    expect_poll(stub, "CREATE_IN_PROGRESS", CREATE[:6])
    first = cloud.progress(STACK)
    other = another_process()
    with Stubber(other._client("cloudformation")) as stubber:
        stubber.add_response(
            "describe_stack_events", events_reply(CREATE[5:8]), {"StackName": STACK_ID}
        )
        later = other.progress(STACK, previous=first)
        stubber.assert_no_pending_responses()
    assert (later.done, later.total, later.finished) == (3, 4, False)
    assert [e.event_id for e in later.events] == [item["EventId"] for item in CREATE[:8]]
    # An ended answer is no head start: that process asks for the stack itself.
    third = another_process()
    with Stubber(third._client("cloudformation")) as stubber:
        expect_poll(stubber, "CREATE_IN_PROGRESS", CREATE[:8])
        third.progress(STACK, previous=dataclasses.replace(later, finished=True))
        stubber.assert_no_pending_responses()


def another_process() -> Cloud:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return Cloud(Target("aws", "us-east-1", "123456789012", None, session))


def test_a_failure_names_the_resource_that_failed_not_the_cancelled_ones(cloud, stub):
    expect_poll(stub, "ROLLBACK_COMPLETE", FAILED_CREATE)
    progress = cloud.progress(STACK)
    assert progress.finished
    assert progress.failure.resource == "LoadBalancer"
    assert "two different Availability Zones" in progress.failure.reason
    assert progress.done < progress.total
    assert progress.as_dict()["failure"] == {"resource": "LoadBalancer", "reason": LB_REASON}


def test_a_failure_seen_while_rolling_back_is_already_the_first_one(cloud, stub):
    expect_poll(stub, "ROLLBACK_IN_PROGRESS", FAILED_CREATE[:8])
    progress = cloud.progress(STACK)
    assert not progress.finished
    assert progress.failure.resource == "LoadBalancer"


def test_a_blocked_delete_shows_only_the_delete_and_what_blocks_it(cloud, stub, monkeypatch):
    expect_poll(stub, "DELETE_FAILED", BLOCKED_DELETE, reason="The following resource(s) ...")
    progress = cloud.progress(STACK)
    assert progress.events[0].status == "DELETE_IN_PROGRESS"  # the create is a past operation
    assert len(progress.events) == len(BLOCKED_DELETE) - len(CREATE)
    assert progress.failure.resource == "NodeSecurityGroup"
    assert "dependent object" in progress.failure.reason
    assert progress.blocking == ("NodeSecurityGroup",)
    assert progress.finished

    # Retrying the delete may retain what blocked it.
    stub.add_response("describe_stacks", stack_reply("DELETE_FAILED"), {"StackName": STACK})
    stub.add_response(
        "delete_stack", {}, {"StackName": STACK_ID, "RetainResources": ["NodeSecurityGroup"]}
    )
    cloud.delete(STACK, retain=progress.blocking)


def test_a_new_operation_starts_a_new_event_log(cloud, stub):
    expect_poll(stub, "CREATE_COMPLETE", CREATE)
    assert len(cloud.progress(STACK).events) == len(CREATE)
    update = [
        *CREATE,
        event(400, STACK, "UPDATE_IN_PROGRESS", "User Initiated"),
        event(401, "NodeRole", "UPDATE_IN_PROGRESS"),
    ]
    expect_poll(stub, "UPDATE_IN_PROGRESS", update, template=False)
    progress = cloud.progress(STACK)
    assert [e.status for e in progress.events] == ["UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"]
    assert not progress.finished


def test_a_continued_rollback_is_its_own_operation():
    events = [
        ev.event_from_api(item)
        for item in [
            event(0, STACK, "UPDATE_IN_PROGRESS", "User Initiated"),
            event(5, "NodeRole", "UPDATE_FAILED", "Access denied"),
            event(6, STACK, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed"),
            event(9, "NodeRole", "UPDATE_FAILED", "Role is in use"),
            event(10, STACK, "UPDATE_ROLLBACK_FAILED", "The following resource(s) failed"),
            event(60, STACK, "UPDATE_ROLLBACK_IN_PROGRESS", "Continue rollback requested"),
            event(61, "NodeRole", "UPDATE_COMPLETE"),
        ]
    ]
    assert [e.logical_id for e in ev.current_operation(events)] == [STACK, "NodeRole"]
    # Until the rollback is continued, the failed update is the current operation.
    assert ev.current_operation(events[:5])[0].status == "UPDATE_IN_PROGRESS"
    assert ev.failure(ev.current_operation(events[:5])).reason == "Access denied"


def test_only_stack_level_reasons_still_give_a_failure():
    events = [
        ev.event_from_api(event(0, STACK, "CREATE_IN_PROGRESS", "User Initiated")),
        ev.event_from_api(event(3, STACK, "CREATE_FAILED", "Template error: unresolved Ref")),
    ]
    assert ev.failure(events) == ev.Failure(STACK, "Template error: unresolved Ref")


def test_an_operation_the_sandbox_abandoned_is_shown_as_ended():
    """The sandbox finishes operations at once; one left in progress will never end."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    sandbox = Cloud(Target("sandbox", "us-east-1", "123456789012", "http://127.0.0.1:9", session))
    with Stubber(sandbox._client("cloudformation")) as stub:
        expect_poll(stub, "CREATE_IN_PROGRESS", CREATE[:1])  # started long ago (T0)
        progress = sandbox.progress(STACK)
    assert progress.finished
    assert "sandbox stopped half-way" in progress.failure.reason


def test_a_long_operation_in_aws_is_still_watched(cloud, stub):
    expect_poll(stub, "CREATE_IN_PROGRESS", CREATE[:1])  # started long ago (T0)
    progress = cloud.progress(STACK)
    assert not progress.finished and progress.failure is None
