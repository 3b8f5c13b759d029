"""Every way an AWS call fails becomes a CloudError saying what happened and what to do."""

from __future__ import annotations

import dataclasses
import http.server
import os
import socket
import threading
from collections import deque

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from variants import VARIANTS

from pushstack.cloud import Cloud, CloudError, Target, resolve_target
from pushstack.cloud import target as target_module
from pushstack.cloud.errors import translate
from pushstack.cloud.target import chosen_kind

ACCOUNT = "123456789012"
NONE = dataclasses.replace(VARIANTS["none"], region="us-east-1")
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/push-test/0b9c8a70-0000-11ef"


def fake_session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A call the Stubber does not answer goes to a closed local port, never to AWS.
NOWHERE = f"http://127.0.0.1:{_closed_port()}"


@pytest.fixture
def cloud():
    return Cloud(Target("aws", "us-east-1", ACCOUNT, NOWHERE, fake_session()))


@pytest.fixture
def no_tables(cloud):
    """DynamoDB has no tables of the launch's prefix."""
    with Stubber(cloud._client("dynamodb")) as stubber:
        stubber.add_client_error(
            "describe_table", "ResourceNotFoundException", "Requested resource not found"
        )
        yield stubber


@pytest.fixture
def cfn(cloud):
    with Stubber(cloud._client("cloudformation")) as stubber:
        yield stubber


@pytest.fixture
def no_credentials(monkeypatch):
    """An environment where the credential chain finds nothing (and reads no real file)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("PUSHSTACK_TARGET", raising=False)


@pytest.fixture
def one_attempt(monkeypatch):
    """No retries, so failures that would be retried show at once."""
    monkeypatch.setattr(
        target_module,
        "CLIENT_CONFIG",
        Config(
            retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=5
        ),
    )


@pytest.mark.parametrize(
    ("code", "aws_message", "status", "says", "advises"),
    [
        (
            "ExpiredToken",
            "The security token included in the request is expired",
            400,
            "expired",
            "Refresh them",
        ),
        (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            403,
            "did not accept the credentials",
            "Refresh them",
        ),
        (
            "AccessDenied",
            f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: "
            "cloudformation:DescribeStacks because no identity-based policy allows the "
            "cloudformation:DescribeStacks action",
            403,
            "may not call cloudformation:DescribeStacks",
            "allow cloudformation:DescribeStacks",
        ),
        ("Throttling", "Rate exceeded", 400, "throttling", "Wait a minute"),
        (
            "ValidationError",
            "Template format error: Unresolved resource dependencies [Foo] in the Resources block",
            400,
            "Unresolved resource dependencies [Foo]",
            "Correct",
        ),
        ("InternalFailure", "", 500, "InternalFailure", "Try again"),
        (
            "NoSuchHostedZone",
            "No hosted zone found with ID: Z0123456789ABCDEFGHIJ",
            404,
            "hosted zone does not exist",
            "Check the hosted zone id",
        ),
        (
            "CertificateNotFoundException",
            "Certificate arn:aws:acm:us-east-1:123456789012:certificate/x not found",
            400,
            "does not exist (CertificateNotFoundException)",
            "Check the value of the form that names it",
        ),
    ],
)
def test_aws_errors_in_plain_words(cloud, cfn, code, aws_message, status, says, advises):
    cfn.add_client_error("describe_stacks", code, aws_message, status)
    with pytest.raises(CloudError) as caught:
        cloud.list_stacks()
    assert says in caught.value.message
    assert advises in caught.value.advice
    assert caught.value.code == code


def test_access_denied_without_an_action_names_the_call(cloud):
    with Stubber(cloud._client("ec2")) as ec2:
        ec2.add_client_error(
            "describe_vpcs",
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
            403,
        )
        with pytest.raises(CloudError) as caught:
            cloud.account_choices()
    assert "DescribeVpcs" in caught.value.message


def test_an_unknown_stack_says_so(cloud, cfn):
    cfn.add_client_error("describe_stacks", "ValidationError", "Stack with id gone does not exist")
    cfn.add_response("list_stacks", {"StackSummaries": []})
    with pytest.raises(CloudError) as caught:
        cloud.stack("gone")
    assert caught.value.message == "There is no stack named gone in us-east-1."


def test_a_rejected_template_says_what_aws_found(cloud, cfn):
    cfn.add_client_error(
        "validate_template",
        "ValidationError",
        "Template format error: Unrecognized resource types: [AWS::Foo::Bar]",
    )
    with pytest.raises(CloudError) as caught:
        cloud.validate('{"Resources": {"X": {"Type": "AWS::Foo::Bar"}}}')
    assert "Unrecognized resource types: [AWS::Foo::Bar]" in caught.value.message


def test_a_large_template_to_a_missing_bucket_says_which(cloud):
    large = '{"Description": "' + "x" * 52_000 + '"}'
    with Stubber(cloud._client("s3")) as s3:
        for _attempt in range(2):  # the bucket is checked again once, then the error shows
            s3.add_response("head_bucket", {})
            s3.add_client_error(
                "put_object", "NoSuchBucket", "The specified bucket does not exist", 404
            )
        with pytest.raises(CloudError) as caught:
            cloud.validate(large)
        s3.assert_no_pending_responses()
    assert "bucket does not exist" in caught.value.message
    assert caught.value.code == "NoSuchBucket"


def test_an_artifacts_bucket_deleted_meanwhile_is_made_again(cloud, cfn):
    large = '{"Description": "' + "x" * 52_000 + '"}'
    bucket = f"pushstack-artifacts-{ACCOUNT}-us-east-1"
    with Stubber(cloud._client("s3")) as s3:
        s3.add_response("head_bucket", {})
        s3.add_client_error(
            "put_object", "NoSuchBucket", "The specified bucket does not exist", 404
        )
        s3.add_client_error("head_bucket", "404", "Not Found", 404)
        s3.add_response("create_bucket", {}, {"Bucket": bucket})
        s3.add_response("put_public_access_block", {})
        s3.add_response("put_bucket_encryption", {})
        s3.add_response("put_object", {})
        cfn.add_response("validate_template", {})
        cloud.validate(large)
        s3.assert_no_pending_responses()


def test_a_missing_key_says_which():
    s3 = fake_session().client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
        with pytest.raises(Exception) as raised:
            s3.get_object(Bucket="b", Key="processor/missing.zip")
    error = translate(raised.value)
    assert "object does not exist" in error.message
    assert "upload" in error.advice


def test_capabilities_are_never_granted_without_acknowledgement(cloud, cfn):
    with pytest.raises(CloudError) as caught:
        cloud.launch(NONE, acknowledged=(), launch_id="launch-1")
    assert "IAM" in caught.value.message
    assert caught.value.code == "InsufficientCapabilitiesException"
    cfn.assert_no_pending_responses()  # nothing was sent to AWS


def test_insufficient_capabilities_from_aws(cloud, cfn, no_tables):
    cfn.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id push-test does not exist"
    )
    cfn.add_client_error(
        "create_stack",
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_NAMED_IAM]",
    )
    with pytest.raises(CloudError) as caught:
        cloud.launch(NONE, acknowledged=("CAPABILITY_IAM",), launch_id="launch-1")
    assert "CAPABILITY_NAMED_IAM" in caught.value.message
    assert "acknowledg" in caught.value.advice


def _stack(launch_id: str) -> dict:
    return {
        "Stacks": [
            {
                "StackName": "push-test",
                "StackId": STACK_ID,
                "CreationTime": "2026-11-27T12:00:00Z",
                "StackStatus": "CREATE_IN_PROGRESS",
                "Tags": [
                    {"Key": "pushstack:launched-by", "Value": "pushstack"},
                    {"Key": "pushstack:launch-id", "Value": launch_id},
                ],
            }
        ]
    }


def test_a_taken_name_says_so(cloud, cfn, no_tables):
    cfn.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id push-test does not exist"
    )
    cfn.add_client_error(
        "create_stack", "AlreadyExistsException", "Stack [push-test] already exists"
    )
    cfn.add_response("describe_stacks", _stack("someone-else"))
    with pytest.raises(CloudError) as caught:
        cloud.launch(NONE, acknowledged=("CAPABILITY_IAM",), launch_id="mine")
    assert caught.value.message == "A stack named push-test already exists in us-east-1."
    assert "another stack name" in caught.value.advice


def test_a_double_submit_returns_the_first_stack(cloud, cfn, no_tables):
    """The second request of a double click loses the race to create: it gets the first's id."""
    cfn.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id push-test does not exist"
    )
    cfn.add_client_error(
        "create_stack", "AlreadyExistsException", "Stack [push-test] already exists"
    )
    cfn.add_response("describe_stacks", _stack("mine"))
    stack_id = cloud.launch(NONE, acknowledged=("CAPABILITY_IAM",), launch_id="mine")
    assert stack_id == STACK_ID


def test_no_credentials(no_credentials, one_attempt):
    assert chosen_kind("auto") == "sandbox"
    cloud = Cloud(Target("aws", "us-east-1", ACCOUNT, None, boto3.Session(region_name="us-east-1")))
    with pytest.raises(CloudError) as caught:
        cloud.list_stacks()
    assert caught.value.message == "No AWS credentials were found."
    assert "AWS_PROFILE" in caught.value.advice
    with pytest.raises(CloudError, match="No AWS credentials"):
        resolve_target("aws")


def test_an_unreachable_target(one_attempt):
    url = f"http://127.0.0.1:{_closed_port()}"
    cloud = Cloud(Target("sandbox", "us-east-1", ACCOUNT, url, fake_session()))
    with pytest.raises(CloudError) as caught:
        cloud.list_stacks()
    assert caught.value.message == f"Could not reach {url}."
    assert caught.value.code is None


class FakeAws:
    """A local HTTP server answering each request with the next canned (status, body)."""

    def __init__(self, replies):
        self.replies = deque(replies)
        self.requests = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests += 1
                status, body = fake.replies.popleft()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()


NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
THROTTLED = (
    400,
    f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>Throttling</Code>'
    "<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>".encode(),
)
NO_STACKS = (
    200,
    f'<DescribeStacksResponse xmlns="{NS}"><DescribeStacksResult><Stacks/></DescribeStacksResult>'
    "<ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></DescribeStacksResponse>".encode(),
)


def test_throttling_is_retried():
    with FakeAws([THROTTLED, NO_STACKS]) as fake:
        cloud = Cloud(Target("sandbox", "us-east-1", ACCOUNT, fake.url, fake_session()))
        assert cloud.list_stacks() == []
    assert fake.requests == 2


def test_throttling_that_does_not_stop_becomes_a_message(monkeypatch):
    monkeypatch.setattr(
        target_module,
        "CLIENT_CONFIG",
        Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    with FakeAws([THROTTLED, THROTTLED]) as fake:
        cloud = Cloud(Target("sandbox", "us-east-1", ACCOUNT, fake.url, fake_session()))
        with pytest.raises(CloudError) as caught:
            cloud.list_stacks()
    assert fake.requests == 2
    assert "throttling" in caught.value.message


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("aws", "AWS sent an answer that could not be read."),
        ("sandbox", "The sandbox failed on DescribeStacks"),
    ],
)
def test_an_unreadable_reply_is_a_failure_like_any_other(one_attempt, kind, says):
    with FakeAws([(200, b"<html><body>Gateway says hello</body")]) as fake:
        cloud = Cloud(Target(kind, "us-east-1", ACCOUNT, fake.url, fake_session()))
        with pytest.raises(CloudError) as caught:
            cloud.list_stacks()
    assert caught.value.message.startswith(says)


def test_clients_retry_in_standard_mode():
    client = Target("aws", "us-east-1", ACCOUNT, None, fake_session()).client("cloudformation")
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] >= 3


def test_an_error_never_repeats_a_crypto_key(cloud):
    key = "q0FZ0d3Vt1o9kLh4n0X2cW8uJ5yR7bT3eA6sD1fG2hI="
    with Stubber(cloud._client("cloudformation")) as stub:
        stub.add_client_error(
            "validate_template",
            "ValidationError",
            f"Parameter 'CryptoKey' has value {key}, which does not match its pattern",
        )
        with pytest.raises(CloudError) as caught:
            cloud.validate("{}")
    assert key not in str(caught.value)
    assert "****" in caught.value.message
