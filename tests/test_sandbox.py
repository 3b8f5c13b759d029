"""The sandbox: a local moto server seeded with a network, and how the target is chosen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from pushstack import options, sandbox
from pushstack.cloud import CloudError, needs_sandbox, resolve_target
from pushstack.cloud.target import chosen_kind

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def own_sandbox(fake_aws_env):
    """A sandbox of these tests alone (reset wipes everything in it)."""
    server = sandbox.start()
    yield server
    server.stop()


def _ec2(url: str, region: str):
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_start_answers_on_localhost_and_stop_ends_it(fake_aws_env):
    server = sandbox.start()
    assert server.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{server.url}/moto-api/data.json", timeout=5) as reply:
        assert reply.status == 200
    server.stop()
    assert server.process.poll() is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/moto-api/data.json", timeout=2)


def test_seed_makes_a_network_to_deploy_into_once(own_sandbox):
    first = sandbox.seed(own_sandbox.url, "eu-west-1")
    assert sandbox.seed(own_sandbox.url, "eu-west-1") == first  # idempotent
    ec2 = _ec2(own_sandbox.url, "eu-west-1")
    tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:pushstack:sandbox", "Values": ["network"]}])
    assert [v["VpcId"] for v in tagged["Vpcs"]] == [first.vpc_id]
    subnets = ec2.describe_subnets(SubnetIds=[*first.public_subnet_ids, *first.private_subnet_ids])
    zones = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets["Subnets"]}
    assert len({zones[s] for s in first.public_subnet_ids}) == 2
    assert len({zones[s] for s in first.private_subnet_ids}) == 2
    assert all(s["VpcId"] == first.vpc_id for s in subnets["Subnets"])
    # The private subnets' route table, for the processor's S3 gateway endpoint.
    tables = ec2.describe_route_tables(RouteTableIds=list(first.private_route_table_ids))
    associated = {
        a["SubnetId"] for t in tables["RouteTables"] for a in t["Associations"] if "SubnetId" in a
    }
    assert associated == set(first.private_subnet_ids)
    assert sandbox.find(own_sandbox.url, "eu-west-1") == first
    assert first.certificate_arn.startswith("arn:aws:acm:eu-west-1:")
    assert first.code_bucket == "pushstack-artifacts-123456789012-eu-west-1"
    # Its hosted zone passes the form's check, like Route 53's own ids ("Z..."); moto's
    # were random, so a TLS stack's values were refused when read back (update form).
    route53 = boto3.client("route53", endpoint_url=own_sandbox.url, **sandbox.CREDENTIALS)
    ids = [
        route53.create_hosted_zone(Name=f"z{n}.test.", CallerReference=f"z{n}") for n in range(20)
    ]
    for zone_id in [first.hosted_zone_id] + [z["HostedZone"]["Id"].split("/")[-1] for z in ids]:
        assert re.fullmatch(options.SPECS["hosted_zone_id"].pattern, zone_id), zone_id


def test_a_stopped_sandbox_leaves_no_lock_file(fake_aws_env):
    """Each sandbox has its seed lock in the temporary folder; it goes when it stops."""
    server = sandbox.start()
    sandbox.seed(server.url, "us-east-1")
    lock = sandbox._SeedLock(server.url).path
    assert lock.exists()
    server.stop()
    assert not lock.exists()
    server.stop()  # still idempotent


def test_reset_forgets_everything_and_seeds_again(own_sandbox):
    before = sandbox.seed(own_sandbox.url, "us-east-1")
    ec2 = _ec2(own_sandbox.url, "us-east-1")
    ec2.create_key_pair(KeyName="left-over")
    after = sandbox.reset(own_sandbox.url, "us-east-1")
    assert after.vpc_id != before.vpc_id
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert ec2.describe_vpcs(VpcIds=[after.vpc_id])["Vpcs"]


def test_python_m_pushstack_sandbox_prints_its_url(fake_aws_env):
    process = subprocess.Popen(
        [sys.executable, "-m", "pushstack.sandbox"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5) as reply:
            assert reply.status == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.stdout.close()
    # Its moto server goes with it: nothing is left listening.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5)


@pytest.fixture
def env(fake_aws_env, monkeypatch):
    monkeypatch.delenv("PUSHSTACK_TARGET", raising=False)
    monkeypatch.delenv("PUSHSTACK_SANDBOX_URL", raising=False)
    return monkeypatch


def test_auto_picks_aws_when_credentials_are_found(env):
    assert chosen_kind() == "aws"
    assert not needs_sandbox()


def test_auto_picks_the_sandbox_without_credentials(env):
    env.delenv("AWS_ACCESS_KEY_ID")
    env.delenv("AWS_SECRET_ACCESS_KEY")
    assert chosen_kind() == "sandbox"
    assert needs_sandbox()
    env.setenv("PUSHSTACK_SANDBOX_URL", "http://127.0.0.1:5999")
    assert not needs_sandbox()


def test_an_unknown_target_is_refused(env):
    env.setenv("PUSHSTACK_TARGET", "azure")
    with pytest.raises(CloudError, match="not a target"):
        chosen_kind()


def test_the_sandbox_target_names_itself(env, sandbox_server):
    env.setenv("PUSHSTACK_TARGET", "sandbox")
    env.setenv("PUSHSTACK_SANDBOX_URL", sandbox_server.url)
    env.setenv("AWS_REGION", "eu-west-1")
    target = resolve_target()
    port = sandbox_server.url.rsplit(":", 1)[1]
    assert target.kind == "sandbox"
    assert target.label == f"Sandbox (moto on 127.0.0.1:{port})"
    assert (target.region, target.account_id) == ("eu-west-1", "123456789012")


def test_the_sandbox_target_starts_its_own_server_when_none_is_given(env):
    env.setenv("PUSHSTACK_TARGET", "sandbox")
    try:
        target = resolve_target()
        assert target.endpoint_url.startswith("http://127.0.0.1:")
        assert target.account_id == "123456789012"
    finally:
        sandbox.stop_shared()


def test_workers_seeding_at_once_make_one_network(own_sandbox):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        networks = list(pool.map(lambda _: sandbox.seed(own_sandbox.url, "ap-south-1"), range(3)))
    assert len({network.vpc_id for network in networks}) == 1
    tagged = _ec2(own_sandbox.url, "ap-south-1").describe_vpcs(
        Filters=[{"Name": "tag:pushstack:sandbox", "Values": ["network"]}]
    )
    assert len(tagged["Vpcs"]) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},  # a page's fetch, or a cross-site form
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},  # an <img> or <script>
        {"Host": "rebind.attacker.example"},  # DNS rebinding
    ],
)
def test_web_pages_cannot_read_or_change_the_sandbox(sandbox_server, headers):
    """moto shows NoEcho parameters (the crypto key) in clear: no page may reach it."""
    request = urllib.request.Request(
        sandbox_server.url + "/?Action=DescribeStacks&Version=2010-05-15",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/"
            "cloudformation/aws4_request, SignedHeaders=host, Signature=0",
            **headers,
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value as response:  # closes the connection
        assert response.code == 403
        assert "Access-Control-Allow-Origin" not in response.headers
        assert b"sandbox answers" in response.read()


def test_local_programs_still_reach_the_sandbox_without_cors_headers(sandbox_server):
    request = urllib.request.Request(
        sandbox_server.url + "/?Action=DescribeStacks&Version=2010-05-15",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/"
            "cloudformation/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert b"DescribeStacksResponse" in response.read()
        assert "Access-Control-Allow-Origin" not in response.headers
