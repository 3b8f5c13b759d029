"""The autopush-rs nodes' environment, read the way autopush-rs 1.83.1 reads it.

The boot script runs for real (tests/test_boot_script.py's stand-ins); its env
file is then checked against a copy of autopush-rs's settings structs, kept in
tests/data/autopush-rs-1.83.1/ (tag 1.83.1, commit 4ebe2624c02b; each file names
the upstream paths and lines it copies). The ``config`` crate maps
``PREFIX__NAME`` to the struct's field ``name`` (prefix and separator as the
files give them); the key lists are read as the copied functions read them.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from test_boot_script import REDIS_ADDRESS, boot, boot_script, env_file, machine  # noqa: F401
from variants import CRYPTO_KEY, OLD_CRYPTO_KEY, VARIANTS

from pushstack.template import build_template

DATA = Path(__file__).parent / "data" / "autopush-rs-1.83.1"
# What ${ImageRepository.RepositoryUri} becomes in AWS.
REPOSITORY = "123456789012.dkr.ecr.us-west-2.amazonaws.com/autopush-rs-1a2b3c4d"


def rust_settings(file: str) -> tuple[str, dict[str, str], str]:
    """(environment prefix, {field: type}, source text) of one copied Settings struct."""
    source = (DATA / file).read_text()
    prefix = re.search(r'pub const ENV_PREFIX: &str = "(\w+)";', source).group(1)
    environment = re.search(r"Environment::with_prefix\((.*?)\)\.separator\(\"(.+?)\"\)", source)
    assert environment.group(2) == "__"  # PREFIX__FIELD
    struct = re.search(r"pub struct Settings \{(.*?)\n\}", source, re.S).group(1)
    # Fields behind a feature the stack's build leaves out do not exist in it.
    struct = re.sub(r'#\[cfg\(feature = "(?!redis)\w+"\)\]\s*(///[^\n]*\n\s*)*pub \w+:', "", struct)
    fields = dict(re.findall(r"^\s*pub (\w+): ([^,\n]+),", struct, re.M))
    return prefix.upper(), fields, source


AUTOCONNECT = rust_settings("autoconnect-settings.rs")
AUTOEND = rust_settings("autoendpoint-settings.rs")


def test_the_copied_structs_are_read_whole():
    """Guards the reader above: the fields the stack relies on are found, the
    reliability ones (feature reliable_report, not built) are not."""
    prefix, fields, _ = AUTOCONNECT
    assert prefix == "AUTOCONNECT"
    assert {"port", "router_port", "router_hostname", "crypto_key", "db_dsn"} <= set(fields)
    assert fields["router_port"] == "u16" and "reliability_dsn" not in fields
    prefix, fields, _ = AUTOEND
    assert prefix == "AUTOEND"
    assert {"host", "port", "endpoint_url", "crypto_keys", "auth_keys", "db_dsn"} <= set(fields)


def check_value(kind: str, value: str) -> None:
    """A value the ``config`` crate can turn into the field's Rust type."""
    kind = re.sub(r"^Option<(.*)>$", r"\1", kind)
    if kind in ("u16", "u32", "u64", "usize"):
        assert value.isdigit() and (kind != "u16" or int(value) < 65536), (kind, value)
    elif kind == "bool":
        assert value in ("true", "false"), value
    else:
        assert kind == "String", kind


def rs_env(root, variant: str, launch_template: str, keys: list[str]) -> dict:
    template = build_template(VARIANTS[variant]).to_dict()
    script = boot_script(template, launch_template, 30).replace(
        "IMAGE=imagerepository.repositoryuri:", f"IMAGE={REPOSITORY}:"
    )
    result, calls, signals = boot(root, script, key=",".join(keys))
    assert result.returncode == 0, result.stderr
    assert len(signals) == 1 and "-e 0" in signals[0]
    assert not any(key in result.stdout + result.stderr for key in keys)
    return env_file(root), calls


def settings_of(env: dict, settings) -> dict[str, str]:
    """The fields the env file sets, each checked against the struct's field and type."""
    prefix, fields, _ = settings
    found = {}
    for name, value in env.items():
        if name == "AWS_DEFAULT_REGION":
            continue  # the AWS SDK's, not autopush-rs's
        assert name.startswith(prefix + "__"), name  # nothing for another program
        field = name.removeprefix(prefix + "__").lower()
        assert field in fields, f"{name}: autopush-rs 1.83.1 has no such setting"
        check_value(fields[field], value)
        found[field] = value
    return found


def autoconnect_keys(value: str) -> list[str]:
    """AppState::from_settings: [ and ], then split on ',' and trim each."""
    source = AUTOCONNECT[2]
    assert "crypto_key.starts_with('[') && crypto_key.ends_with(']')" in source
    assert ".split(',')\n            .map(|s| s.trim().to_string())" in source
    assert value.startswith("[") and value.endswith("]")
    return [key.strip() for key in value[1:-1].split(",")]


def autoend_list(value: str) -> list[str]:
    """Settings::make_fernet / auth_keys: drop '"' and ' ', then [ ], split on ','."""
    source = AUTOEND[2]
    assert "replace(['\"', ' '], \"\")" in source and "items.split(',')" in source
    value = value.replace('"', "").replace(" ", "")
    assert value.startswith("[") and value.endswith("]")
    return value[1:-1].split(",")


KEY_LISTS = pytest.mark.parametrize(
    "keys", [[CRYPTO_KEY], [CRYPTO_KEY, OLD_CRYPTO_KEY]], ids=["one key", "two keys"]
)


@KEY_LISTS
@pytest.mark.parametrize("variant", ["rs", "rs-tls-ssh-images"])
def test_autoconnect_gets_only_its_settings_and_every_key(machine, variant, keys):  # noqa: F811
    env, calls = rs_env(machine, variant, "ConnectionLaunchTemplate", keys)
    settings = settings_of(env, AUTOCONNECT)
    tls = VARIANTS[variant].tls
    assert settings["port"] == "8080" and settings["router_port"] == "8081"
    assert settings["router_hostname"] == "10.0.0.5"  # the node's own address, for the router
    assert settings["endpoint_scheme"] == ("https" if tls else "http")
    assert settings["endpoint_port"] == ("443" if tls else "80")
    assert settings["db_dsn"] == f"redis://{REDIS_ADDRESS}:6379"  # no TLS: not rediss://
    keys_read = autoconnect_keys(settings["crypto_key"])
    assert keys_read == keys  # newest first: the first encrypts
    for key in keys_read:
        Fernet(key)  # what fernet::Fernet::new accepts (32 bytes of URL-safe base64)
    [run] = [line for line in calls if line.startswith("docker run")]
    assert CRYPTO_KEY not in run


@KEY_LISTS
@pytest.mark.parametrize("variant", ["rs", "rs-tls-ssh-images"])
def test_autoendpoint_gets_its_settings_keys_and_auth_key(machine, variant, keys):  # noqa: F811
    env, _ = rs_env(machine, variant, "EndpointLaunchTemplate", keys)
    settings = settings_of(env, AUTOEND)
    assert settings["host"] == "0.0.0.0" and settings["port"] == "8082"
    url = urlsplit(settings["endpoint_url"])
    assert url.scheme == ("https" if VARIANTS[variant].tls else "http") and url.hostname
    # autoendpoint matches a VAPID audience against this URL's (lowercased) origin.
    assert url.netloc == url.netloc.lower()
    assert settings["db_dsn"] == f"redis://{REDIS_ADDRESS}:6379"
    assert autoend_list(settings["crypto_keys"]) == keys
    # validate_auth_keys: at least one non-empty key, or autoendpoint refuses to start.
    assert "must contain at least one non-empty key" in AUTOEND[2]
    auth = autoend_list(settings["auth_keys"])
    assert auth and all(auth)


def test_the_stack_built_images_are_pulled_after_an_ecr_login(machine):  # noqa: F811
    _, calls = rs_env(machine, "rs", "ConnectionLaunchTemplate", [CRYPTO_KEY])
    login = [i for i, line in enumerate(calls) if line.startswith("aws ecr get-login-password")]
    pull = [i for i, line in enumerate(calls) if line.startswith("docker pull")]
    assert login and pull and login[0] < pull[0]
    assert "--region us-west-2" in calls[login[0]]  # the registry's own region
    assert calls[pull[0]].endswith(f"{REPOSITORY}:autoconnect-1.83.1")
