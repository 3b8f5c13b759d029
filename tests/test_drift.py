"""Drift detection through botocore's Stubber (moto 5.2.5 does not emulate it), and its pages."""

import html
import json
import re
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from test_cloud_errors import NOWHERE
from variants import VARIANTS

from pushstack import render
from pushstack.cloud import Cloud, Target
from pushstack.cloud.ownership import CHANGE_SET_DESCRIPTION, CHANGE_SET_PREFIX
from pushstack.template import build_template
from webapp import create_app

ACCOUNT = "123456789012"
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/push-prod/5d6a3c10-9a1f-11ef-8c2e-0a1b2c3d4e5f"
DETECTION_ID = "b78ac9b0-dec1-11e7-a451-503a3e2e4e6a"
CHECKED = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
TEMPLATE = render.to_dict(build_template(VARIANTS["none"]))


def stack_reply(drift_status="DRIFTED"):
    stack = {
        "StackId": STACK_ID,
        "StackName": "push-prod",
        "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
        "StackStatus": "UPDATE_COMPLETE",
        "Parameters": [
            {"ParameterKey": "ConnectionInstanceType", "ParameterValue": "t3.small"},
            {"ParameterKey": "CryptoKey", "ParameterValue": "****"},
        ],
        "Tags": [{"Key": "pushstack:launched-by", "Value": "pushstack"}],
    }
    if drift_status:
        stack["DriftInformation"] = {
            "StackDriftStatus": drift_status,
            "LastCheckTimestamp": CHECKED,
        }
    return {"Stacks": [stack]}


# As DescribeStackResourceDrifts answers: property values as JSON text.
RESOURCE_DRIFTS = {
    "StackResourceDrifts": [
        {
            "StackId": STACK_ID,
            "LogicalResourceId": "ConnectionNodes",
            "PhysicalResourceId": "push-prod-ConnectionNodes-1A2B3C4D5E6F",
            "ResourceType": "AWS::AutoScaling::AutoScalingGroup",
            "ExpectedProperties": json.dumps({"MaxSize": "4", "MinSize": "1"}),
            "ActualProperties": json.dumps({"MaxSize": "10", "MinSize": "1"}),
            "PropertyDifferences": [
                {
                    "PropertyPath": "/MaxSize",
                    "ExpectedValue": "4",
                    "ActualValue": "10",
                    "DifferenceType": "NOT_EQUAL",
                }
            ],
            "StackResourceDriftStatus": "MODIFIED",
            "Timestamp": CHECKED,
        },
        {
            "StackId": STACK_ID,
            "LogicalResourceId": "ConnectionNodeSecurityGroup",
            "PhysicalResourceId": "sg-0f1e2d3c4b5a69788",
            "ResourceType": "AWS::EC2::SecurityGroup",
            "PropertyDifferences": [
                {
                    "PropertyPath": "/SecurityGroupIngress/2",
                    "ExpectedValue": "null",
                    "ActualValue": json.dumps(
                        {"CidrIp": "0.0.0.0/0", "FromPort": 22, "IpProtocol": "tcp", "ToPort": 22}
                    ),
                    "DifferenceType": "ADD",
                }
            ],
            "StackResourceDriftStatus": "MODIFIED",
            "Timestamp": CHECKED,
        },
        {
            "StackId": STACK_ID,
            "LogicalResourceId": "CryptoKeySecret",
            "PhysicalResourceId": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:push-prod-key-AbCdEf",
            "ResourceType": "AWS::SecretsManager::Secret",
            "StackResourceDriftStatus": "DELETED",
            "Timestamp": CHECKED,
        },
    ]
}


@pytest.fixture
def cloud():
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return Cloud(Target("aws", "us-east-1", ACCOUNT, NOWHERE, session))


@pytest.fixture
def cfn(cloud):
    with Stubber(cloud._client("cloudformation")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_detect_drift_starts_a_detection_of_the_named_stack(cloud, cfn):
    cfn.add_response("describe_stacks", stack_reply(None), {"StackName": "push-prod"})
    cfn.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": DETECTION_ID}, {"StackName": "push-prod"}
    )
    assert cloud.detect_drift("push-prod") == DETECTION_ID


def test_a_running_detection_is_pending_and_lists_nothing_yet(cloud, cfn):
    cfn.add_response(
        "describe_stack_drift_detection_status",
        {
            "StackId": STACK_ID,
            "StackDriftDetectionId": DETECTION_ID,
            "DetectionStatus": "DETECTION_IN_PROGRESS",
            "Timestamp": CHECKED,
        },
        {"StackDriftDetectionId": DETECTION_ID},
    )
    view = cloud.drift("push-prod", DETECTION_ID)
    assert view.pending and not view.drifted and view.resources == ()


def test_a_drifted_stack_lists_expected_and_actual_values_in_words(cloud, cfn):
    cfn.add_response(
        "describe_stack_drift_detection_status",
        {
            "StackId": STACK_ID,
            "StackDriftDetectionId": DETECTION_ID,
            "StackDriftStatus": "DRIFTED",
            "DetectionStatus": "DETECTION_COMPLETE",
            "DriftedStackResourceCount": 3,
            "Timestamp": CHECKED,
        },
        {"StackDriftDetectionId": DETECTION_ID},
    )
    cfn.add_response(
        "describe_stack_resource_drifts",
        RESOURCE_DRIFTS,
        {"StackName": "push-prod", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    view = cloud.drift("push-prod", DETECTION_ID)
    assert view.drifted and view.drifted_count == 3
    by_id = {resource.logical_id: resource for resource in view.resources}
    assert by_id["ConnectionNodes"].properties[0].words == "MaxSize is 10; the template sets 4"
    assert by_id["ConnectionNodeSecurityGroup"].properties[0].words == (
        'SecurityGroupIngress › 2 was added outside pushstack: {"CidrIp": "0.0.0.0/0", '
        '"FromPort": 22, "IpProtocol": "tcp", "ToPort": 22}'
    )
    assert by_id["CryptoKeySecret"].words == "deleted outside pushstack"


def test_the_last_known_drift_comes_from_the_stack_description(cloud, cfn):
    cfn.add_response("describe_stacks", stack_reply("DRIFTED"), {"StackName": "push-prod"})
    cfn.add_response(
        "describe_stack_resource_drifts",
        RESOURCE_DRIFTS,
        {"StackName": "push-prod", "StackResourceDriftStatusFilters": ANY},
    )
    view = cloud.last_drift("push-prod")
    assert view.drifted and view.checked_at == CHECKED and len(view.resources) == 3


def test_a_stack_never_checked_has_no_last_drift(cloud, cfn):
    cfn.add_response("describe_stacks", stack_reply("NOT_CHECKED"), {"StackName": "push-prod"})
    assert cloud.last_drift("push-prod") is None


def test_the_sandbox_says_it_does_not_detect_drift_and_makes_no_call():
    sandbox = Cloud(Target("sandbox", "us-east-1", ACCOUNT, NOWHERE, boto3.Session()))
    assert not sandbox.drift_detectable
    assert sandbox.last_drift("push-prod") is None  # no call: NOWHERE would fail it


# The pages, with the wizard's cloud answering through the same Stubber.


class StubbedAccess:
    def __init__(self, cloud):
        self._cloud = cloud
        self._owned = {}

    def cloud(self, region=None):
        return self._cloud

    def target(self):
        return self._cloud.target

    def owned(self, name, region=None):
        """The web guard's ownership check: answered once per stack from the same Stubber's
        queue (the ``client`` fixture queues the reply) and kept, as the wizard caches it;
        tests/test_ownership.py tests the refusal."""
        if name not in self._owned:
            self._owned[name] = self._cloud.owned(name)
        return self._owned[name]

    def changed(self, name, region=None):
        pass


@pytest.fixture
def client(cloud, cfn, monkeypatch):
    import webapp.drift
    import webapp.stacks

    access = StubbedAccess(cloud)
    # The first request's ownership check (the web guard, before any view) reads the stack.
    cfn.add_response("describe_stacks", stack_reply(None), {"StackName": "push-prod"})
    monkeypatch.setattr(webapp.drift, "get_access", lambda: access)
    monkeypatch.setattr(webapp.stacks, "get_access", lambda: access)
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "drift"})
    return app.test_client()


def words(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_the_check_button_posts_then_the_page_shows_what_drifted(client, cfn):
    cfn.add_response("describe_stacks", stack_reply(None), {"StackName": "push-prod"})
    cfn.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": DETECTION_ID}, {"StackName": "push-prod"}
    )
    response = client.post("/stacks/push-prod/drift")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/stacks/push-prod/drift?id={DETECTION_ID}")
    cfn.add_response(
        "describe_stack_drift_detection_status",
        {
            "StackId": STACK_ID,
            "StackDriftDetectionId": DETECTION_ID,
            "StackDriftStatus": "DRIFTED",
            "DetectionStatus": "DETECTION_COMPLETE",
            "DriftedStackResourceCount": 3,
            "Timestamp": CHECKED,
        },
        {"StackDriftDetectionId": DETECTION_ID},
    )
    cfn.add_response("describe_stack_resource_drifts", RESOURCE_DRIFTS, None)
    text = words(client.get(response.headers["Location"]))
    assert "3 resources changed outside pushstack" in text
    assert "ConnectionNodes (AWS::AutoScaling::AutoScalingGroup" in text
    assert "MaxSize is 10; the template sets 4" in text
    assert "CryptoKeySecret" in text and "deleted outside pushstack" in text


def test_the_check_is_a_post_with_the_forms_token():
    app = create_app({"TESTING": True, "SECRET_KEY": "drift"})  # CSRF on
    response = app.test_client().post("/stacks/push-prod/drift")
    assert response.status_code == 400  # no CSRF token: nothing is started


def test_an_in_sync_stack_says_nothing_changed(client, cfn):
    cfn.add_response(
        "describe_stack_drift_detection_status",
        {
            "StackId": STACK_ID,
            "StackDriftDetectionId": DETECTION_ID,
            "StackDriftStatus": "IN_SYNC",
            "DetectionStatus": "DETECTION_COMPLETE",
            "DriftedStackResourceCount": 0,
            "Timestamp": CHECKED,
        },
        {"StackDriftDetectionId": DETECTION_ID},
    )
    text = words(client.get(f"/stacks/push-prod/drift?id={DETECTION_ID}"))
    assert "No change made outside pushstack" in text


def test_the_change_set_page_warns_of_drift_and_prices_before_and_after(client, cfn):
    change_set_id = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/pushstack-1/0f0e0d0c-aaaa-bbbb-cccc-000000000001"
    change_set = {
        "ChangeSetId": change_set_id,
        "ChangeSetName": f"{CHANGE_SET_PREFIX}1",
        "Description": CHANGE_SET_DESCRIPTION,  # made by pushstack: the only kind it shows
        "StackId": STACK_ID,
        "StackName": "push-prod",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Parameters": [
            {"ParameterKey": "ConnectionInstanceType", "ParameterValue": "c5.large"},
            {"ParameterKey": "CryptoKey", "ParameterValue": "****"},
        ],
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "ConnectionLaunchTemplate",
                    "ResourceType": "AWS::EC2::LaunchTemplate",
                    "Replacement": "False",
                },
            }
        ],
    }
    body = json.dumps(TEMPLATE)
    cs_template = {"StackName": STACK_ID, "ChangeSetName": change_set_id}
    # The change set, once known to be pushstack's change set of this stack.
    cfn.add_response("describe_stacks", stack_reply("DRIFTED"), {"StackName": "push-prod"})
    cfn.add_response("describe_change_set", change_set, None)
    # The deployed template: what its deletion policies retain.
    cfn.add_response("get_template", {"TemplateBody": body}, {"StackName": STACK_ID})
    # The property diff: the stack's values and template against the change set's.
    cfn.add_response("describe_stacks", stack_reply("DRIFTED"), {"StackName": STACK_ID})
    cfn.add_response("get_template", {"TemplateBody": body}, {"StackName": STACK_ID})
    cfn.add_response("get_template", {"TemplateBody": body}, cs_template)
    # The cost before and after (the deployed template is read once, and reused).
    cfn.add_response("describe_stacks", stack_reply("DRIFTED"), {"StackName": "push-prod"})
    cfn.add_response("describe_change_set", change_set, None)
    cfn.add_response("get_template", {"TemplateBody": body}, cs_template)
    # The last known drift.
    cfn.add_response("describe_stacks", stack_reply("DRIFTED"), {"StackName": "push-prod"})
    cfn.add_response("describe_stack_resource_drifts", RESOURCE_DRIFTS, None)
    response = client.get(f"/stacks/push-prod/change-set?id={change_set_id}")
    assert response.status_code == 200
    text = words(response)
    assert "Warning: the stack was changed outside pushstack" in text
    assert "MaxSize is 10; the template sets 4" in text
    desired = VARIANTS["none"].connection_desired_capacity
    more = desired * 730 * (0.085 - 0.0208)
    match = re.search(r"Before: about \$([\d,.]+) a month; after: about \$([\d,.]+) a month", text)
    before, after = (float(x.replace(",", "")) for x in match.groups())
    assert after - before == pytest.approx(more, abs=0.02)
    assert "prices as of" in text


def test_the_stack_page_offers_the_check_in_an_aws_account(cloud):
    from types import SimpleNamespace

    from flask import render_template

    app = create_app({"TESTING": True, "SECRET_KEY": "drift"})
    with app.test_request_context("/stacks/push-prod"):
        page = render_template(
            "_drift_check.html",
            stack=SimpleNamespace(name="push-prod"),
            target=cloud.target,
            region=None,
        )
    assert 'action="/stacks/push-prod/drift"' in page and 'name="csrf_token"' in page
    assert "Check for changes made outside pushstack" in page


def test_the_sandbox_note_is_true_and_says_what_the_readme_says():
    """The sandbox's resources can be changed by any program on the machine (the page's
    own clean-up commands do), and moto answers DetectStackDrift with an internal error."""
    from pathlib import Path

    from pushstack.cloud.drift import SANDBOX_NOTE

    readme = " ".join(Path(__file__).parent.parent.joinpath("README.md").read_text().split())
    assert "anyway" not in SANDBOX_NOTE and "has no DetectStackDrift" not in SANDBOX_NOTE
    assert "moto 5.2.5 answers DetectStackDrift with an internal error" in SANDBOX_NOTE
    assert "moto 5.2.5 answers DetectStackDrift with an internal error" in readme
    assert "can still change outside pushstack" in SANDBOX_NOTE
