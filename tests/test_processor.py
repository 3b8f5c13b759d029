"""The push processor Lambda (processor/push_processor.py), run on generated
autopush log objects in moto's S3 server and a real redis-server, its result
read back the way the Push Messages API (push-messages 0.7) reads it."""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest
import redis
from botocore.config import Config
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "push_processor", ROOT / "processor" / "push_processor.py"
)
pp = importlib.util.module_from_spec(_spec)
sys.modules["push_processor"] = pp
_spec.loader.exec_module(pp)

BUCKET = "push-logs-test"
KEY_A = "BPq0qdqLxYmCNKNbyaHxVcNfx4cMs3q8ql9qQ0rpVTKy5YTb4XWKzDTl6WTnNdyfU6sJwLx6vUBjJjb3k6F4Kc0"
KEY_B = "BNgWnL9Hc2dQh4YpJYvI6o6J2ts8ZwWmGkX6vVd8oMnN0yVb1nLrYdP2i6G8HBnN1xQhYyQXbqgfB3lCkP0uN2s"
KEY_UNKNOWN = (
    "BOtherKeyNotRegisteredAnywhere0000000000000000000000000000000000000000000000000000000"
)
# 2026-01-01T00:00:00Z; each generated record is one second after the one before.
T0 = 1767225600.0


# ------------------------------------------------------------------ servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_server():
    """A real redis-server on 127.0.0.1 with a free port, no persistence."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if binary is None:
        if os.environ.get("PUSHSTACK_REQUIRE_REDIS"):
            pytest.fail("redis-server is missing (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    for _attempt in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            proc.kill()
            proc.wait()
            continue  # the port was taken meanwhile, or it did not start: try another
        client.close()
        try:
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        return
    pytest.fail("redis-server did not start")


@pytest.fixture
def redis_client(redis_server):
    client = redis.Redis(host="127.0.0.1", port=redis_server)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="module")
def moto_endpoint():
    """moto's S3 server (real HTTP) on 127.0.0.1 with a free port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)
    client.close()


@pytest.fixture
def configured(s3, redis_server, redis_client):
    """Settings in the bucket as the stack writes them; keys A and B registered
    the way push-messages registers them."""
    put_settings(s3, {"redis_host": "127.0.0.1", "redis_port": str(redis_server)})
    redis_client.hset("registered_keys", KEY_A, "")
    redis_client.hset("registered_keys", KEY_B, "")
    return s3


def put_settings(s3, settings) -> None:
    s3.put_object(Bucket=BUCKET, Key=pp.SETTINGS_KEY, Body=json.dumps(settings).encode())


# ---------------------------------------------------------- generated logs


def record(message, seconds=0.0, **fields) -> dict:
    """One record as autopush 1.57.0's PushLogger.json_format writes it."""
    return {
        "Hostname": "i-0123456789abcdef0",
        "Timestamp": (T0 + seconds) * 1000 * 1000 * 1000,  # a float, in nanoseconds
        "Type": "twisted:log",
        "Severity": 5,
        "EnvVersion": "2.0",
        "Fields": {"message": message, **fields},
        "Logger": "autoendpoint-1.57.0",
    }


def delivery(key, n, message="Successful delivery", **overrides) -> dict:
    fields = {
        "jwt_crypto_key": key,
        "jwt_aud": "https://push.example.com",
        "message_id": f"gAAAAABmsg{n:04d}",
        "message_size": 100 + n,
        "message_ttl": 60 * n,
        "uaid_hash": "c2f3a",
        "router_key": "webpush",
        "code": 201,
        **overrides,
    }
    return record(message, seconds=n, **fields)


def log_object(records) -> bytes:
    """What Firehose writes: each record is \\x1e + JSON + newline."""
    out = []
    for item in records:
        body = item if isinstance(item, bytes) else json.dumps(item).encode()
        out.append(b"\x1e" + body + b"\n")
    return b"".join(out)


def put_log(s3, key, records, compress=False) -> str:
    data = log_object(records)
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(data) if compress else data)
    return key


def s3_event(*keys, bucket=BUCKET) -> dict:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}},
            }
            for key in keys
        ]
    }


def run(event, s3) -> dict:
    """The handler as Lambda runs it, with the test's S3 client and the real
    Redis client factory (pointed at the redis-server by the settings)."""
    return pp.handle(event, s3_factory=lambda: s3, redis_factory=pp.default_redis_client)


# ------------------------------------------- reading as push-messages does


def get_messages(client, public_key):
    """push-messages 0.7's GET /messages/{key}: (status, body)."""
    if not client.hexists("registered_keys", public_key):
        return 404, None
    raw = [m for m in client.lrange(public_key, 0, 200) if m]
    if not raw:
        return 204, None
    loaded = [json.loads(m) for m in raw]
    return 200, {
        "messages": [
            {
                "id": m["id"],
                "timestamp": float(m["timestamp"]),
                "size": int(m["size"]),
                "ttl": int(m["ttl"]),
            }
            for m in loaded
        ]
    }


def ids(client, key) -> list[str]:
    status, body = get_messages(client, key)
    assert status == 200, status
    return [m["id"] for m in body["messages"]]


# ------------------------------------------------------------------- tests


def test_keeps_both_kinds_of_delivery_for_registered_keys(configured, redis_client):
    put_log(
        configured,
        "logs/2026/01/01/00/stream-1",
        [
            record("Request timings", seconds=0.5, request_time=3),
            delivery(KEY_A, 1),
            delivery(KEY_A, 2, message="Router miss, message stored."),
            delivery(KEY_B, 3),
            record("Successful delivery", seconds=4, message_id="novapid", message_size=1),
            delivery(KEY_A, 5, message="Message Validation Error"),
        ],
    )
    result = run(s3_event("logs/2026/01/01/00/stream-1"), configured)
    assert result == {
        "objects": 1,
        "records": 6,
        "bad": 0,
        "selected": 3,
        "keys_updated": 2,
        "skipped_objects": [],
    }
    status, body = get_messages(redis_client, KEY_A)
    assert status == 200
    assert body["messages"] == [
        {"id": "gAAAAABmsg0002", "timestamp": (T0 + 2) * 1e9, "size": 102, "ttl": 120},
        {"id": "gAAAAABmsg0001", "timestamp": (T0 + 1) * 1e9, "size": 101, "ttl": 60},
    ]
    assert ids(redis_client, KEY_B) == ["gAAAAABmsg0003"]
    # The timestamp is in nanoseconds, as the developer dashboard divides it.
    stored = json.loads(redis_client.lindex(KEY_A, 0))
    assert set(stored) == {"id", "timestamp", "size", "ttl"}
    assert stored["timestamp"] == int((T0 + 2) * 1e9)


def test_bad_records_are_counted_and_skipped(configured, redis_client):
    bad = [
        b"this is not json",
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        json.dumps({"Timestamp": 1, "Type": "twisted:log"}).encode(),  # no Fields
        json.dumps(record(None)).encode(),  # Fields.message not a string
        delivery(KEY_A, 10, message_id=None),
        delivery(KEY_A, 11, message_size="big"),
        delivery(KEY_A, 12, message_size=True),
        delivery(KEY_A, 13, message_ttl="60"),
        delivery(KEY_A, 14, message_ttl=-1),
        delivery(KEY_A, 15, jwt_crypto_key=["not", "a", "string"]),
        {**delivery(KEY_A, 16), "Timestamp": "yesterday"},
    ]
    missing_id = delivery(KEY_A, 17)
    del missing_id["Fields"]["message_id"]
    good = [delivery(KEY_A, 1), delivery(KEY_A, 2)]
    put_log(configured, "logs/mixed", [good[0], *bad, missing_id, good[1]])
    result = run(s3_event("logs/mixed"), configured)
    assert result["bad"] == len(bad) + 1
    assert result["records"] == len(bad) + 3
    assert result["selected"] == 2
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0002", "gAAAAABmsg0001"]


def test_missing_ttl_is_zero_and_integral_timestamps_are_kept(configured, redis_client):
    no_ttl = delivery(KEY_A, 1)
    del no_ttl["Fields"]["message_ttl"]  # autopush drops a None TTL from Fields
    as_int = {**delivery(KEY_A, 2), "Timestamp": 1767225602123456789}
    put_log(configured, "logs/ttl", [no_ttl, as_int])
    run(s3_event("logs/ttl"), configured)
    _, body = get_messages(redis_client, KEY_A)
    assert [m["ttl"] for m in body["messages"]] == [120, 0]
    assert json.loads(redis_client.lindex(KEY_A, 0))["timestamp"] == 1767225602123456789


def test_unknown_key_is_not_stored(configured, redis_client):
    put_log(configured, "logs/unknown", [delivery(KEY_UNKNOWN, 1), delivery(KEY_B, 2)])
    result = run(s3_event("logs/unknown"), configured)
    assert result["selected"] == 1
    assert result["bad"] == 0
    assert not redis_client.exists(KEY_UNKNOWN)
    assert get_messages(redis_client, KEY_UNKNOWN) == (404, None)
    assert get_messages(redis_client, KEY_A) == (204, None)
    assert ids(redis_client, KEY_B) == ["gAAAAABmsg0002"]


def test_missing_settings_is_a_clear_error(s3, redis_client, caplog):
    redis_client.hset("registered_keys", KEY_A, "")
    put_log(s3, "logs/waiting", [delivery(KEY_A, 1)])
    with caplog.at_level(logging.ERROR, logger="push_processor"):
        result = run(s3_event("logs/waiting"), s3)
    assert "processor_settings.json" in result["error"]
    assert result["skipped_objects"] == ["logs/waiting"]
    mine = [r for r in caplog.records if r.name == "push_processor"]
    assert [r.levelno for r in mine] == [logging.ERROR]
    message = mine[0].getMessage()
    assert "not configured" in message
    assert f"s3://{BUCKET}/processor_settings.json" in message
    assert not redis_client.exists(KEY_A)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"{not json", "is not JSON"),
        (b'["127.0.0.1"]', "must be a JSON object"),
        (b'{"redis_port": 6379}', "has no redis_host"),
        (b'{"redis_host": "127.0.0.1", "redis_port": "port"}', "invalid redis_port"),
    ],
)
def test_unreadable_settings_is_a_clear_error(s3, redis_client, caplog, content, reason):
    redis_client.hset("registered_keys", KEY_A, "")
    s3.put_object(Bucket=BUCKET, Key=pp.SETTINGS_KEY, Body=content)
    put_log(s3, "logs/waiting", [delivery(KEY_A, 1)])
    with caplog.at_level(logging.ERROR, logger="push_processor"):
        result = run(s3_event("logs/waiting"), s3)
    assert reason in result["error"]
    assert any(reason in r.getMessage() for r in caplog.records if r.name == "push_processor")
    assert not redis_client.exists(KEY_A)


def test_gzip_objects(configured, redis_client):
    put_log(configured, "logs/zipped.gz", [delivery(KEY_A, 1), delivery(KEY_A, 2)], compress=True)
    put_log(configured, "logs/plain", [delivery(KEY_A, 3)])
    configured.put_object(Bucket=BUCKET, Key="logs/broken", Body=b"\x1f\x8b\x08\x00truncated")
    result = run(s3_event("logs/zipped.gz", "logs/broken", "logs/plain"), configured)
    assert result["objects"] == 2
    assert result["records"] == 3
    assert result["skipped_objects"] == ["logs/broken"]
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0003", "gAAAAABmsg0002", "gAAAAABmsg0001"]


def test_keeps_the_newest_100_newest_first(configured, redis_client):
    put_log(configured, "logs/many", [delivery(KEY_A, n) for n in range(1, 151)])
    result = run(s3_event("logs/many"), configured)
    assert result["selected"] == 150
    assert redis_client.llen(KEY_A) == 100
    assert ids(redis_client, KEY_A) == [f"gAAAAABmsg{n:04d}" for n in range(150, 50, -1)]
    # Newer messages push the oldest out; an older one arriving late finds its
    # place or, older than all 100 kept, is dropped.
    late = {**delivery(KEY_A, 75, message_id="late"), "Timestamp": (T0 + 75.5) * 1e9}
    put_log(
        configured,
        "logs/more",
        [delivery(KEY_A, 151), delivery(KEY_A, 152), late, delivery(KEY_A, 3)],
    )
    run(s3_event("logs/more"), configured)
    numbered = [f"gAAAAABmsg{n:04d}" for n in range(152, 53, -1)]
    at = numbered.index("gAAAAABmsg0075")
    assert ids(redis_client, KEY_A) == [*numbered[:at], "late", *numbered[at:]]
    assert redis_client.llen(KEY_A) == 100
    _, body = get_messages(redis_client, KEY_A)
    timestamps = [m["timestamp"] for m in body["messages"]]
    assert timestamps == sorted(timestamps, reverse=True)


def test_several_objects_in_one_event(configured, redis_client):
    put_log(configured, "logs/a", [delivery(KEY_A, 1), delivery(KEY_B, 2)])
    put_log(configured, "logs/b", [delivery(KEY_A, 4), delivery(KEY_B, 3)])
    event = s3_event("logs/b", "logs/a")  # events need not come in time order
    result = run(event, configured)
    assert (result["objects"], result["records"], result["selected"]) == (2, 4, 4)
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0004", "gAAAAABmsg0001"]
    assert ids(redis_client, KEY_B) == ["gAAAAABmsg0003", "gAAAAABmsg0002"]
    # Lambda retries an event after an error: the same messages are not kept twice.
    run(event, configured)
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0004", "gAAAAABmsg0001"]


def test_only_log_objects_are_read(configured, redis_client):
    put_log(configured, "errors/failed", [delivery(KEY_A, 1)])
    put_log(configured, "logs/2026/01/01/00/push stream+1", [delivery(KEY_A, 2)])
    event = s3_event(pp.SETTINGS_KEY, "errors/failed", "logs/2026/01/01/00/push stream+1")
    result = run(event, configured)
    assert result["objects"] == 1  # the URL-encoded key was decoded and read
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0002"]
    # The test event S3 sends when notifications are configured.
    assert run({"Service": "Amazon S3", "Event": "s3:TestEvent"}, configured)["objects"] == 0


def test_deleted_object_is_skipped(configured, redis_client):
    put_log(configured, "logs/here", [delivery(KEY_A, 1)])
    result = run(s3_event("logs/gone", "logs/here"), configured)
    assert result["skipped_objects"] == ["logs/gone"]
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0001"]


def test_unreachable_redis_raises_so_lambda_retries(s3, redis_client, caplog):
    port = _free_port()
    put_settings(s3, {"redis_host": "127.0.0.1", "redis_port": port})
    put_log(s3, "logs/x", [delivery(KEY_A, 1)])
    with pytest.raises(redis.ConnectionError):
        run(s3_event("logs/x"), s3)
    assert any(
        f"Cannot reach Redis at 127.0.0.1:{port}" in r.getMessage()
        for r in caplog.records
        if r.name == "push_processor"
    )


def test_lambda_entry_point(configured, redis_client, moto_endpoint, monkeypatch):
    """handler(event, context) with its own boto3 client, as Lambda calls it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    pp.default_s3_client.cache_clear()
    try:
        put_log(configured, "logs/entry", [delivery(KEY_A, 1)])
        result = pp.handler(s3_event("logs/entry"), None)
    finally:
        pp.default_s3_client.cache_clear()
    assert result["selected"] == 1
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0001"]


def test_existing_entries_written_by_others_are_kept(configured, redis_client):
    """Entries already in a key's list (as push-messages' own tests write them)
    are merged by time; unreadable ones are dropped."""
    redis_client.lpush(KEY_A, json.dumps({"id": "old", "ttl": "60", "timestamp": 1.0, "size": 20}))
    redis_client.lpush(KEY_A, "garbage")
    put_log(configured, "logs/merge", [delivery(KEY_A, 1)])
    run(s3_event("logs/merge"), configured)
    assert ids(redis_client, KEY_A) == ["gAAAAABmsg0001", "old"]


def test_split_records():
    data = b'\x1e{}\n\x1e\n\x1e{"a": 1}\n'
    assert list(pp.split_records(data)) == [b"{}\n", b'{"a": 1}\n']
    assert list(pp.split_records(b"")) == []
