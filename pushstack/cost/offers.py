"""Cutting the price snapshot's lines out of AWS's public bulk price list (offer files).

The offer files (``pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/
<region>/index.csv``) list every product of a service in a region, one price
dimension a row. They are read as CSV, a row at a time: EC2's runs to gigabytes.
This module only parses (``scripts/refresh-prices`` downloads); tests feed it a
small file of the same shape.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pushstack.options import CACHE_NODE_TYPES, INSTANCE_TYPES

OFFER_URL = (
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.csv"
)

Row = dict[str, str]

# A node-based ElastiCache price's item, by the resource's Engine: "elasticache:<node type>"
# (Redis OSS) or "elasticache-valkey:<node type>".
ELASTICACHE_ITEM = {"redis": "elasticache", "valkey": "elasticache-valkey"}


def _key(name: str) -> str:
    """A column's name as matchers spell it: "Instance Type" and "instanceType" are "instancetype"."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Item:
    """One snapshot item: which offer holds it, which rows are it, and its unit."""

    item: str
    offer: str
    matches: Callable[[Row], bool]
    unit: str
    per: float = 1  # the snapshot's unit in the offer's units (a million requests...)


def _is(**wanted: str) -> Callable[[Row], bool]:
    return lambda row: all(row.get(_key(k), "").lower() == v.lower() for k, v in wanted.items())


def _usage(suffix: str, **wanted: str) -> Callable[[Row], bool]:
    rest = _is(**wanted)
    return lambda row: row.get("usagetype", "").endswith(suffix) and rest(row)


def _x86(match: Callable[[Row], bool]) -> Callable[[Row], bool]:
    return lambda row: match(row) and "ARM" not in row.get("usagetype", "")


def items() -> list[Item]:
    """Every item the snapshot holds for a region."""
    out = [
        Item(
            f"ec2:{instance_type}",
            "AmazonEC2",
            _is(
                productFamily="Compute Instance",
                instanceType=instance_type,
                operatingSystem="Linux",
                tenancy="Shared",
                preInstalledSw="NA",
                capacitystatus="Used",
                licenseModel="No License required",
            ),
            "instance-hour",
        )
        for instance_type in INSTANCE_TYPES
    ]
    out += [
        Item(
            f"ebs:{volume}",
            "AmazonEC2",
            _is(productFamily="Storage", volumeApiName=volume),
            "GB-month",
        )
        for volume in ("gp3", "gp2")
    ]
    out += [
        Item("vpc:public-ipv4", "AmazonVPC", _usage("PublicIPv4:InUseAddress"), "address-hour"),
        Item("nat:hour", "AmazonEC2", _usage("NatGateway-Hours"), "gateway-hour"),
        Item("nat:gb", "AmazonEC2", _usage("NatGateway-Bytes"), "GB processed"),
        Item(
            "transfer:out",
            "AWSDataTransfer",
            _is(transferType="AWS Outbound", toLocation="External"),
            "GB",
        ),
        Item(
            "elb:application",
            "AWSELB",
            _usage("LoadBalancerUsage", productFamily="Load Balancer-Application"),
            "load-balancer-hour",
        ),
        Item(
            "elb:application-lcu",
            "AWSELB",
            _usage("LCUUsage", productFamily="Load Balancer-Application"),
            "LCU-hour",
        ),
        Item(
            "elb:network",
            "AWSELB",
            _usage("LoadBalancerUsage", productFamily="Load Balancer-Network"),
            "load-balancer-hour",
        ),
        Item(
            "elb:network-lcu",
            "AWSELB",
            _usage("LCUUsage", productFamily="Load Balancer-Network"),
            "NLCU-hour",
        ),
    ]
    # Node-based ElastiCache, per engine: "Redis" (Redis OSS, the processor's cache) and
    # "Valkey" (autopush-rs's store), each its own row in the offer file.
    out += [
        Item(
            f"{ELASTICACHE_ITEM[engine]}:{node_type}",
            "AmazonElastiCache",
            _is(productFamily="Cache Instance", instanceType=node_type, cacheEngine=cache_engine),
            "node-hour",
        )
        for engine, cache_engine in (("redis", "Redis"), ("valkey", "Valkey"))
        for node_type in CACHE_NODE_TYPES
    ]
    out += [
        Item("firehose:gb", "AmazonKinesisFirehose", _usage("BilledBytes"), "GB ingested"),
        Item("s3:standard", "AmazonS3", _is(productFamily="Storage", volumeType="Standard"), "GB-month"),
        Item("s3:put", "AmazonS3", _is(group="S3-API-Tier1"), "1,000 requests", 1000),
        Item("lambda:requests", "AWSLambda", _x86(_is(group="AWS-Lambda-Requests")), "million requests", 1e6),
        Item("lambda:gb-second", "AWSLambda", _x86(_is(group="AWS-Lambda-Duration")), "GB-second"),
        Item("dynamodb:writes", "AmazonDynamoDB", _is(group="DDB-WriteUnits", productFamily="Amazon DynamoDB PayPerRequest Throughput"), "million write request units", 1e6),
        Item("dynamodb:reads", "AmazonDynamoDB", _is(group="DDB-ReadUnits", productFamily="Amazon DynamoDB PayPerRequest Throughput"), "million read request units", 1e6),
        Item("dynamodb:storage", "AmazonDynamoDB", _usage("TimedStorage-ByteHrs"), "GB-month"),
        Item("dynamodb:pitr", "AmazonDynamoDB", _usage("TimedPITRStorage-ByteHrs"), "GB-month"),
        Item("secretsmanager:secret", "AWSSecretsManager", _usage("AWSSecretsManager-Secrets"), "secret-month"),
        Item("sqs:requests", "AWSQueueService", _is(group="SQS-APIRequest-Tier1", queueType="Standard"), "million requests", 1e6),
        Item("ecr:storage", "AmazonECR", _usage("TimedStorage-ByteHrs"), "GB-month"),
        Item("logs:ingest", "AmazonCloudWatch", _usage("DataProcessing-Bytes"), "GB ingested"),
        Item("logs:storage", "AmazonCloudWatch", _usage("TimedStorage-ByteHrs", productFamily="Storage Snapshot"), "GB-month"),
    ]  # fmt: skip
    out += [
        Item(
            f"codebuild:BUILD_GENERAL1_{size.upper()}",
            "CodeBuild",
            _is(computeType=f"general1.{size}", operatingSystem="Linux"),
            "build minute",
        )
        for size in ("small", "medium", "large")
    ]
    return out


def read_rows(lines: Iterable[str]) -> tuple[str, Iterator[Row]]:
    """The offer file's publication date and its rows (keys as ``_key`` spells them).

    An offer CSV opens with a few ``"Name","Value"`` lines (FormatVersion,
    Disclaimer, Publication Date, Version, OfferCode), then the header row.
    """
    reader = csv.reader(iter(lines))
    published = ""
    for row in reader:
        if row and row[0] == "Publication Date":
            published = row[1][:10]
        if row and row[0] == "SKU":
            header = [_key(name) for name in row]
            break
    else:
        raise ValueError("not an offer file: no header row")
    return published, (dict(zip(header, row, strict=False)) for row in reader)


def extract(rows: Iterable[Row], wanted: Iterable[Item]) -> dict[str, tuple[float, str]]:
    """Each wanted item's on-demand price (first paid tier) in the snapshot's unit."""
    wanted = list(wanted)
    best: dict[str, tuple[float, float]] = {}  # item -> (starting range, usd in offer units)
    for row in rows:
        if row.get("termtype") != "OnDemand" or row.get("currency", "USD") != "USD":
            continue
        try:
            usd = float(row.get("priceperunit") or 0)
            start = float(row.get("startingrange") or 0)
        except ValueError:
            continue
        if usd <= 0:
            continue  # a free tier's row
        for item in wanted:
            if item.matches(row):
                seen = best.get(item.item)
                if seen is None or start < seen[0]:
                    best[item.item] = (start, usd)
    by_name = {item.item: item for item in wanted}
    return {
        name: (round(usd * by_name[name].per, 10), by_name[name].unit)
        for name, (_, usd) in best.items()
    }
