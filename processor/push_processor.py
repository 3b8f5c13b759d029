"""The push processor: an AWS Lambda function (python3.13, handler
``push_processor.handler``) that turns autopush's Firehose logs into the data
the Push Messages API serves.

Triggered by S3 ObjectCreated events under ``logs/`` of the log bucket, it
reads its settings (``redis_host``, ``redis_port``) from
``processor_settings.json`` in that bucket, reads each new log object (records
of ``\\x1e`` + one JSON object + newline, optionally gzip-compressed), keeps
the deliveries ("Successful delivery", "Router miss, message stored.") whose
``jwt_crypto_key`` is registered in the Redis hash ``registered_keys``, and
keeps for each such key a Redis list named by the key: JSON entries
``{"id", "timestamp", "size", "ttl"}``, newest first, at most 100. The
timestamp is the log record's, in nanoseconds, as the developer dashboard
that reads the Push Messages API expects.

Bad records are skipped and counted, never fatal. A missing or unreadable
settings object is logged as an error and the event is dropped (retrying
cannot help until the settings are fixed); an unreachable Redis raises, so
Lambda retries the event.

Its only dependency beyond the Python runtime is the ``redis`` package
(bundled in the zip that ``pushstack processor-zip`` builds); boto3, which the
Lambda runtime provides, is imported only when the handler first needs S3.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

LOG_PREFIX = "logs/"
SETTINGS_KEY = "processor_settings.json"
REGISTERED_KEYS = "registered_keys"
WANTED_MESSAGES = frozenset({"Successful delivery", "Router miss, message stored."})
MAX_MESSAGES = 100
RECORD_SEPARATOR = b"\x1e"
GZIP_MAGIC = b"\x1f\x8b"
REDIS_TIMEOUT_SECONDS = 10
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404"})

log = logging.getLogger("push_processor")
log.setLevel(logging.INFO)


class BadRecord(ValueError):
    """A log record that cannot be used; the message says why."""


class SettingsError(Exception):
    """The settings object is missing or unusable; the message says why."""


@dataclass(frozen=True)
class Delivery:
    """One wanted log record: a message sent to a registered key."""

    key: str
    id: str
    timestamp: int  # nanoseconds since the epoch, as autopush logs it
    size: int
    ttl: int


@dataclass(frozen=True)
class Settings:
    redis_host: str
    redis_port: int


@dataclass
class Counts:
    """What one invocation saw, logged and returned by the handler."""

    objects: int = 0
    records: int = 0
    bad: int = 0
    selected: int = 0
    keys_updated: int = 0
    skipped_objects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "records": self.records,
            "bad": self.bad,
            "selected": self.selected,
            "keys_updated": self.keys_updated,
            "skipped_objects": list(self.skipped_objects),
        }


# ---------------------------------------------------------------- pure parts


def parse_settings(data: bytes) -> Settings:
    """The settings object's content: JSON with ``redis_host`` and ``redis_port``.

    The port may be a number or a string of digits (CloudFormation custom
    resource properties arrive as strings).
    """
    try:
        settings = json.loads(data)
    except ValueError as exc:
        raise SettingsError(f"{SETTINGS_KEY} is not JSON: {exc}") from None
    if not isinstance(settings, dict):
        raise SettingsError(f"{SETTINGS_KEY} must be a JSON object")
    host = settings.get("redis_host")
    if not isinstance(host, str) or not host.strip():
        raise SettingsError(f"{SETTINGS_KEY} has no redis_host")
    port = settings.get("redis_port", 6379)
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port)
    if not _is_int(port) or not 0 < port < 65536:
        raise SettingsError(f"{SETTINGS_KEY} has an invalid redis_port: {port!r}")
    return Settings(redis_host=host.strip(), redis_port=port)


def decompress(data: bytes) -> bytes:
    """The object's records: gzip is recognised by its magic bytes."""
    if data.startswith(GZIP_MAGIC):
        return gzip.decompress(data)
    return data


def split_records(data: bytes) -> Iterator[bytes]:
    """Each record of a Firehose object: the text between ``\\x1e`` separators.

    JSON escapes control characters inside strings, so a separator never
    occurs inside a record. Blank pieces (before the first separator) are
    not records.
    """
    for piece in data.split(RECORD_SEPARATOR):
        if piece.strip():
            yield piece


def parse_record(raw: bytes) -> dict[str, Any]:
    """One autopush log record: a JSON object with a ``Fields`` object whose
    ``message`` is a string. Raises BadRecord otherwise."""
    try:
        record = json.loads(raw)
    except ValueError:  # includes bad UTF-8
        raise BadRecord("not JSON") from None
    if not isinstance(record, dict):
        raise BadRecord("not a JSON object")
    fields = record.get("Fields")
    if not isinstance(fields, dict):
        raise BadRecord("no Fields object")
    if not isinstance(fields.get("message"), str):
        raise BadRecord("no Fields.message")
    return record


def select(record: dict[str, Any], keys: frozenset[str] | set[str]) -> Delivery | None:
    """The delivery a parsed record describes, when it is one the Push Messages
    API keeps: a wanted message for a registered key. None for every other
    record; BadRecord when a wanted one lacks a field or has a wrong type."""
    fields = record["Fields"]
    if fields["message"] not in WANTED_MESSAGES:
        return None
    key = fields.get("jwt_crypto_key")
    if key is None:
        return None  # a delivery without VAPID: no key to keep it under
    if not isinstance(key, str):
        raise BadRecord("jwt_crypto_key is not a string")
    if key not in keys:
        return None
    message_id = fields.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise BadRecord("no message_id")
    size = fields.get("message_size")
    if not _is_int(size) or size < 0:
        raise BadRecord("message_size is not a whole number")
    # autopush leaves message_ttl out when it is None; that is a TTL of 0.
    ttl = fields.get("message_ttl", 0)
    if not _is_int(ttl) or ttl < 0:
        raise BadRecord("message_ttl is not a whole number")
    timestamp = record.get("Timestamp")
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int | float)
        or not math.isfinite(timestamp)
        or timestamp < 0
    ):
        raise BadRecord("Timestamp is not a number")
    return Delivery(key=key, id=message_id, timestamp=int(timestamp), size=size, ttl=ttl)


def build_entry(delivery: Delivery) -> str:
    """The JSON string the Push Messages API reads for one message."""
    return json.dumps(
        {
            "id": delivery.id,
            "timestamp": delivery.timestamp,
            "size": delivery.size,
            "ttl": delivery.ttl,
        },
        separators=(",", ":"),
    )


def merge_entries(
    existing: Iterable[bytes | str], new: Iterable[Delivery], limit: int = MAX_MESSAGES
) -> list[str]:
    """A key's list after adding new deliveries: newest first, each message once,
    at most ``limit``. Existing entries that are not readable are dropped (the
    Push Messages API would fail on them)."""
    by_id: dict[str, tuple[float, str]] = {}
    for raw in existing:
        try:
            entry = json.loads(raw)
            by_id[str(entry["id"])] = (float(entry["timestamp"]), _as_text(raw))
        except (ValueError, TypeError, KeyError):
            continue
    for delivery in new:
        by_id[delivery.id] = (float(delivery.timestamp), build_entry(delivery))
    ordered = sorted(by_id.values(), key=lambda item: item[0], reverse=True)
    return [text for _, text in ordered[:limit]]


def object_refs(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every log object an S3 event names, in event order.

    Keys arrive URL-encoded. The settings object and anything outside
    ``logs/`` are not log objects.
    """
    refs = []
    for record in event.get("Records") or []:
        try:
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
        except (KeyError, TypeError):
            log.warning("Ignoring an event record that names no S3 object")
            continue
        if key.startswith(LOG_PREFIX):
            refs.append((bucket, key))
    return refs


def deliveries_in(data: bytes, keys: frozenset[str], counts: Counts) -> list[Delivery]:
    """The wanted deliveries of one log object's (decompressed) records; counts
    what it saw."""
    found = []
    for raw in split_records(data):
        counts.records += 1
        try:
            delivery = select(parse_record(raw), keys)
        except BadRecord:
            counts.bad += 1
            continue
        if delivery is not None:
            counts.selected += 1
            found.append(delivery)
    return found


# --------------------------------------------------------------- AWS / Redis


def registered_keys(redis_client: Any) -> frozenset[str]:
    return frozenset(_as_text(key) for key in redis_client.hkeys(REGISTERED_KEYS))


def store(redis_client: Any, deliveries: Iterable[Delivery]) -> int:
    """Merge the deliveries into each key's list (one transaction per key, so
    concurrent invocations do not lose each other's entries). Returns how many
    keys were updated."""
    by_key: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_key.setdefault(delivery.key, []).append(delivery)
    for key, new in by_key.items():

        def update(pipe: Any, key: str = key, new: list[Delivery] = new) -> None:
            merged = merge_entries(pipe.lrange(key, 0, -1), new)
            pipe.multi()
            pipe.delete(key)
            pipe.rpush(key, *merged)

        redis_client.transaction(update, key)
    return len(by_key)


def read_settings(s3: Any, bucket: str) -> Settings:
    try:
        body = s3.get_object(Bucket=bucket, Key=SETTINGS_KEY)["Body"].read()
    except Exception as exc:  # botocore's errors: any failure here means "no settings"
        raise SettingsError(f"cannot read s3://{bucket}/{SETTINGS_KEY}: {exc}") from None
    return parse_settings(body)


@functools.cache
def default_s3_client() -> Any:
    import boto3  # provided by the Lambda runtime

    return boto3.client("s3")


@functools.lru_cache(maxsize=4)
def default_redis_client(settings: Settings) -> Any:
    """One client (and connection pool) per Redis, kept while the Lambda stays warm."""
    import redis

    return redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


def handle(
    event: dict[str, Any],
    s3_factory: Callable[[], Any] = default_s3_client,
    redis_factory: Callable[[Settings], Any] = default_redis_client,
) -> dict[str, Any]:
    """Process one S3 event; returns (and logs) what it did."""
    counts = Counts()
    refs = object_refs(event)
    if not refs:
        log.info("No log objects in this event")
        return counts.as_dict()
    s3 = s3_factory()
    bucket = refs[0][0]
    try:
        settings = read_settings(s3, bucket)
    except SettingsError as exc:
        log.error(
            "Push processor not configured, %d log object(s) not processed: %s",
            len(refs),
            exc,
        )
        result = counts.as_dict()
        result["error"] = str(exc)
        result["skipped_objects"] = [key for _, key in refs]
        return result
    redis_client = redis_factory(settings)
    try:
        keys = registered_keys(redis_client)
    except Exception as exc:
        log.error("Cannot reach Redis at %s:%d: %s", settings.redis_host, settings.redis_port, exc)
        raise  # Redis may be starting or failing over: Lambda retries the event
    if not keys:
        log.info("No keys registered in %s; nothing to keep", REGISTERED_KEYS)
        return counts.as_dict()
    found: list[Delivery] = []
    for object_bucket, key in refs:
        try:
            data = s3.get_object(Bucket=object_bucket, Key=key)["Body"].read()
        except Exception as exc:
            if _error_code(exc) not in MISSING_OBJECT_CODES:
                raise  # throttling, network: Lambda retries the event (entries are merged by id)
            log.error("Log object s3://%s/%s is gone: %s", object_bucket, key, exc)
            counts.skipped_objects.append(key)
            continue
        try:
            data = decompress(data)
        except (OSError, EOFError, zlib.error) as exc:  # a damaged gzip stream
            log.error("Cannot decompress s3://%s/%s: %s", object_bucket, key, exc)
            counts.skipped_objects.append(key)
            continue
        found.extend(deliveries_in(data, keys, counts))
        counts.objects += 1
    counts.keys_updated = store(redis_client, found)
    result = counts.as_dict()
    log.info(
        "Processed %(objects)d object(s), %(records)d record(s): %(selected)d kept "
        "for %(keys_updated)d key(s), %(bad)d bad",
        result,
    )
    return result


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return handle(event)


def _error_code(exc: Exception) -> str:
    """The error code of a botocore ClientError (without importing botocore)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
