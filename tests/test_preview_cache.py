"""Each template shape is rendered once and reused; the key covers every branch, never the key."""

import dataclasses
import json
import random
import threading
import time
from urllib.parse import urlsplit

import pytest
from conftest import KNOWN_KEY, PROCESSOR_FORM, VALID_FORM

import webapp.preview
from pushstack import render
from pushstack.options import SPECS, Options, generate_crypto_key
from pushstack.template import build_template
from webapp import create_app
from webapp.preview_cache import NOT_IN_TEMPLATE, Background, Busy, ShapeCache, shape_key

# Values each option may take in a random deployment: "" leaves it empty (or default).
# Every option must be here, so a new option is exercised by the shape test too.
EXAMPLES = {
    "stack_name": ["autopush", "push-a", "Other-Stack-2"],
    "region": ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"],
    "crypto_key": [""],  # filled with fresh keys below
    "table_prefix": ["autopush_a1b2", "prod.push", "x-y_z"],
    "reuse_tables": [False, True],
    "vpc_id": ["", "vpc-0123456789abcdef0", "vpc-deadbeef"],
    "subnet_ids": [(), ("subnet-0123456789abcdef0", "subnet-0123456789abcdef1")]
    + [tuple(f"subnet-{i:08x}" for i in range(n)) for n in (3, 6)],
    "log_processing": ["none", "firehose", "processor"],
    "private_subnet_ids": [
        (),
        ("subnet-0123456789abcdef2",),
        ("subnet-aaaaaaaa", "subnet-bbbbbbbb"),
    ],
    "private_route_table_ids": [(), ("rtb-0123456789abcdef0",), ("rtb-aaaaaaaa", "rtb-bbbbbbbb")],
    "existing_s3_endpoint": [False, True],
    "messages_api_subnet_id": ["", "subnet-0123456789abcdef2", "subnet-cccccccc"],
    "processor_code_bucket": ["", "my-processor-code", "other.bucket"],
    "processor_code_key": ["push_processor.zip", "code/v2/processor.zip"],
    "redis_node_type": ["cache.t3.micro", "cache.m5.large"],
    "autopush_image": ["mozilla/autopush:1.57.0", "example/autopush@sha256:" + "a" * 64],
    "messages_api_image": ["mozilla/push-messages:latest", "example/messages:0.7"],
    "certificate_arn": ["", "CERTIFICATE"],  # of the options' own region
    "key_name": ["", "admin", "ops key"],
    "ssh_cidr": ["203.0.113.0/24", "10.0.0.0/8"],  # given with a key name only
    "messages_api_cidr": ["", "10.0.0.0/16", "198.51.100.0/24"],
    "endpoint_hostname": ["", "updates.push.example.com"],
    "websocket_hostname": ["", "push.example.com", "ws.example.org"],
    "messages_api_hostname": ["", "messages.example.com"],
    "hosted_zone_id": ["", "Z0123456789ABCDEFGHIJ"],
    "engine": ["autopush-rs", "autopush-legacy"],
    "autoconnect_image": ["", "example/autoconnect:1.83.1"],
    "autoendpoint_image": ["", "example/autoendpoint:1.83.1"],
    "store_node_type": ["cache.t3.small", "cache.m5.large"],
    "store_single_node": [False, True],
    "ami_id": ["", "ami-0123456789abcdef0"],
}
for _group in ("connection", "endpoint", "messages_api"):
    EXAMPLES[f"{_group}_instance_type"] = ["t3.small", "c5.large"]
    EXAMPLES[f"{_group}_min_size"] = [1, 2]
    EXAMPLES[f"{_group}_max_size"] = [4, 10]
    EXAMPLES[f"{_group}_desired_capacity"] = [2, 3]


def random_options(rng: random.Random) -> Options:
    values = {name: rng.choice(EXAMPLES[name]) for name in SPECS}
    values["crypto_key"] = ",".join(generate_crypto_key() for _ in range(rng.choice((1, 2))))
    if values["certificate_arn"]:
        values["certificate_arn"] = (
            f"arn:aws:acm:{values['region']}:123456789012:certificate/"
            "12345678-1234-1234-1234-123456789012"
        )
    if not values["key_name"]:
        values["ssh_cidr"] = None
    values = {name: value for name, value in values.items() if value not in ("", None)}
    return Options(**values)


def test_every_option_has_examples():
    assert set(SPECS) <= set(EXAMPLES), "add the new option's values to EXAMPLES"


def template_text(options: Options) -> str:
    return render.to_json(build_template(options), indent=2)


def twin(options: Options, rng: random.Random) -> Options:
    """Other random values where ``options`` has values, empty where it is empty."""
    other = random_options(rng)
    values = {}
    for name in SPECS:
        mine, theirs = getattr(options, name), getattr(other, name)
        if mine in (None, "", (), False) or SPECS[name].parameter is None or name == "engine":
            theirs = mine if name not in NOT_IN_TEMPLATE else theirs
        elif theirs in (None, "", ()):
            theirs = (
                next(v for v in EXAMPLES[name] if v not in ("", ()))
                if name != "crypto_key"
                else mine
            )
        values[name] = theirs
    if values["certificate_arn"]:
        values["certificate_arn"] = options.certificate_arn.replace(
            options.region, values["region"]
        )
    return dataclasses.replace(options, **values)


def test_same_shape_means_the_same_template():
    """The key covers every branch of build_template: equal keys, byte-equal templates."""
    rng = random.Random(20261128)
    shapes = set()
    for _ in range(80):
        options = random_options(rng)
        other = twin(options, rng)
        assert shape_key(other) == shape_key(options)
        assert other.non_secret_values() != options.non_secret_values()
        assert template_text(other) == template_text(options), f"{options}\n{other}"
        shapes.add((options.log_processing, options.tls, options.ssh))
    assert len(shapes) == 12  # every log processing with and without TLS and SSH


@pytest.mark.parametrize("log_processing", ["none", "processor"])
def test_every_option_that_changes_the_template_changes_the_key(log_processing):
    """One option at a time, through every example value: a new template means a new key."""
    region = "eu-west-1"
    base = Options(
        **{
            name: next(v for v in EXAMPLES[name] if v not in ("", ()))
            for name in SPECS
            if name != "crypto_key"
        },
    )
    base = dataclasses.replace(
        base,
        region=region,
        log_processing=log_processing,
        crypto_key=generate_crypto_key(),
        certificate_arn=f"arn:aws:acm:{region}:123456789012:certificate/"
        "12345678-1234-1234-1234-123456789012",
    )
    base_text = template_text(base)
    for name in SPECS:
        for value in EXAMPLES[name]:
            if name == "certificate_arn" and value:
                continue
            changed = dataclasses.replace(base, **{name: None if value == "" else value})
            if template_text(changed) != base_text:
                assert shape_key(changed) != shape_key(base), (name, value)


def test_values_alone_do_not_change_the_key_or_the_template():
    base = Options(
        stack_name="a",
        region="us-east-1",
        crypto_key=generate_crypto_key(),
        table_prefix="p1",
        vpc_id="vpc-0123456789abcdef0",
        subnet_ids=("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
    )
    other = dataclasses.replace(
        base,
        stack_name="b",
        region="eu-west-1",
        crypto_key=generate_crypto_key(),
        table_prefix="p2",
        vpc_id="vpc-deadbeef",
        subnet_ids=("subnet-aaaaaaaa", "subnet-bbbbbbbb", "subnet-cccccccc"),
        autopush_image="example/autopush:2",
        connection_instance_type="c5.large",
        endpoint_max_size=9,
    )
    assert shape_key(base) == shape_key(other)
    assert template_text(base) == template_text(other)


@pytest.mark.parametrize(
    "change",
    [
        {"log_processing": "firehose"},
        {"reuse_tables": True},
        {"engine": "autopush-rs"},
        {"key_name": "admin", "ssh_cidr": "203.0.113.0/24"},
        {
            "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/"
            "12345678-1234-1234-1234-123456789012"
        },
    ],
)
def test_a_different_shape_has_another_key(change):
    base = Options(crypto_key=generate_crypto_key(), engine="autopush-legacy")
    changed = dataclasses.replace(base, **change)
    assert shape_key(base) != shape_key(changed)
    assert template_text(base) != template_text(changed)


def test_the_crypto_key_is_never_in_a_key():
    first = Options(crypto_key=KNOWN_KEY)
    second = dataclasses.replace(first, crypto_key="")
    assert shape_key(first) == shape_key(second)
    assert KNOWN_KEY not in repr(shape_key(first))


# The cache itself.


def test_cache_renders_once_however_many_ask_at_once():
    cache = ShapeCache(max_shapes=4, max_cold_renders=2)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return object()

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 8 and all(result is results[0] for result in results)


def test_cache_keeps_only_the_most_recent_shapes():
    cache = ShapeCache(max_shapes=2)
    for key in "abc":
        cache.get(key, lambda key=key: key.upper())
    assert len(cache) == 2
    assert cache.get("a", lambda: "rendered again") == "rendered again"
    assert cache.get("c", lambda: "not again") == "C"


def test_cold_renders_are_bounded_and_a_waiter_is_told_to_retry():
    cache = ShapeCache(max_cold_renders=1, wait_seconds=0.2)
    started, release = threading.Event(), threading.Event()

    def blocking():
        started.set()
        release.wait(5)
        return "slow"

    thread = threading.Thread(target=cache.get, args=("slow", blocking))
    thread.start()
    started.wait(5)
    with pytest.raises(Busy):
        cache.get("other", lambda: "never")
    release.set()
    thread.join()
    assert cache.get("other", lambda: "now") == "now"


def test_a_failed_render_is_not_cached():
    cache = ShapeCache()

    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get("k", broken)
    assert cache.get("k", lambda: "fine") == "fine"


def test_background_work_runs_one_at_a_time_and_queues_a_bounded_amount():
    background = Background(workers=1, max_queued=2)
    running, release = [], threading.Event()

    def work(name):
        running.append(name)
        release.wait(5)
        return name.upper()

    assert background.get("a", lambda: work("a")) is None
    assert background.get("b", lambda: work("b")) is None
    assert background.get("c", lambda: work("c")) is None  # refused: two already wait
    time.sleep(0.2)
    assert running == ["a"]  # one at a time
    release.set()
    assert background.get("a", lambda: work("a"), wait=5) == "A"
    assert background.get("b", lambda: work("b"), wait=5) == "B"
    assert background.get("c", lambda: work("c"), wait=5) == "C"  # asked again: done now
    assert running == ["a", "b", "c"]


# Through the wizard.


def preview_path(client, form) -> str:
    response = client.post("/", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return urlsplit(response.headers["Location"]).path


def test_previews_of_one_shape_render_once_and_show_their_own_values(app, client):
    first = preview_path(client, VALID_FORM)
    other_key = generate_crypto_key()
    form = {**VALID_FORM, "stack_name": "other-stack", "region": "sa-east-1"}
    second = preview_path(client, {**form, "crypto_key": other_key, "table_prefix": "other_p"})
    first_page = client.get(first).get_data(as_text=True)
    second_page = client.get(second).get_data(as_text=True)
    client.get(second + "?format=yaml")
    client.get(second + "/template.yaml")
    with app.app_context():
        assert webapp.preview.get_cache().renders == 1
    assert "Preview: stack <code>push-test</code> in eu-west-1" in first_page
    assert "Preview: stack <code>other-stack</code> in sa-east-1" in second_page
    assert "--stack-name other-stack" in second_page
    first_parameters = client.get(first + "/parameters.json").get_data(as_text=True)
    second_parameters = json.loads(client.get(second + "/parameters.json").get_data(as_text=True))
    assert KNOWN_KEY in first_parameters
    values = {p["ParameterKey"]: p["ParameterValue"] for p in second_parameters}
    assert values["CryptoKey"] == other_key
    assert values["TablePrefix"] == "other_p"


def test_nothing_cached_holds_the_crypto_key(app, client):
    path = preview_path(client, PROCESSOR_FORM)
    assert client.get(path).status_code == 200
    with app.app_context():
        cache = webapp.preview.get_cache()
        (artifacts,) = cache._entries.values()
    for field in dataclasses.fields(artifacts):
        value = getattr(artifacts, field.name)
        text = json.dumps(render.to_dict(value)) if field.name == "template" else repr(value)
        assert KNOWN_KEY not in text, field.name


def test_a_swamped_wizard_says_try_again(monkeypatch):
    app = create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "PREVIEW_COLD_RENDERS": 1,
            "PREVIEW_WAIT_SECONDS": 0.2,
        }
    )
    client = app.test_client()
    path = preview_path(client, VALID_FORM)
    with app.app_context():
        cache = webapp.preview.get_cache()
    assert cache._cold.acquire(timeout=1)  # another shape's cold render holds the only slot
    try:
        response = client.get(path)
    finally:
        cache._cold.release()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Wait a few seconds and reload" in response.get_data(as_text=True)
    assert client.get(path).status_code == 200
