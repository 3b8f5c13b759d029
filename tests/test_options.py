"""pushstack.options: what each option accepts, what it refuses and how it says so."""

import base64
import dataclasses
import re

import pytest
from cryptography.fernet import Fernet

from pushstack import options
from pushstack.options import LEGACY, SPECS, Options, OptionsError, parse_value


def from_input(data, **kwargs):
    """options.from_input, the engine legacy unless given: most cases here were written
    for autopush 1.57.0's options (tables, log processing); autopush-rs's have their own."""
    return options.from_input({"engine": LEGACY, **data}, **kwargs)


# Fixed Fernet keys, so test ids and failures are reproducible.
KEY1 = base64.urlsafe_b64encode(bytes(range(32))).decode()
KEY2 = base64.urlsafe_b64encode(b"\xff" * 32).decode()
KEY3 = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()

VPC = "vpc-0123456789abcdef0"
SUBNET_A = "subnet-0123abcd"
SUBNET_B = "subnet-0123456789abcdef0"
SUBNET_C = "subnet-89abcdef"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
DIGEST = "sha256:" + "0123456789abcdef" * 4

# Options some options cannot be given without.
HOSTNAMES = {"endpoint_hostname": "push.example.com", "websocket_hostname": "ws.example.com"}
COMPANIONS = {
    "key_name": {"ssh_cidr": "203.0.113.0/24"},
    "ssh_cidr": {"key_name": "ops"},
    "certificate_arn": HOSTNAMES,
    "hosted_zone_id": HOSTNAMES,
}


def companions(name):
    """What an option must come with: its SSH partner, or the log processing it belongs to."""
    extra = dict(COMPANIONS.get(name, {}))
    if options.SPECS[name].only_for:
        extra["log_processing"] = options.SPECS[name].only_for
        extra["engine"] = options.LEGACY  # the only engine that feeds log processing
    if options.SPECS[name].only_engine:
        extra["engine"] = options.SPECS[name].only_engine
    return extra


def parse(name, raw):
    """The option as from_input reads it, with whatever it must come with."""
    return getattr(from_input({**companions(name), name: raw}), name)


def errors_of(data, **kwargs):
    with pytest.raises(OptionsError) as caught:
        from_input(data, **kwargs)
    return caught.value.errors


GOOD = [
    ("stack_name", "autopush", "autopush"),
    ("stack_name", "A", "A"),
    ("stack_name", "Push-Stack-2", "Push-Stack-2"),
    ("stack_name", "  padded  ", "padded"),
    ("stack_name", "s" * 128, "s" * 128),
    ("stack_name", "", "autopush"),
    ("region", "eu-west-3", "eu-west-3"),
    ("region", "", "us-east-1"),
    ("crypto_key", KEY1, KEY1),
    ("crypto_key", f"{KEY1},{KEY2}", f"{KEY1},{KEY2}"),
    ("crypto_key", f"{KEY1}, {KEY2},\n{KEY3}", f"{KEY1},{KEY2},{KEY3}"),
    ("crypto_key", f"  {KEY2}\n", KEY2),
    ("table_prefix", "abc", "abc"),
    ("table_prefix", "autopush_1a2b3c4d", "autopush_1a2b3c4d"),
    ("table_prefix", "My.Push-Tables_2", "My.Push-Tables_2"),
    ("table_prefix", "p" * 247, "p" * 247),
    ("reuse_tables", "", False),
    ("vpc_id", "vpc-0123abcd", "vpc-0123abcd"),
    ("vpc_id", VPC, VPC),
    ("subnet_ids", f"{SUBNET_A},{SUBNET_B}", (SUBNET_A, SUBNET_B)),
    ("subnet_ids", f"{SUBNET_A}, {SUBNET_B} ,{SUBNET_C}", (SUBNET_A, SUBNET_B, SUBNET_C)),
    ("subnet_ids", f"{SUBNET_A}\n{SUBNET_B}\n", (SUBNET_A, SUBNET_B)),
    ("subnet_ids", f"{SUBNET_A}\r\n{SUBNET_B}", (SUBNET_A, SUBNET_B)),
    ("subnet_ids", [SUBNET_A, SUBNET_B], (SUBNET_A, SUBNET_B)),
    ("subnet_ids", (f" {SUBNET_A} ", SUBNET_B, ""), (SUBNET_A, SUBNET_B)),
    ("subnet_ids", "", ()),
    ("log_processing", "none", "none"),
    ("log_processing", "firehose", "firehose"),
    ("log_processing", "processor", "processor"),
    ("log_processing", None, "none"),
    ("private_subnet_ids", SUBNET_A, (SUBNET_A,)),
    ("private_subnet_ids", f"{SUBNET_A}\n{SUBNET_B}", (SUBNET_A, SUBNET_B)),
    ("messages_api_subnet_id", SUBNET_B, SUBNET_B),
    ("messages_api_subnet_id", "", None),
    ("processor_code_bucket", "abc", "abc"),
    ("processor_code_bucket", "my-code.bucket-1", "my-code.bucket-1"),
    ("processor_code_bucket", "b" * 63, "b" * 63),
    ("processor_code_key", "", SPECS["processor_code_key"].default),
    ("processor_code_key", "code/v1/push-processor_2.zip", "code/v1/push-processor_2.zip"),
    ("processor_code_key", "k" * 1020 + ".zip", "k" * 1020 + ".zip"),
    ("connection_instance_type", "c5.2xlarge", "c5.2xlarge"),
    ("connection_instance_type", "", "t3.small"),
    ("endpoint_instance_type", "t3.micro", "t3.micro"),
    ("messages_api_instance_type", "m5.large", "m5.large"),
    ("connection_min_size", "1", 1),
    ("connection_max_size", "100", 100),
    ("connection_max_size", 100, 100),
    ("connection_desired_capacity", " 3 ", 3),
    ("connection_desired_capacity", "", 2),
    ("endpoint_desired_capacity", "4", 4),
    ("messages_api_max_size", "", 4),
    ("redis_node_type", "cache.m5.large", "cache.m5.large"),
    ("redis_node_type", "", "cache.t3.micro"),
    ("autopush_image", "mozilla/autopush:1.57.0", "mozilla/autopush:1.57.0"),
    ("autopush_image", "registry.example.com:5000/team/autopush:v2", None),
    ("autopush_image", f"mozilla/autopush@{DIGEST}", None),
    ("autopush_image", "", "mozilla/autopush:1.57.0"),
    ("messages_api_image", "ghcr.io/example/push-messages:2.0", None),
    ("certificate_arn", CERT, CERT),
    ("certificate_arn", CERT.replace("arn:aws:", "arn:aws-us-gov:"), None),
    ("certificate_arn", "", None),
    ("key_name", "ops", "ops"),
    ("key_name", "ops key (2024)", "ops key (2024)"),
    ("ssh_cidr", "203.0.113.0/24", "203.0.113.0/24"),
    ("ssh_cidr", "198.51.100.7/32", "198.51.100.7/32"),
    ("ssh_cidr", "10.0.0.0/8", "10.0.0.0/8"),
]


@pytest.mark.parametrize(("name", "raw", "expected"), GOOD)
def test_good_input_is_accepted(name, raw, expected):
    """``expected`` None means: kept as given (after trimming), or empty when not given."""
    if expected is None and raw:
        expected = raw.strip()
    assert parse(name, raw) == expected


@pytest.mark.parametrize("region", options.REGIONS)
def test_every_offered_region_is_accepted(region):
    assert parse("region", region) == region


@pytest.mark.parametrize("raw", ["yes", "Yes", "true", "TRUE", "1", "on", "y", True])
def test_reuse_tables_true(raw):
    opts = from_input({"reuse_tables": raw, "table_prefix": "autopush_abc", "crypto_key": KEY1})
    assert opts.reuse_tables is True


@pytest.mark.parametrize("raw", ["no", "false", "0", "off", "n", "", None, False])
def test_reuse_tables_false(raw):
    assert parse("reuse_tables", raw) is False


# (option, bad input, a fragment of the message that says what is allowed)
BAD = [
    ("stack_name", "1push", "starting with a letter"),
    ("stack_name", "push_stack", "letters, digits and hyphens"),
    ("stack_name", "push stack", "letters, digits and hyphens"),
    ("stack_name", "-push", "starting with a letter"),
    ("stack_name", "pushé", "letters, digits and hyphens"),
    ("stack_name", "s" * 129, "at most 128 characters"),
    ("region", "US-EAST-1", "us-east-1, us-east-2"),
    ("region", "mars-north-1", "Must be one of"),
    ("table_prefix", "ab", "3 to 247 characters"),
    ("table_prefix", "p" * 248, "3 to 247 characters"),
    ("table_prefix", "push tables", "letters, digits, '_', '-' and '.'"),
    ("table_prefix", "push/tables", "letters, digits, '_', '-' and '.'"),
    ("table_prefix", "tablés", "letters, digits, '_', '-' and '.'"),
    ("reuse_tables", "maybe", "yes or no"),
    ("vpc_id", "vpc-123", "vpc-0123456789abcdef0"),
    ("vpc_id", "vpc-0123abcd0", "vpc-0123456789abcdef0"),
    ("vpc_id", "vpc-0123456789abcdef01", "vpc-0123456789abcdef0"),
    ("vpc_id", "vpc-0123456789ABCDEF0", "vpc-0123456789abcdef0"),
    ("vpc_id", "0123abcd", "vpc-0123456789abcdef0"),
    ("vpc_id", SUBNET_A, "vpc-0123456789abcdef0"),
    ("vpc_id", f"{VPC}\nvpc-0123abcd", "vpc-0123456789abcdef0"),
    ("subnet_ids", SUBNET_A, "Give at least 2, in different availability zones."),
    ("subnet_ids", f"{SUBNET_A},{SUBNET_A}", "only once"),
    ("subnet_ids", f"{SUBNET_A},subnet-0123abc", "subnet-0123456789abcdef0"),
    ("subnet_ids", f"{SUBNET_A};{SUBNET_B}", "subnet-0123456789abcdef0"),
    ("subnet_ids", f"{SUBNET_A},{VPC}", "subnet-0123456789abcdef0"),
    ("subnet_ids", f"{SUBNET_A},SUBNET-89ABCDEF", "subnet-0123456789abcdef0"),
    ("log_processing", "lambda", "none, firehose, processor"),
    ("private_subnet_ids", "subnet-xyz", "subnet-0123456789abcdef0"),
    ("private_subnet_ids", f"{SUBNET_B}\n{SUBNET_B}", "only once"),
    ("messages_api_subnet_id", f"{SUBNET_A},{SUBNET_B}", "a subnet id such as"),
    ("messages_api_subnet_id", "subnet-0123abcd0", "a subnet id such as"),
    ("processor_code_bucket", "ab", "3 to 63 lowercase letters"),
    ("processor_code_bucket", "b" * 64, "3 to 63 lowercase letters"),
    ("processor_code_bucket", "My-Bucket", "3 to 63 lowercase letters"),
    ("processor_code_bucket", "-bucket", "3 to 63 lowercase letters"),
    ("processor_code_bucket", "bucket-", "3 to 63 lowercase letters"),
    ("processor_code_bucket", "my_bucket", "3 to 63 lowercase letters"),
    ("processor_code_key", "push_processor.tar.gz", "ending in .zip"),
    ("processor_code_key", "code/with space.zip", "ending in .zip"),
    ("processor_code_key", "k" * 1021 + ".zip", "ending in .zip"),
    ("connection_instance_type", "t2.nano", "t3.micro, t3.small"),
    ("endpoint_instance_type", "T3.SMALL", "Must be one of"),
    ("messages_api_instance_type", "m5.24xlarge", "Must be one of"),
    ("connection_min_size", "0", "from 1 to 100"),
    ("connection_max_size", "101", "from 1 to 100"),
    ("connection_desired_capacity", "two", "whole number from 1 to 100"),
    ("endpoint_min_size", "1.5", "whole number from 1 to 100"),
    ("endpoint_max_size", "-1", "from 1 to 100"),
    ("messages_api_desired_capacity", "1e2", "whole number from 1 to 100"),
    ("redis_node_type", "cache.t2.micro", "cache.t3.micro"),
    ("autopush_image", "Mozilla/Autopush", "container image reference"),
    ("autopush_image", "mozilla/autopush:1; rm -rf /", "container image reference"),
    ("autopush_image", "mozilla/autopush@sha256:abc", "container image reference"),
    ("autopush_image", "i" * 256, "container image reference"),
    ("messages_api_image", "push messages", "container image reference"),
    ("certificate_arn", "arn:aws:iam::123456789012:server-certificate/web", "ACM certificate ARN"),
    ("certificate_arn", CERT.replace("123456789012", "1234"), "ACM certificate ARN"),
    ("certificate_arn", CERT[:-1], "ACM certificate ARN"),
    ("key_name", "ключ", "printable ASCII"),
    ("key_name", "k" * 256, "at most 255 characters"),
    ("ssh_cidr", "203.0.113.0/33", "203.0.113.0/24"),
    ("ssh_cidr", "203.0.113.0", "203.0.113.0/24"),
    ("ssh_cidr", "2001:db8::/32", "203.0.113.0/24"),
    ("ssh_cidr", "999.0.0.0/8", "203.0.113.0/24"),
    ("ssh_cidr", "10.0.0.01/8", "203.0.113.0/24"),
    ("ssh_cidr", "203.0.113.5/24", "host bits"),
    ("ssh_cidr", "0.0.0.0/0", "whole internet"),
    ("ssh_cidr", "10.0.0.0/0", "whole internet"),
    ("ssh_cidr", "0.0.0.0/1", "/8 or narrower"),
    ("ssh_cidr", "128.0.0.0/1", "/8 or narrower"),
    ("ssh_cidr", "10.0.0.0/7", "/8 or narrower"),
]


@pytest.mark.parametrize(("name", "raw", "allowed"), BAD)
def test_bad_input_is_refused_with_what_is_allowed(name, raw, allowed):
    errors = errors_of({**companions(name), name: raw})
    assert list(errors) == [name]
    assert allowed in errors[name]


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        KEY1[:-1],  # no "="
        KEY1 + "=",
        KEY1[:42] + "B=",  # decodes to 32 bytes, but not as Fernet writes keys
        base64.b64encode(b"\xfb" * 32).decode(),  # standard, not URL-safe, base64
        base64.urlsafe_b64encode(bytes(31)).decode(),
        base64.urlsafe_b64encode(bytes(33)).decode(),
        f"{KEY1},",
        f"{KEY1};{KEY2}",
        f"{KEY1},{KEY2[:-2]}",
        "ZmVybmV0LWtleS1ub3QtcmVhbGx5LWEtZmVybmV0LWtleQ",
    ],
)
def test_bad_crypto_key_never_quoted_back(raw):
    errors = errors_of({"crypto_key": raw})
    assert list(errors) == ["crypto_key"]
    assert "Fernet keys" in errors["crypto_key"]
    assert "comma-separated" in errors["crypto_key"]
    for part in [raw, *re.split(r"[,;]", raw)]:
        if len(part) >= 8:
            assert part not in errors["crypto_key"]
            assert part[:8] not in errors["crypto_key"]


def test_repeated_crypto_key_refused_without_quoting_it():
    with pytest.raises(OptionsError) as caught:
        from_input({"crypto_key": f"{KEY1},{KEY2},{KEY1}"})
    assert list(caught.value.errors) == ["crypto_key"]
    assert "twice" in caught.value.errors["crypto_key"]
    assert KEY1 not in str(caught.value)
    assert KEY2 not in str(caught.value)


def test_all_bad_options_reported_at_once():
    errors = errors_of(
        {"stack_name": "1x", "vpc_id": "vpc-1", "connection_min_size": "0", "crypto_key": "k"}
    )
    assert set(errors) == {"stack_name", "vpc_id", "connection_min_size", "crypto_key"}


# Cross-field rules ---------------------------------------------------------

GROUPS = ["connection", "endpoint", "messages_api"]


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize(
    ("low", "want", "high", "bad"),
    [
        ("1", "1", "2", None),
        ("1", "1", "1", "max_size"),  # no room for a rolling update
        ("2", "2", "5", None),
        ("2", "5", "5", None),
        ("1", "100", "100", None),
        ("3", "3", "2", "max_size"),
        ("5", "5", "1", "max_size"),
        ("1", "5", "4", "desired_capacity"),
        ("3", "2", "4", "desired_capacity"),
    ],
)
def test_desired_between_min_and_max(group, low, want, high, bad):
    data = {f"{group}_min_size": low, f"{group}_desired_capacity": want, f"{group}_max_size": high}
    data.update(companions(f"{group}_min_size"))
    if bad is None:
        opts = from_input(data)
        assert getattr(opts, f"{group}_desired_capacity") == int(want)
    else:
        errors = errors_of(data)
        assert list(errors) == [f"{group}_{bad}"]
        assert "minimum" in errors[f"{group}_{bad}"]
        if bad == "max_size":
            assert "above the minimum" in errors[f"{group}_{bad}"]


def test_size_out_of_range_reported_alone_not_as_a_cross_field_error():
    errors = errors_of({"connection_min_size": "3", "connection_max_size": "200"})
    assert list(errors) == ["connection_max_size"]
    assert "from 1 to 100" in errors["connection_max_size"]


@pytest.mark.parametrize(
    ("data", "bad"),
    [
        ({"key_name": "ops"}, "ssh_cidr"),
        ({"ssh_cidr": "203.0.113.0/24"}, "key_name"),
        ({"key_name": "ops", "ssh_cidr": ""}, "ssh_cidr"),
        ({"key_name": "  ", "ssh_cidr": "203.0.113.0/24"}, "key_name"),
    ],
)
def test_ssh_needs_key_pair_and_network(data, bad):
    errors = errors_of(data)
    assert list(errors) == [bad]


def test_ssh_with_key_pair_and_network():
    opts = from_input({"key_name": "ops", "ssh_cidr": "203.0.113.0/24"})
    assert opts.ssh
    assert (opts.key_name, opts.ssh_cidr) == ("ops", "203.0.113.0/24")
    assert not from_input({}).ssh


def test_host_bits_message_suggests_the_network():
    errors = errors_of({"key_name": "ops", "ssh_cidr": "198.51.100.77/24"})
    assert "198.51.100.0/24" in errors["ssh_cidr"]


@pytest.mark.parametrize("cidr", ["999.0.0.0/8", "10.0.0.01/8", "10.256.0.0/16"])
def test_impossible_address_not_blamed_on_host_bits(cidr):
    errors = errors_of({"key_name": "ops", "ssh_cidr": cidr})
    assert "host bits" not in errors["ssh_cidr"]
    assert SPECS["ssh_cidr"].allowed in errors["ssh_cidr"]


@pytest.mark.parametrize("fill_secrets", [True, False])
@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, {"table_prefix", "crypto_key"}),
        ({"table_prefix": "autopush_abc"}, {"crypto_key"}),
        ({"crypto_key": KEY1}, {"table_prefix"}),
    ],
)
def test_reuse_tables_needs_prefix_and_key_of_earlier_deployment(fill_secrets, given, missing):
    errors = errors_of({"reuse_tables": "yes", **given}, fill_secrets=fill_secrets)
    assert set(errors) == missing
    assert all("earlier deployment" in message for message in errors.values())


def test_reuse_tables_errors_come_with_the_other_errors():
    errors = errors_of({"reuse_tables": "yes", "vpc_id": "vpc-1"})
    assert set(errors) == {"vpc_id", "table_prefix", "crypto_key"}


def test_reuse_tables_keeps_the_given_prefix_and_key():
    opts = from_input({"reuse_tables": "on", "table_prefix": "autopush_abc", "crypto_key": KEY1})
    assert (opts.reuse_tables, opts.table_prefix, opts.crypto_key) == (True, "autopush_abc", KEY1)


# Generated values ---------------------------------------------------------


def test_generated_crypto_key_and_prefix_are_valid():
    opts = from_input({})
    assert len(base64.urlsafe_b64decode(opts.crypto_key)) == 32
    assert Fernet(opts.crypto_key.encode()).decrypt(Fernet(opts.crypto_key).encrypt(b"x")) == b"x"
    assert re.fullmatch(SPECS["crypto_key"].pattern, opts.crypto_key)
    assert parse_value(SPECS["crypto_key"], opts.crypto_key) == opts.crypto_key
    prefix_spec = SPECS["table_prefix"]
    assert re.fullmatch(prefix_spec.pattern, opts.table_prefix)
    assert prefix_spec.min_length <= len(opts.table_prefix) <= prefix_spec.max_length
    assert parse_value(prefix_spec, opts.table_prefix) == opts.table_prefix


def test_generated_values_differ_each_time():
    first, second = from_input({}), from_input({})
    assert first.crypto_key != second.crypto_key
    assert first.table_prefix != second.table_prefix


@pytest.mark.parametrize("_", range(50))
def test_generated_crypto_key_matches_the_pattern(_):
    # The pattern's 43rd character class is the subtle part: check it on many keys.
    key = options.generate_crypto_key()
    assert re.fullmatch(SPECS["crypto_key"].parameter_pattern, key)


def test_given_secrets_are_kept_and_nothing_generated_without_fill():
    opts = from_input({"crypto_key": KEY1, "table_prefix": "mine"})
    assert (opts.crypto_key, opts.table_prefix) == (KEY1, "mine")
    bare = from_input({}, fill_secrets=False)
    assert bare.crypto_key == ""
    assert bare.table_prefix is None


def test_crypto_keys_and_table_names():
    opts = from_input({"crypto_key": f"{KEY1},{KEY2}", "table_prefix": "push"})
    assert opts.crypto_keys == [KEY1, KEY2]
    assert opts.table_name("router") == "push_router"
    assert opts.table_name("message") == "push_message"
    longest = from_input({"table_prefix": "p" * SPECS["table_prefix"].max_length})
    assert max(len(longest.table_name(t)) for t in options.TABLE_SUFFIXES) == 255
    assert Options().crypto_keys == []


# Deployment readiness and secrecy ---------------------------------------------

DEPLOYABLE = {"vpc_id": VPC, "subnet_ids": f"{SUBNET_A},{SUBNET_B}"}
ROUTE_TABLE = "rtb-0123456789abcdef0"
PROCESSOR = {
    "log_processing": "processor",
    "private_subnet_ids": SUBNET_C,
    "private_route_table_ids": ROUTE_TABLE,
    "messages_api_subnet_id": SUBNET_C,
    "processor_code_bucket": "push-code",
}


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({}, {"vpc_id", "subnet_ids"}),
        ({"log_processing": "firehose"}, {"vpc_id", "subnet_ids"}),
        (
            {"log_processing": "processor"},
            {
                "vpc_id",
                "subnet_ids",
                "private_subnet_ids",
                "private_route_table_ids",
                "messages_api_subnet_id",
            },
        ),
        ({"vpc_id": VPC}, {"subnet_ids"}),
        (DEPLOYABLE, set()),
        ({**DEPLOYABLE, "log_processing": "firehose"}, set()),
        (
            {**DEPLOYABLE, "log_processing": "processor"},
            {"private_subnet_ids", "private_route_table_ids", "messages_api_subnet_id"},
        ),
        ({**DEPLOYABLE, **PROCESSOR}, set()),
        # The VPC's own S3 endpoint: no route tables to add one to.
        (
            {**DEPLOYABLE, **PROCESSOR, "private_route_table_ids": "", "existing_s3_endpoint": "y"},
            set(),
        ),
        ({**PROCESSOR, "log_processing": "none"}, {"vpc_id", "subnet_ids"}),
    ],
)
def test_missing_for_deploy(data, missing):
    found = from_input(data).missing_for_deploy()
    assert set(found) == missing
    for name, message in found.items():
        assert message.startswith("Required")
        assert SPECS[name].allowed in message


@pytest.mark.parametrize(
    ("data", "applies", "ignored"),
    [
        ({}, ["vpc_id", "connection_min_size"], ["certificate_arn", "key_name", "redis_node_type"]),
        ({"certificate_arn": CERT, **HOSTNAMES}, ["certificate_arn"], ["processor_code_bucket"]),
        ({}, [], ["endpoint_hostname", "hosted_zone_id", "messages_api_cidr"]),
        ({**PROCESSOR, "messages_api_cidr": "10.1.0.0/16"}, ["messages_api_cidr"], []),
        ({"key_name": "ops", "ssh_cidr": "10.0.0.0/8"}, ["key_name", "ssh_cidr"], []),
        (PROCESSOR, ["redis_node_type", "messages_api_min_size"], []),
        ({"log_processing": "firehose"}, [], ["redis_node_type", "messages_api_image"]),
    ],
)
def test_applies(data, applies, ignored):
    opts = from_input(data)
    assert all(opts.applies(name) for name in applies)
    assert not any(opts.applies(name) for name in ignored)


@pytest.mark.parametrize(
    ("log_processing", "firehose", "processor"),
    [("none", False, False), ("firehose", True, False), ("processor", True, True)],
)
def test_log_processing_flags(log_processing, firehose, processor):
    opts = from_input({"log_processing": log_processing})
    assert (opts.firehose, opts.processor) == (firehose, processor)


def test_non_secret_values_omit_the_key():
    opts = from_input({**DEPLOYABLE, **PROCESSOR, "crypto_key": f"{KEY1},{KEY2}"})
    values = opts.non_secret_values()
    assert "crypto_key" not in values
    assert set(values) == set(SPECS) - {"crypto_key"}
    assert values["subnet_ids"] == (SUBNET_A, SUBNET_B)
    assert KEY1 not in repr(values)
    assert KEY2 not in repr(values)


def test_repr_and_str_never_show_the_key():
    opts = from_input({**DEPLOYABLE, "crypto_key": f"{KEY1},{KEY2}"})
    for text in (repr(opts), str(opts), f"{opts}", f"{opts!r}"):
        assert KEY1 not in text
        assert KEY2 not in text
        assert KEY1[:12] not in text
    assert "vpc-0123456789abcdef0" in repr(opts)


def test_options_error_message_names_each_option():
    error = OptionsError({"vpc_id": "Bad VPC.", "stack_name": "Bad name."})
    assert str(error) == "vpc_id: Bad VPC.; stack_name: Bad name."
    assert isinstance(error, ValueError)


# Specs, defaults and CloudFormation patterns ----------------------------------------


def test_every_spec_is_an_options_field_and_back():
    assert {f.name for f in dataclasses.fields(Options)} == set(SPECS)


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_spec_default_passes_its_own_validation(spec):
    parsed = parse_value(spec, spec.default)
    if spec.default is None:
        assert parsed in (None, ())
    else:
        assert parsed == spec.default
        assert parse_value(spec, parsed) == parsed
    if spec.kind == "choice":
        assert spec.default in spec.choices
    if spec.kind == "int":
        assert spec.min_value <= spec.default <= spec.max_value


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_options_defaults_are_spec_defaults(spec):
    value = getattr(Options(), spec.name)
    if spec.default is None:
        assert not value  # empty: None, "" or ()
    else:
        assert value == spec.default


def test_options_defaults_are_what_empty_input_gives():
    assert options.from_input({}, fill_secrets=False) == Options()
    assert Options().engine == "autopush-rs"  # the maintained engine, for new stacks


def test_spec_cli_flags_and_parameters_are_unique():
    flags = [spec.cli_flag for spec in SPECS.values()]
    parameters = [spec.parameter for spec in SPECS.values() if spec.parameter]
    assert len(set(flags)) == len(flags)
    assert len(set(parameters)) == len(parameters)
    assert SPECS["subnet_ids"].cli_flag == "--subnet-ids"
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]+", name) for name in parameters)


def test_spec_messages_are_filled_in():
    for spec in SPECS.values():
        assert spec.label
        assert spec.help
        if spec.pattern:
            assert spec.allowed, spec.name


# Values as CloudFormation receives them (lists joined by commas, as render does),
# and whether each is valid. Bad ones are those the pattern alone must catch.
PATTERN_SAMPLES = {
    "stack_name": None,  # no CloudFormation parameter
    "crypto_key": (
        [KEY1, f"{KEY1},{KEY2}", f"{KEY1},{KEY2},{KEY3}"],
        ["", KEY1[:42] + "B=", f"{KEY1},", f",{KEY1}", f"{KEY1} ,{KEY2}", KEY1 + "\n", "k"],
    ),
    "table_prefix": (
        ["abc", "autopush_1a2b3c4d", "a.b-c_d"],
        ["", "push tables", "push/tables", "abc\n"],
    ),
    "vpc_id": (["vpc-0123abcd", VPC], ["", "vpc-0123abcd0", f"{VPC},{VPC}", "vpc-0123abcd\n"]),
    "subnet_ids": (
        [f"{SUBNET_A},{SUBNET_B}", f"{SUBNET_A},{SUBNET_B},{SUBNET_C}"],
        [
            "",
            f"{SUBNET_A},",
            f"{SUBNET_A},,{SUBNET_B}",
            f"{SUBNET_A}, {SUBNET_B}",
            "subnet-1,subnet-2",
        ],
    ),
    "private_subnet_ids": ([SUBNET_A, f"{SUBNET_A},{SUBNET_B}"], ["", f",{SUBNET_A}"]),
    "messages_api_subnet_id": ([SUBNET_B], [f"{SUBNET_A},{SUBNET_B}", "subnet-0123abcd0"]),
    "private_route_table_ids": (
        [ROUTE_TABLE, f"{ROUTE_TABLE},rtb-12345678"],
        ["", "rtb-1234", f"{ROUTE_TABLE},", SUBNET_A, "RTB-12345678"],
    ),
    "processor_code_bucket": (["abc", "my-code.bucket-1"], ["ab", "My-Bucket", "-bucket"]),
    "processor_code_key": (["push_processor.zip", "a/b.zip"], ["a.tgz", "a b.zip", ".zip"]),
    "autopush_image": (
        ["mozilla/autopush:1.57.0", f"mozilla/autopush@{DIGEST}"],
        ["Mozilla/autopush", "a b", "mozilla/autopush@sha256:abc"],
    ),
    "messages_api_image": (["mozilla/push-messages:0.7"], ["push messages"]),
    "ami_id": (["ami-0123456789abcdef0", "ami-12345678"], ["ami-123", "AMI-12345678", "ami-xyz"]),
    "autoconnect_image": (
        ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/push:autoconnect-1.83.1"],
        ["Push/Autoconnect", "a b"],
    ),
    "autoendpoint_image": (
        [f"registry.example.com:5000/autoendpoint@{DIGEST}"],
        ["autoendpoint image"],
    ),
    "messages_api_cidr": (["10.1.0.0/16"], ["0.0.0.0/0", "10.1.0.0/33", "128.0.0.0/1"]),
    "endpoint_hostname": (
        ["push.example.com", "a-1.b.example"],
        ["example", "-push.example.com", "push..example.com", "push.example.com."],
    ),
    "websocket_hostname": (["ws.push.example.com"], ["ws_push.example.com"]),
    "messages_api_hostname": (["messages.example.com"], ["messages example.com"]),
    "hosted_zone_id": (["Z0123456789ABCDEFGHIJ"], ["z0123", "Z", "/hostedzone/Z0123"]),
    "certificate_arn": ([CERT], [CERT[:-1], CERT + "0", "arn:aws:acm:us-east-1:1:certificate/x"]),
    "key_name": (["ops", "ops key (2024)"], ["ключ", "tab\tkey"]),
    "ssh_cidr": (
        ["203.0.113.0/24", "10.0.0.0/8"],
        ["203.0.113.0/33", "203.0.113.0", "::/0", "0.0.0.0/1", "10.0.0.0/7"],
    ),
}


def _cloudformation_value(value):
    return ",".join(value) if isinstance(value, tuple) else str(value)


PATTERN_CASES = [
    (name, value, good)
    for name, samples in PATTERN_SAMPLES.items()
    if samples
    for good, values in ((True, samples[0]), (False, samples[1]))
    for value in values
]


def test_pattern_samples_cover_every_patterned_parameter():
    patterned = {name for name, spec in SPECS.items() if spec.pattern and spec.parameter}
    assert patterned == {name for name, samples in PATTERN_SAMPLES.items() if samples}
    for spec in SPECS.values():
        if spec.parameter and spec.kind in ("text", "list", "secret"):
            assert spec.parameter_pattern, spec.name
        if spec.kind in ("int", "choice", "bool"):
            assert spec.parameter_pattern is None


@pytest.mark.parametrize(("name", "value", "good"), PATTERN_CASES)
def test_parameter_pattern_agrees_with_python_validation(name, value, good):
    """What Python accepts reaches CloudFormation in a form its pattern accepts, and
    what the pattern refuses Python refuses too, or normalises (trims, drops empties)."""
    spec = SPECS[name]
    anchored = spec.parameter_pattern
    assert anchored.startswith("^")
    assert anchored.endswith("$")
    assert "(?P" not in anchored  # Python-only syntax CloudFormation's Java regex lacks
    try:
        parsed = parse_value(spec, value)
    except ValueError:
        parsed = None
    if good:
        assert _cloudformation_value(parsed) == value
        assert re.fullmatch(anchored, value)
    else:
        assert not re.fullmatch(anchored, value)
        if parsed:
            normalised = _cloudformation_value(parsed)
            assert normalised != value
            assert re.fullmatch(anchored, normalised)


def test_options_of_another_log_processing_choice_are_ignored():
    """The form hides the processor's fields: what they hold cannot block another choice."""
    opts = from_input(
        {"log_processing": "firehose", "messages_api_min_size": "junk", "redis_node_type": "x"}
    )
    assert opts.messages_api_min_size == options.SPECS["messages_api_min_size"].default
    assert opts.redis_node_type == options.SPECS["redis_node_type"].default


def test_require_deploy_reports_missing_options_with_the_bad_ones():
    """All at once: a user fixing one field must not discover the next on resubmit."""
    errors = errors_of(
        {"stack_name": "9bad", "log_processing": "processor", "processor_code_bucket": "X"},
        require_deploy=True,
    )
    assert set(errors) == {
        "stack_name",
        "processor_code_bucket",
        "vpc_id",
        "subnet_ids",
        "private_subnet_ids",
        "private_route_table_ids",
        "messages_api_subnet_id",
    }
    assert errors["vpc_id"].startswith("Required:")


def test_require_deploy_asks_nothing_of_another_log_processing_choice():
    opts = from_input(
        {"vpc_id": "vpc-12345678", "subnet_ids": "subnet-12345678,subnet-87654321"},
        require_deploy=True,
    )
    assert opts.missing_for_deploy() == {}


def test_certificate_must_be_in_the_stack_region():
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    errors = errors_of({"region": "us-west-2", "certificate_arn": arn})
    assert "eu-west-1" in errors["certificate_arn"] and "us-west-2" in errors["certificate_arn"]
    assert from_input({"region": "eu-west-1", "certificate_arn": arn, **HOSTNAMES}).tls


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.0.0/0"])
def test_whole_internet_ssh_is_refused_by_the_parameter_pattern_too(cidr):
    """Someone editing the parameters file or the console meets the same rule."""
    assert not re.fullmatch(options.SPECS["ssh_cidr"].parameter_pattern, cidr)
    assert "whole internet" in errors_of({"ssh_cidr": cidr, "key_name": "ops"})["ssh_cidr"]


# Host names, the Messages API's network and the processor's code -----------------


@pytest.mark.parametrize(
    ("data", "needed"),
    [
        ({"certificate_arn": CERT}, {"endpoint_hostname", "websocket_hostname"}),
        (
            {"certificate_arn": CERT, "endpoint_hostname": "push.example.com"},
            {"websocket_hostname"},
        ),
        (
            {**PROCESSOR, "certificate_arn": CERT, **HOSTNAMES},
            {"messages_api_hostname"},
        ),
        ({"hosted_zone_id": "Z0123456789ABCDEFGHIJ"}, {"endpoint_hostname", "websocket_hostname"}),
    ],
)
def test_tls_and_dns_records_need_the_host_names(data, needed):
    """No certificate matches the load balancer's own name: TLS needs a host name."""
    errors = errors_of(data)
    assert set(errors) == needed
    assert all("host name" in message for message in errors.values())


def test_host_names_alone_need_neither_tls_nor_a_zone():
    opts = from_input(HOSTNAMES)
    assert opts.endpoint_hostname == "push.example.com" and not opts.tls
    assert opts.applies("endpoint_hostname") and not opts.applies("hosted_zone_id")


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("10.1.2.3/16", "host bits are set (try 10.1.0.0/16)"),
        ("0.0.0.0/0", "whole internet"),
        ("128.0.0.0/1", "/8 or narrower"),
    ],
)
def test_messages_api_network_is_a_network_and_not_the_internet(cidr, message):
    errors = errors_of({**PROCESSOR, "messages_api_cidr": cidr})
    assert message in errors["messages_api_cidr"]


def test_messages_api_is_internal_unless_a_network_is_named():
    assert not from_input(PROCESSOR).messages_api_public
    assert from_input({**PROCESSOR, "messages_api_cidr": "203.0.113.0/24"}).messages_api_public


def test_processor_code_defaults_to_the_zip_pushstack_builds():
    from pushstack.processor_zip import zip_key

    opts = from_input({**PROCESSOR, "processor_code_bucket": ""})
    assert opts.processor_code_key == zip_key()
    assert opts.processor_code_bucket is None  # the artifacts bucket, chosen by the template
    assert not SPECS["processor_code_bucket"].required
    assert re.fullmatch(SPECS["processor_code_bucket"].parameter_pattern, "")


# List lengths: what CloudFormation and the stack accept (issue 8, finding 5) ----------


@pytest.mark.parametrize(
    ("name", "count", "message"),
    [
        ("subnet_ids", 7, "Too many items (7): give at most 6, as a load balancer takes one"),
        ("subnet_ids", 15_000, "Too many items (15000): give at most 6"),
        ("private_subnet_ids", 17, "Too many items (17): give at most 16, as a Lambda function"),
    ],
)
def test_subnet_lists_are_capped_with_a_reason(name, count, message):
    subnets = ",".join(f"subnet-{i:08x}" for i in range(count))
    errors = errors_of({**PROCESSOR, name: subnets})
    assert errors[name].startswith(message)
    assert len(errors[name]) < 200  # the items are not echoed back


def test_crypto_keys_are_capped_by_the_parameter_size_and_never_echoed():
    keys = [Fernet.generate_key().decode() for _ in range(options.CRYPTO_KEYS_MAX + 1)]
    errors = errors_of({"crypto_key": ",".join(keys)})
    assert errors["crypto_key"] == (
        f"Too many keys ({options.CRYPTO_KEYS_MAX + 1}): give at most "
        f"{options.CRYPTO_KEYS_MAX}, as a CloudFormation parameter value holds at most "
        "4,096 bytes."
    )
    most = ",".join(keys[: options.CRYPTO_KEYS_MAX])
    assert len(most.encode()) <= options.PARAMETER_VALUE_MAX
    assert from_input({"crypto_key": most}).crypto_keys == keys[: options.CRYPTO_KEYS_MAX]


@pytest.mark.parametrize("name", ["subnet_ids", "private_subnet_ids"])
def test_the_longest_accepted_subnet_list_fits_a_parameter_value(name):
    spec = SPECS[name]
    longest = ",".join("subnet-" + f"{i:017x}" for i in range(spec.max_items))
    assert len(longest.encode()) <= options.PARAMETER_VALUE_MAX
    assert len(parse_value(spec, longest)) == spec.max_items


def test_every_node_group_is_checked_even_after_one_fails_to_parse():
    """A bad number in one group must not hide the size errors of the next ones."""
    errors = errors_of(
        {
            **PROCESSOR,
            "connection_min_size": "two",
            "endpoint_min_size": "3",
            "endpoint_max_size": "3",
            "messages_api_min_size": "1",
            "messages_api_max_size": "4",
            "messages_api_desired_capacity": "5",
        }
    )
    assert set(errors) == {
        "connection_min_size",
        "endpoint_max_size",
        "messages_api_desired_capacity",
    }
