"""What a change set does to data: read from the deployed template, never from a type alone."""

from __future__ import annotations

from collections.abc import Mapping

# Types whose replacement or removal puts data at risk, in the user's words.
DATA_TYPES = {
    "AWS::DynamoDB::Table": "the DynamoDB table {id} (subscriptions and stored messages)",
    "AWS::SecretsManager::Secret": "the crypto key's secret {id}",
    "AWS::S3::Bucket": "the log bucket {id}",
    "AWS::ElastiCache::CacheCluster": "the ElastiCache cluster {id} (the Messages API's "
    "registered keys and message lists)",
    "AWS::ElastiCache::ReplicationGroup": "the ElastiCache replication group {id} "
    "(autopush-rs's subscriptions and waiting messages, or the Messages API's keys)",
}


def kept_policies(template: Mapping) -> dict[str, tuple[bool, bool]]:
    """By logical id: (kept when removed, kept when replaced), from the deployed template's
    DeletionPolicy and UpdateReplacePolicy (CloudFormation deletes by default)."""
    keep = ("Retain", "RetainExceptOnCreate")
    return {
        logical_id: (
            resource.get("DeletionPolicy") in keep,
            resource.get("UpdateReplacePolicy") in keep,
        )
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, Mapping)
    }


def danger(
    action: str,
    kind: str,
    logical_id: str,
    replacement: str,
    kept: tuple[bool, bool] | None = None,
) -> str | None:
    """What a change does to data, in words, when it replaces or removes a data resource;
    "retained" only where the deployed template says so (``kept``: ``kept_policies``)."""
    what = DATA_TYPES.get(kind)
    if what is None:
        return None
    what = what.format(id=logical_id)
    kept_on_remove, kept_on_replace = kept or (False, False)
    if action == "Remove":
        if kept_on_remove:
            return (
                f"Removes {what} from the stack; it is retained in the account but no longer used."
            )
        return f"Deletes {what}, with its data: the deployed template does not retain it."
    if action == "Modify" and replacement in ("True", "Conditional"):
        old = (
            "the old one is retained" if kept_on_replace else "the old one and its data are deleted"
        )
        may = "Replaces" if replacement == "True" else "May replace"
        return f"{may} {what}: the stack would switch to a new, empty one ({old})."
    return None
