"""Issue 15 on the pages, through Flask's test client against the sandbox (moto's server),
with botocore's Stubber where the sandbox cannot answer as AWS would: the vCPU quota next
to the preview's vCPU note, today's AMI and the button that pins it, the processor
failure queue's depth on the stack page and its JSON API, and the change set page saying
which nodes an update replaces and that clients reconnect."""

import dataclasses
import html
import json
import re
from urllib.parse import urlsplit

import pytest
from botocore.stub import Stubber
from test_stacks_web import launch, new_name, preview
from test_stacks_web import page_text as spaced_text
from test_web import FormValues

from pushstack.cloud.preflight import QUOTA_CODE, SANDBOX_QUOTA_NOTE
from pushstack.template import AMI_PARAMETER
from webapp import create_app
from webapp.cloud import get_access

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def app(sandbox_server):
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "checks-tests",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_server.url,
            # Every request reads the account again: each test stubs its own answers.
            "ACCOUNT_CHECKS_SECONDS": 0,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cloud(app):
    with app.app_context():
        return get_access().cloud()


def page_text(response) -> str:
    """The page's words, without the space a tag left before a colon or a full stop."""
    return re.sub(r" ([:.,;)])", r"\1", spaced_text(response))


def todays_ami(cloud) -> str:
    reply = cloud.target.client("ssm").get_parameters(Names=[AMI_PARAMETER])
    return reply["Parameters"][0]["Value"]


def element_text(page: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', page, flags=re.S)
    assert match, element_id
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(2))).strip()
    return re.sub(r" ([:.,;)])", r"\1", html.unescape(text))


# The preview: the quota next to the vCPU note, today's AMI.


def test_the_sandbox_preview_says_it_has_no_quota_and_shows_todays_ami(client, cloud):
    path = preview(client, log_processing="processor")
    response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-verdict="unknown"' in page
    assert SANDBOX_QUOTA_NOTE in page_text(response)
    # The note sits next to the vCPU note.
    assert page.index('id="vcpus"') < page.index('id="vcpu-quota"') < page.index('id="ami"')
    ami = todays_ami(cloud)
    text = page_text(response)
    assert f"from the public SSM parameter {AMI_PARAMETER}: today {ami} in us-east-1" in text
    assert f"the value to pin is {ami}" in text

    pinned = client.post(path + "/pin-ami", data={"ami_id": ami})
    assert pinned.status_code == 303
    location = urlsplit(pinned.headers["Location"])
    assert location.path != path and location.fragment == "ami"
    page = client.get(location.path)
    text = page_text(page)
    assert f"The nodes run the pinned AMI {ami}" in text
    assert "It is the current one in us-east-1" in text
    parameters = client.get(location.path + "/parameters.json").get_json()
    given = {item["ParameterKey"]: item["ParameterValue"] for item in parameters}
    assert given["AmiId"] == ami and "LatestAmiId" not in given
    assert given["CryptoKey"]  # the preview's key came along


def test_pinning_takes_only_an_ami_id_and_a_live_preview(client):
    path = preview(client)
    for bad in ("", "ami-xyz", "ami-0123456789abcdef0; rm -rf /", "<script>"):
        response = client.post(path + "/pin-ami", data={"ami_id": bad})
        assert response.status_code == 303
        assert urlsplit(response.headers["Location"]).path == path  # the same preview
    gone = client.post("/preview/not-a-preview/pin-ami", data={"ami_id": "ami-0123456789abcdef0"})
    assert gone.status_code == 404


def test_a_pinned_ami_older_than_todays_is_named_with_todays(client, cloud):
    ami = todays_ami(cloud)
    older = "ami-0123456789abcdef0"
    assert older != ami
    text = page_text(client.get(preview(client, ami_id=older)))
    assert f"The nodes run the pinned AMI {older}" in text
    assert f"names {ami} in us-east-1: pin that one when you choose" in text


def quota_reply(value: float) -> dict:
    return {
        "Quota": {
            "ServiceCode": "ec2",
            "QuotaCode": QUOTA_CODE,
            "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
            "Value": value,
            "Unit": "None",
        }
    }


@pytest.mark.parametrize(
    ("value", "verdict", "words"),
    [
        (64.0, "enough", "This account's quota in us-east-1 is 64 vCPUs: enough for the maximums"),
        (
            16.0,
            "desired",
            "This account's quota in us-east-1 is 16 vCPUs: enough for the desired sizes, "
            "not for the maximums.",
        ),
        (
            5.0,
            "short",
            "This account's quota in us-east-1 is 5 vCPUs, fewer than the 12 the desired "
            "sizes need: the nodes could not all start, and the launch would fail",
        ),
    ],
)
def test_the_preview_compares_the_quota_with_the_vcpus(client, cloud, value, verdict, words):
    path = preview(client, log_processing="processor")  # 12 vCPUs desired, 24 at most
    with Stubber(cloud._client("service-quotas")) as quotas:
        quotas.add_response(
            "get_service_quota", quota_reply(value), {"ServiceCode": "ec2", "QuotaCode": QUOTA_CODE}
        )
        response = client.get(path)
        quotas.assert_no_pending_responses()
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'data-verdict="{verdict}"' in page
    note = element_text(page, "vcpu-quota")
    assert words in note
    command = (
        f"aws service-quotas request-service-quota-increase --service-code ec2 "
        f"--quota-code {QUOTA_CODE} --desired-value 24 --region us-east-1"
    )
    assert (command in note) == (verdict != "enough")


@pytest.mark.parametrize(
    ("code", "message", "words"),
    [
        (
            "AccessDeniedException",
            f"User: arn:aws:iam::{ACCOUNT}:user/ops is not authorized to perform: "
            "servicequotas:GetServiceQuota",
            "The account's quota could not be checked: Access denied: these credentials may "
            "not call servicequotas:GetServiceQuota.",
        ),
        (
            "NoSuchResourceException",
            "The request failed because the specified service does not exist.",
            "The account's quota could not be checked: Service Quotas has no value of the "
            f"quota {QUOTA_CODE}",
        ),
        (
            "ServiceException",
            "Something broke.",
            "The account's quota could not be checked: AWS returned an error to "
            "GetServiceQuota: ServiceException",
        ),
    ],
)
def test_a_quota_that_cannot_be_read_is_said_never_a_500(client, cloud, code, message, words):
    path = preview(client)
    # The sandbox is not AWS: NoSuchResourceException there means "not emulated".
    real = cloud.target
    cloud._client("service-quotas")  # made for the sandbox, before the target says AWS
    cloud.target = dataclasses.replace(real, kind="aws")
    try:
        with Stubber(cloud._client("service-quotas")) as quotas:
            for _ in range(5):  # more than the standard retry mode's attempts
                quotas.add_client_error("get_service_quota", code, message, 400)
            response = client.get(path)
    finally:
        cloud.target = real
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-verdict="problem"' in page
    assert words in element_text(page, "vcpu-quota")
    assert "Traceback" not in page


def test_an_ami_that_cannot_be_looked_up_is_said(client, cloud):
    path = preview(client)
    with Stubber(cloud._client("ssm")) as ssm:
        ssm.add_response(
            "get_parameters",
            {"Parameters": [], "InvalidParameters": [AMI_PARAMETER]},
            {"Names": [AMI_PARAMETER]},
        )
        response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="pin-ami"' not in page  # nothing to pin
    assert (
        f"The current AMI could not be looked up: The SSM parameter {AMI_PARAMETER} does "
        "not exist in us-east-1." in element_text(page, "ami-problem")
    )
    assert "(the Pinned AMI option)." in page_text(response)


def test_without_a_target_the_preview_checks_nothing(client, app, monkeypatch):
    path = preview(client)
    from pushstack.cloud import CloudError

    with app.app_context():
        access = get_access()

    def unreachable():
        raise CloudError("No AWS credentials were found.", "Give some.")

    monkeypatch.setattr(access, "target", unreachable)
    response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="vcpus"' in page and 'id="vcpu-quota"' not in page
    assert 'id="current-ami"' not in page and 'id="pin-ami"' not in page


# The stack page: the processor's failure queue.


def test_the_stack_page_and_api_show_the_failure_queue_depth(client, cloud):
    name = new_name("queue")
    location = launch(client, name, log_processing="processor")
    response = client.get(location)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-depth="0"' in page
    assert "Empty: the processor has failed on no log event in the last 14 days" in page_text(
        response
    )
    api = client.get(f"/api/stacks/{name}").get_json()
    url = cloud.stack_outputs(name)["ProcessorFailureQueueURL"]
    assert api["failure_queue"] == {
        "url": url,
        "depth": 0,
        "waiting": 0,
        "in_flight": 0,
        "retention_days": 14,
    }

    sqs = cloud.target.client("sqs")
    for number in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestPayload": number}))
    response = client.get(location)
    page = response.get_data(as_text=True)
    text = page_text(response)
    assert 'data-depth="2"' in page
    assert "2 log events the processor failed on." in text
    assert "the messages in it are missing from the Messages API" in text
    assert "The queue keeps each event 14 days, then drops it for good." in text
    assert f"aws sqs receive-message --queue-url {url} --region us-east-1 --endpoint-url" in text
    function = cloud.stack_outputs(name)["ProcessorFunctionName"]
    assert f"aws lambda invoke --function-name {function} --invocation-type Event" in text
    assert client.get(f"/api/stacks/{name}").get_json()["failure_queue"]["depth"] == 2
    # Each command a block of its own with a copy button, whole: the sandbox's credentials
    # and endpoint, every value shell-quoted, the delete's receipt handle a variable.
    sandbox = cloud.target
    for step, command in (
        ("queue-receive", f"aws sqs receive-message --queue-url {url}"),
        ("queue-invoke", f"aws lambda invoke --function-name {function}"),
        (
            "queue-delete",
            f'aws sqs delete-message --queue-url {url} --receipt-handle "$RECEIPT_HANDLE"',
        ),
    ):
        block = element_text(page, step)
        assert block.startswith(sandbox.cli_environment + command), block
        assert block.endswith(
            f"--endpoint-url {sandbox.endpoint_url}"
            + (" /dev/null" if step == "queue-invoke" else "")
        ), block
        assert f'data-copy="{step}"' in page

    # Access denied: words on the page and in the API, the rest of the page as ever.
    with Stubber(cloud._client("sqs")) as stub:
        for _ in range(2):
            stub.add_client_error(
                "get_queue_attributes",
                "AccessDenied",
                f"User: arn:aws:iam::{ACCOUNT}:user/ops is not authorized to perform: "
                "sqs:getqueueattributes",
                403,
            )
        response = client.get(location)
        api = client.get(f"/api/stacks/{name}")
    assert response.status_code == 200 and api.status_code == 200
    problem = element_text(response.get_data(as_text=True), "failure-queue-problem")
    assert "Its depth could not be read: Access denied" in problem
    assert "sqs:getqueueattributes" in problem
    assert "Outputs" in page_text(response)
    assert api.get_json()["failure_queue"]["error"].startswith("Access denied")
    assert api.get_json()["status"] == "CREATE_COMPLETE"

    # The queue deleted outside the stack.
    sqs.delete_queue(QueueUrl=url)
    response = client.get(location)
    assert response.status_code == 200
    problem = element_text(response.get_data(as_text=True), "failure-queue-problem")
    assert "does not exist any more: it was deleted outside the stack" in problem


def test_a_stack_without_the_processor_has_no_failure_queue(client):
    name = new_name("noqueue")
    location = launch(client, name, log_processing="firehose")
    assert 'id="failure-queue"' not in client.get(location).get_data(as_text=True)
    assert client.get(f"/api/stacks/{name}").get_json()["failure_queue"] is None


# The change set page: which nodes an update replaces, and that clients reconnect.


def update_to(client, name: str, **values):
    form = FormValues(client.get(f"/stacks/{name}/update").get_data(as_text=True)).values
    form.update(acknowledge="y", **values)
    response = client.post(f"/stacks/{name}/update", data=form)
    assert response.status_code == 303, page_text(response)[:1500]
    return response.headers["Location"]


def test_a_new_instance_type_replaces_the_connection_nodes_and_says_clients_reconnect(
    client, cloud
):
    name = new_name("rolled")
    launch(client, name)
    response = client.get(update_to(client, name, connection_instance_type="m5.large"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = page_text(response)
    assert (
        "This update replaces nodes: connected clients will be disconnected and reconnect" in text
    )
    rolled = element_text(page, "rollout-ConnectionNodes")
    assert "Every one of the connection nodes is replaced, one node at a time, each" in rolled
    assert "because of: the instance type (t3.small → m5.large)." in rolled
    assert "browsers and apps reconnect on their own" in rolled
    assert 'id="rollout-EndpointNodes"' not in page
    assert 'id="new-ami"' not in page
    assert "Apply these changes" in text


def test_more_nodes_replace_none_and_the_ami_is_still_current(client, cloud):
    name = new_name("grown")
    launch(client, name)
    response = client.get(update_to(client, name, connection_desired_capacity="3"))
    page = response.get_data(as_text=True)
    assert 'id="node-replacement"' not in page
    note = element_text(page, "no-node-replacement")
    assert "No node is replaced: connected clients stay connected." in note
    assert f"The nodes keep the AMI {todays_ami(cloud)}, still the current one." in note


def test_a_new_ami_since_the_launch_replaces_every_node(client, cloud):
    """The sandbox's public parameters cannot be changed (moto reserves /aws/): SSM's
    answer is stubbed with the AMI Amazon published since, the rest is the sandbox's."""
    name = new_name("newami")
    launch(client, name)
    deployed = todays_ami(cloud)
    published = "ami-0fedcba9876543210"
    location = update_to(client, name, connection_desired_capacity="3")
    with Stubber(cloud._client("ssm")) as ssm:
        ssm.add_response(
            "get_parameters",
            {"Parameters": [{"Name": AMI_PARAMETER, "Type": "String", "Value": published}]},
            {"Names": [AMI_PARAMETER]},
        )
        response = client.get(location)
        ssm.assert_no_pending_responses()
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This update replaces nodes: connected clients will be disconnected" in page_text(
        response
    )
    for group in ("ConnectionNodes", "EndpointNodes"):
        assert f"a new AMI: {deployed} → {published}" in element_text(page, f"rollout-{group}")
    new_ami = element_text(page, "new-ami")
    assert f"the nodes run {deployed}" in new_ami and f"now names {published}" in new_ami
    assert f"update again with the AMI they run pinned (Pinned AMI: {deployed})" in new_ami


def test_an_ami_check_that_fails_is_said_on_the_change_set_page(client, cloud):
    name = new_name("amifail")
    launch(client, name)
    location = update_to(client, name, connection_desired_capacity="3")
    with Stubber(cloud._client("ssm")) as ssm:
        ssm.add_client_error(
            "get_parameters",
            "AccessDeniedException",
            f"User: arn:aws:iam::{ACCOUNT}:user/ops is not authorized to perform: "
            "ssm:GetParameters",
            400,
        )
        response = client.get(location)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    problem = element_text(page, "rollout-problem")
    assert "could not be checked: Access denied" in problem
    assert "cannot tell whether the update also replaces every node" in problem
    assert 'id="no-node-replacement"' not in page
    assert "Apply these changes" in page_text(response)


def test_every_browser_shares_one_read_per_interval(sandbox_server, monkeypatch):
    """Reloads and other browsers within ACCOUNT_CHECKS_SECONDS cost no more AWS calls."""
    from pushstack.cloud import preflight

    shared = create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "checks-shared",
            "TARGET": "sandbox",
            "SANDBOX_URL": sandbox_server.url,
            "ACCOUNT_CHECKS_SECONDS": 60,
        }
    )
    calls = []
    for name in ("vcpu_quota", "current_ami"):
        real = getattr(preflight, name)

        def counted(*args, _real=real, _name=name):
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(preflight, name, counted)
    for browser in (shared.test_client() for _ in range(3)):
        path = preview(browser)
        for _ in range(2):
            assert 'id="vcpu-quota"' in browser.get(path).get_data(as_text=True)
    assert sorted(calls) == ["current_ami", "vcpu_quota"]
