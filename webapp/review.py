"""The values to check before deploying: those that differ from the defaults.

A share link can set every option but the crypto key, and some of them decide
what code runs with that key and the nodes' IAM role (the images, the
processor's code) or who can reach the nodes and data (SSH, TLS, reused
tables). Those come first wherever the wizard lists what differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pushstack.options import SPECS, Options, parse_value

# Images, code location, then access settings; names not (yet) in SPECS are skipped.
REVIEW_FIRST = (
    "autopush_image",
    "messages_api_image",
    "processor_code_bucket",
    "processor_code_key",
    "key_name",
    "ssh_cidr",
    "certificate_arn",
    "reuse_tables",
    "messages_api_cidr",
    "endpoint_hostname",
    "websocket_hostname",
    "messages_api_hostname",
    "hosted_zone_id",
)


@dataclass(frozen=True)
class Change:
    """One option whose value is not its default, in words."""

    name: str
    label: str
    value: str
    review_first: bool


def review_order() -> list[str]:
    """Every option but the crypto key: the sensitive ones first, then page order."""
    first = [name for name in REVIEW_FIRST if name in SPECS]
    rest = [name for name in SPECS if name not in first]
    return [name for name in first + rest if SPECS[name].kind != "secret"]


def changed_from_defaults(options: Options) -> list[Change]:
    """The options of this deployment that differ from their defaults, sensitive first."""
    changes = []
    for name in review_order():
        if not options.applies(name):
            continue
        value = getattr(options, name)
        if _same(value, SPECS[name].default):
            continue
        changes.append(_change(name, value))
    return changes


def link_changes(args: Mapping[str, str]) -> list[Change]:
    """What a share link (query string) sets away from the defaults, sensitive first.

    Bad values are listed as given: the form shows them and refuses them on submit.
    """
    try:
        log_processing = parse_value(SPECS["log_processing"], args.get("log_processing"))
    except ValueError:
        log_processing = SPECS["log_processing"].default
    changes = []
    for name in review_order():
        spec = SPECS[name]
        if name not in args or (spec.only_for and spec.only_for != log_processing):
            continue
        try:
            value = parse_value(spec, args[name])
        except ValueError:
            value = str(args[name])[:80]
        if not _same(value, spec.default):
            changes.append(_change(name, value))
    return changes


def _same(value: object, default: object) -> bool:
    empty = (None, "", ())
    if value in empty and default in empty:
        return True
    return value == default


def _change(name: str, value: object) -> Change:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list | tuple):
        text = ", ".join(value)
    else:
        text = str(value)
    return Change(name, SPECS[name].label, text, name in REVIEW_FIRST)
