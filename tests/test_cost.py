"""The monthly cost estimate: every template shape priced from the dated snapshot."""

import copy
import json
import os
import subprocess
import sys

import pytest
from variants import VARIANTS

from pushstack import cost, render
from pushstack.cost.prices import SNAPSHOT, parse
from pushstack.options import CACHE_NODE_TYPES, REGIONS, Options
from pushstack.template import build_template

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRICES = cost.snapshot()


def price(item, region="us-west-2"):
    return PRICES.get(region, item).usd


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_template_shape_is_priced_resource_by_resource(name):
    options = VARIANTS[name]
    template = render.to_dict(build_template(options))
    est = cost.for_options(options)
    assert est.has_prices and est.total > 0
    assert est.not_priced == ()  # every resource type pushstack writes is known
    accounted = {line.logical_id for line in est.lines} | set(est.free)
    assert accounted - {"(data transfer)"} == set(template["Resources"])
    priced = {line.logical_id: line for line in est.lines}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in (
            "AWS::AutoScaling::AutoScalingGroup",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "AWS::ElastiCache::CacheCluster",
            "AWS::DynamoDB::Table",
        ):
            assert priced[logical_id].monthly_usd > 0, logical_id
    assert est.total == pytest.approx(sum(line.monthly_usd for line in est.lines), abs=0.01)
    assert est.prices_as_of == PRICES.as_of


def test_node_group_line_is_instance_hours_disk_and_address_at_desired_capacity():
    options = Options(**{**VARIANTS["none"].__dict__, "connection_desired_capacity": 3})
    line = next(x for x in cost.for_options(options).lines if x.logical_id == "ConnectionNodes")
    expected = 3 * 730 * (price("ec2:t3.small") + price("vpc:public-ipv4")) + 3 * 30 * price(
        "ebs:gp3"
    )
    assert line.monthly_usd == pytest.approx(expected, abs=0.01)
    assert "3 × t3.small" in line.what


def test_changing_an_instance_type_moves_the_total_by_the_price_difference():
    before = cost.for_options(VARIANTS["processor"])
    after = cost.for_options(
        Options(**{**VARIANTS["processor"].__dict__, "connection_instance_type": "c5.large"})
    )
    desired = VARIANTS["processor"].connection_desired_capacity
    expected = desired * 730 * (price("ec2:c5.large") - price("ec2:t3.small"))
    assert cost.difference(before, after) == pytest.approx(expected, abs=0.02)
    assert expected > 90  # a c5.large costs about four times a t3.small


def test_redis_node_type_moves_the_total_by_its_price():
    before = cost.for_options(VARIANTS["processor"])
    after = cost.for_options(
        Options(**{**VARIANTS["processor"].__dict__, "redis_node_type": "cache.m5.large"})
    )
    expected = 730 * (price("elasticache:cache.m5.large") - price("elasticache:cache.t3.micro"))
    assert cost.difference(before, after) == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
@pytest.mark.parametrize("node_type", CACHE_NODE_TYPES)
def test_the_rust_engines_valkey_store_is_priced_as_valkey_not_redis(region, node_type):
    """The store (Engine valkey) at Valkey's node price; the snapshot has one for each
    node type the form offers, below Redis OSS's."""
    options = Options(**{**VARIANTS["rs"].__dict__, "region": region, "store_node_type": node_type})
    template = render.to_dict(build_template(options))
    assert template["Resources"]["PushStore"]["Properties"]["Engine"] == "valkey"
    line = next(x for x in cost.for_options(options).lines if x.logical_id == "PushStore")
    valkey = price(f"elasticache-valkey:{node_type}", region)
    assert valkey < price(f"elasticache:{node_type}", region)
    assert line.monthly_usd == pytest.approx(2 * 730 * valkey, abs=0.01)
    assert f"2 × {node_type} cache nodes (Valkey)" in line.what


def test_the_processors_redis_cache_stays_priced_as_redis_oss():
    line = next(
        x for x in cost.for_options(VARIANTS["processor"]).lines if x.logical_id == "RedisGroup"
    )
    assert line.monthly_usd == pytest.approx(730 * price("elasticache:cache.t3.micro"), abs=0.01)
    assert "(Redis OSS)" in line.what


def test_an_elasticache_engine_without_prices_is_not_priced_with_the_item():
    template = {
        "Resources": {
            "Cache": {
                "Type": "AWS::ElastiCache::CacheCluster",
                "Properties": {"Engine": "memcached", "CacheNodeType": "cache.t3.micro"},
            }
        }
    }
    est = cost.estimate(template, {}, "us-west-2")
    assert est.lines == ()
    assert "elasticache-memcached:cache.t3.micro" in est.not_priced[0].reason


def test_a_region_without_prices_says_so_instead_of_a_figure():
    est = cost.for_options(Options(**{**VARIANTS["none"].__dict__, "region": "eu-west-1"}))
    assert not est.has_prices
    assert est.lines == () and est.total == 0
    assert "No prices for eu-west-1" in est.message and PRICES.as_of in est.message
    assert "No prices for eu-west-1" in cost.table(est)


@pytest.mark.parametrize("region", REGIONS)
def test_every_region_the_form_offers_has_prices_or_says_it_has_none(region):
    est = cost.for_options(Options(**{**VARIANTS["firehose"].__dict__, "region": region}))
    if est.has_prices:
        assert est.total > 0 and est.not_priced == ()
    else:
        assert region in est.message


def test_an_unknown_resource_type_is_listed_as_not_priced_not_dropped():
    template = render.to_dict(build_template(VARIANTS["none"]))
    template["Resources"]["Search"] = {"Type": "AWS::OpenSearchService::Domain", "Properties": {}}
    est = cost.estimate(template, {}, "us-west-2")
    assert [(n.logical_id, n.resource_type) for n in est.not_priced] == [
        ("Search", "AWS::OpenSearchService::Domain")
    ]
    assert "Search" in cost.table(est) and "Not priced" in cost.table(est)


def test_a_missing_price_names_the_item_and_region():
    data = json.loads(SNAPSHOT.read_text())
    data["prices"] = [p for p in data["prices"] if p["item"] != "ec2:t3.small"]
    est = cost.estimate(
        render.to_dict(build_template(VARIANTS["none"])), {}, "us-west-2", prices=parse(data)
    )
    reasons = {n.logical_id: n.reason for n in est.not_priced}
    assert "ec2:t3.small" in reasons["ConnectionNodes"] and "us-west-2" in reasons["EndpointNodes"]
    assert "ConnectionNodes" not in {line.logical_id for line in est.lines}


def test_resource_types_of_the_rust_engine_are_priced_from_the_template():
    """ElastiCache replication groups, CodeBuild, ECR, a custom resource's Lambda, secrets."""
    template = {
        "Parameters": {"NodeType": {"Type": "String", "Default": "cache.t3.small"}},
        "Resources": {
            "Valkey": {
                "Type": "AWS::ElastiCache::ReplicationGroup",
                "Properties": {
                    "Engine": "valkey",
                    "CacheNodeType": {"Ref": "NodeType"},
                    "NumCacheClusters": 2,
                },
            },
            "RedisGroup": {
                "Type": "AWS::ElastiCache::ReplicationGroup",
                "Properties": {"CacheNodeType": {"Ref": "NodeType"}, "NumCacheClusters": 2},
            },
            "Images": {"Type": "AWS::ECR::Repository", "Properties": {}},
            "Build": {
                "Type": "AWS::CodeBuild::Project",
                "Properties": {"Environment": {"ComputeType": "BUILD_GENERAL1_MEDIUM"}},
            },
            "BuildTrigger": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 256}},
            "RunBuild": {
                "Type": "Custom::ImageBuild",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["BuildTrigger", "Arn"]}},
            },
            "Key": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
            "Token": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
            "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
        },
    }
    est = cost.estimate(template, {}, "us-east-1")
    usd = {line.logical_id: line.monthly_usd for line in est.lines}
    a = cost.Assumptions()
    assert usd["Valkey"] == pytest.approx(
        2 * 730 * price("elasticache-valkey:cache.t3.small"), abs=0.01
    )
    # A replication group without Engine is Redis OSS (CloudFormation's default).
    assert usd["RedisGroup"] == pytest.approx(
        2 * 730 * price("elasticache:cache.t3.small"), abs=0.01
    )
    # A build runs at the first create and at each new release, not every month.
    assert usd["Build"] == 0
    line = next(x for x in est.lines if x.logical_id == "Build")
    one = a.build_minutes * price("codebuild:BUILD_GENERAL1_MEDIUM")
    assert f"${one:.2f}" in line.what and "at the first create and at each new release" in line.what
    monthly = cost.estimate(template, {}, "us-east-1", a.with_values({"builds_a_month": 2}))
    assert next(x for x in monthly.lines if x.logical_id == "Build").monthly_usd == pytest.approx(
        2 * one, abs=0.01
    )
    assert usd["Images"] == pytest.approx(a.image_gb * price("ecr:storage"), abs=0.01)
    assert usd["BuildTrigger"] == 0  # runs only when the stack changes
    assert usd["Key"] == usd["Token"] == price("secretsmanager:secret")
    assert usd["Nat"] == pytest.approx(730 * 0.045 + a.nat_gb * 0.045, abs=0.01)
    assert usd["Jobs"] > 0
    assert est.free == ("RunBuild",) and est.not_priced == ()


def test_a_value_computed_at_deploy_time_is_not_priced_with_the_reason():
    template = copy.deepcopy(render.to_dict(build_template(VARIANTS["none"])))
    group = template["Resources"]["ConnectionNodes"]["Properties"]
    group["DesiredCapacity"] = {"Fn::If": ["Big", 4, 2]}
    est = cost.estimate(template, {}, "us-west-2")
    assert {n.logical_id: n.reason for n in est.not_priced}["ConnectionNodes"].startswith(
        "its size is computed"
    )


def test_every_snapshot_line_has_a_price_its_source_and_date():
    data = json.loads(SNAPSHOT.read_text())
    assert data["as_of"]
    for line in data["prices"]:
        assert line["usd"] > 0 and line["unit"]
        assert line["source"].startswith("https://") and line["date"] <= data["as_of"]


def test_assumptions_are_stated_in_words_and_change_the_figure():
    est = cost.for_options(VARIANTS["none"], cost.Assumptions(data_out_gb=1000))
    assert any("1000 GB a month sent to the internet" in text for text in est.assumptions)
    transfer = next(x for x in est.lines if x.logical_id == "(data transfer)")
    assert transfer.monthly_usd == pytest.approx(1000 * price("transfer:out"), abs=0.01)


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "pushstack", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_cost_command_prints_the_table_with_the_same_options_as_push():
    result = run(
        "cost", "--processor", "--region", "us-west-2", "--redis-node-type", "cache.m5.large"
    )
    assert result.returncode == 0, result.stderr
    assert "prices as of " + PRICES.as_of in result.stdout
    assert "cache.m5.large" in result.stdout and "Total" in result.stdout
    as_json = run("cost", "--processor", "--redis-node-type", "cache.m5.large", "--format", "json")
    data = json.loads(as_json.stdout)
    expected = cost.for_options(
        Options(
            **{
                **VARIANTS["processor"].__dict__,
                "redis_node_type": "cache.m5.large",
                "region": "us-east-1",
            }
        )
    )
    assert data["total"] == pytest.approx(expected.total, abs=0.01)


def test_cost_command_rejects_a_bad_value_like_push():
    result = run("cost", "--connection-instance-type", "t9.huge")
    assert result.returncode == 2
    assert "--connection-instance-type" in result.stderr
