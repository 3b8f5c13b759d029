"""Cutting snapshot lines out of an offer file shaped like AWS's bulk price list (no network)."""

import csv
import io

from pushstack.cost import offers

HEADER = [
    "SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate",
    "StartingRange", "EndingRange", "Unit", "PricePerUnit", "Currency", "Product Family",
    "serviceCode", "Location", "Instance Type", "Tenancy", "Operating System",
    "License Model", "usageType", "Pre Installed S/W", "CapacityStatus", "Volume API Name",
    "Group", "Cache Engine",
]  # fmt: skip


def offer_file(rows):
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(["FormatVersion", "v1.0"])
    writer.writerow(["Disclaimer", "This pricing list is for informational purposes only."])
    writer.writerow(["Publication Date", "2026-11-20T18:01:02Z"])
    writer.writerow(["Version", "20261120180102"])
    writer.writerow(["OfferCode", "AmazonEC2"])
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([row.get(name, "") for name in HEADER])
    return out.getvalue().splitlines(keepends=True)


def instance(instance_type, usd, **overrides):
    return {
        "SKU": f"SKU-{instance_type}-{usd}", "TermType": "OnDemand", "Unit": "Hrs",
        "PricePerUnit": str(usd), "Currency": "USD", "Product Family": "Compute Instance",
        "Instance Type": instance_type, "Tenancy": "Shared", "Operating System": "Linux",
        "License Model": "No License required", "usageType": f"USW2-BoxUsage:{instance_type}",
        "Pre Installed S/W": "NA", "CapacityStatus": "Used", **overrides,
    }  # fmt: skip


def test_the_linux_shared_on_demand_price_is_taken_and_the_rest_ignored():
    rows = [
        instance("t3.small", 0.0208),
        instance("t3.small", 0.0392, **{"Operating System": "Windows"}),
        instance("t3.small", 0.0104, TermType="Reserved"),
        instance("t3.small", 0.0, CapacityStatus="UnusedCapacityReservation"),
        instance("t3.small", 0.1, Tenancy="Dedicated"),
        instance("c5.large", 0.085),
        {"SKU": "X", "TermType": "OnDemand", "PricePerUnit": "0.08", "Currency": "USD",
         "Product Family": "Storage", "Volume API Name": "gp3", "Unit": "GB-Mo"},
    ]  # fmt: skip
    published, parsed = offers.read_rows(offer_file(rows))
    found = offers.extract(parsed, [i for i in offers.items() if i.offer == "AmazonEC2"])
    assert published == "2026-11-20"
    assert found["ec2:t3.small"] == (0.0208, "instance-hour")
    assert found["ec2:c5.large"] == (0.085, "instance-hour")
    assert found["ebs:gp3"] == (0.08, "GB-month")
    assert "ec2:m5.large" not in found  # absent from the file: not made up


def test_a_per_request_price_is_scaled_to_the_snapshots_unit_and_free_tiers_skipped():
    rows = [
        {"SKU": "F", "TermType": "OnDemand", "PricePerUnit": "0", "StartingRange": "0",
         "Currency": "USD", "Group": "AWS-Lambda-Requests", "usageType": "Request"},
        {"SKU": "R", "TermType": "OnDemand", "PricePerUnit": "0.0000002", "StartingRange": "0",
         "Currency": "USD", "Group": "AWS-Lambda-Requests", "usageType": "USW2-Request"},
        {"SKU": "A", "TermType": "OnDemand", "PricePerUnit": "0.00000013", "StartingRange": "0",
         "Currency": "USD", "Group": "AWS-Lambda-Requests", "usageType": "USW2-Request-ARM"},
    ]  # fmt: skip
    _, parsed = offers.read_rows(offer_file(rows))
    found = offers.extract(parsed, offers.items())
    assert found["lambda:requests"] == (0.2, "million requests")


def cache_node(engine, node_type, usd, **overrides):
    return {
        "SKU": f"SKU-{engine}-{node_type}", "TermType": "OnDemand", "Unit": "Hrs",
        "PricePerUnit": str(usd), "Currency": "USD", "Product Family": "Cache Instance",
        "serviceCode": "AmazonElastiCache", "Location": "US West (Oregon)",
        "Instance Type": node_type, "Cache Engine": engine,
        "usageType": f"USW2-NodeUsage:{node_type}", **overrides,
    }  # fmt: skip


def test_valkey_and_redis_oss_nodes_are_cut_apart_and_memcached_ignored():
    """AWS's ElastiCache offer lists a node type once per engine (its "Cache Engine" column)."""
    rows = [
        cache_node("Redis", "cache.t3.small", 0.034),
        cache_node("Valkey", "cache.t3.small", 0.0272),
        cache_node("Memcached", "cache.t3.small", 0.034),
        cache_node("Valkey", "cache.t3.small", 0.02, TermType="Reserved"),
        cache_node("Valkey", "cache.m5.large", 0.1248),
        cache_node("Redis", "cache.m5.large", 0.156),
    ]
    _, parsed = offers.read_rows(offer_file(rows))
    found = offers.extract(parsed, [i for i in offers.items() if i.offer == "AmazonElastiCache"])
    assert found["elasticache:cache.t3.small"] == (0.034, "node-hour")
    assert found["elasticache-valkey:cache.t3.small"] == (0.0272, "node-hour")
    assert found["elasticache-valkey:cache.m5.large"] == (0.1248, "node-hour")
    assert found["elasticache:cache.m5.large"] == (0.156, "node-hour")
    assert "elasticache-valkey:cache.t3.micro" not in found  # absent from the file


def test_every_node_type_the_form_offers_has_a_valkey_and_a_redis_item():
    from pushstack.options import CACHE_NODE_TYPES

    names = {item.item for item in offers.items()}
    for node_type in CACHE_NODE_TYPES:
        assert {f"elasticache:{node_type}", f"elasticache-valkey:{node_type}"} <= names


def test_every_item_of_the_shipped_snapshot_has_a_matcher():
    from pushstack.cost import snapshot

    items = {item.item for item in offers.items()}
    assert {item for (_, item) in snapshot().prices} <= items
