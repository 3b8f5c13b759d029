"""``from_input``: options from what a user gave (form, CLI, query string), each value
parsed against its spec, then the rules that tie several options together; every
error at once, in an ``OptionsError``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping

from pushstack.options.model import Options, generate_crypto_key, generate_table_prefix
from pushstack.options.specs import (
    AUTOPUSH_RS_VERSION,
    HOSTNAME_OPTIONS,
    NO_CODEBUILD_REGIONS,
    RS,
    SPECS,
    Spec,
    _required,
)


class OptionsError(ValueError):
    """Bad options: ``errors`` maps each bad option name to what is allowed."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in self.errors.items()))


def _is_fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32
    except (binascii.Error, ValueError):
        return False


def split_list(raw: object) -> tuple[str, ...]:
    """Items of a list option given as a list, or text split on commas and line breaks."""
    if isinstance(raw, list | tuple):
        items = [str(item) for item in raw]
    else:
        items = re.split(r"[,\s]+", str(raw or ""))
    return tuple(item.strip() for item in items if item.strip())


def parse_value(spec: Spec, raw: object) -> object:
    """One option's value from what the user gave; ``ValueError`` says what is allowed."""
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw or "").strip().lower()
        if text in ("1", "true", "yes", "on", "y"):
            return True
        if text in ("", "0", "false", "no", "off", "n"):
            return False
        raise ValueError("Must be yes or no.")
    if spec.kind == "list":
        items = split_list(raw)
        _check_count(spec, len(items), "items")
        for item in items:
            if not re.fullmatch(spec.pattern, item):
                raise ValueError(f"'{_shorten(item)}' is not valid: give {spec.allowed}.")
        if len(set(items)) != len(items):
            what = "route table" if items[0].startswith("rtb-") else "subnet"
            raise ValueError(f"Each {what} may be listed only once.")
        if items and spec.min_items and len(items) < spec.min_items:
            raise ValueError(f"Give at least {spec.min_items}, in different availability zones.")
        return items
    text = "" if raw is None else str(raw).strip()
    if spec.kind == "int":
        if not text:
            return spec.default
        try:
            number = int(text)
        except ValueError:
            raise ValueError(
                f"Must be a whole number from {spec.min_value} to {spec.max_value}."
            ) from None
        if not spec.min_value <= number <= spec.max_value:
            raise ValueError(f"Must be from {spec.min_value} to {spec.max_value}.")
        return number
    if not text:
        return spec.default
    if spec.kind == "choice":
        if text not in spec.choices:
            raise ValueError(f"Must be one of: {', '.join(spec.choices)}.")
        return text
    if spec.kind == "secret":
        text = re.sub(r"\s+", "", text)
        keys = text.split(",")
        _check_count(spec, len(keys), "keys")
        if not all(re.fullmatch(spec.pattern, key) and _is_fernet_key(key) for key in keys):
            # Never quote the value back: it is a secret.
            raise ValueError(f"Not a valid key list: give {spec.allowed}.")
        if len(set(keys)) != len(keys):
            raise ValueError("The same key is listed twice.")
        return text
    if spec.min_length and len(text) < spec.min_length:
        raise ValueError(f"Too short: give {spec.allowed}.")
    if spec.max_length and len(text) > spec.max_length:
        raise ValueError(f"Too long: give {spec.allowed}.")
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise ValueError(f"'{_shorten(text)}' is not valid: give {spec.allowed}.")
    return text


def _check_count(spec: Spec, count: int, what: str) -> None:
    """Refuse more items than the stack takes, before looking at each one."""
    if spec.max_items and count > spec.max_items:
        raise ValueError(
            f"Too many {what} ({count}): give at most {spec.max_items}, as {spec.max_items_why}."
        )


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cross_checks(values: dict[str, object]) -> dict[str, str]:
    """Rules that tie several options together; keyed by the option to fix."""
    errors: dict[str, str] = {}
    for group in ("connection", "endpoint", "messages_api"):
        low = values.get(f"{group}_min_size")
        high = values.get(f"{group}_max_size")
        want = values.get(f"{group}_desired_capacity")
        if None in (low, high, want):
            continue
        if low >= high:
            # A rolling update keeps the minimum in service while it adds a new
            # node, which CloudFormation allows only below the maximum.
            errors[f"{group}_max_size"] = (
                "Must be above the minimum, so that updates can replace nodes one at a time."
            )
        elif not low <= want <= high:
            errors[f"{group}_desired_capacity"] = "Must be between the minimum and the maximum."
    if values.get("engine") == RS and values.get("log_processing") in ("firehose", "processor"):
        # autopush-rs logs JSON lines to its standard output; it has no Firehose
        # sender and logs none of the deliveries the processor counts.
        errors["log_processing"] = (
            "autopush-rs cannot feed this: it writes its logs to the nodes' journal, not "
            "to Firehose, and does not log the deliveries the processor counts. Choose "
            '"none", or the autopush-legacy engine.'
        )
    if values.get("engine") == RS:
        images = [n for n in ("autoconnect_image", "autoendpoint_image") if values.get(n)]
        if not images and values.get("region") in NO_CODEBUILD_REGIONS:
            errors["autoconnect_image"] = (
                f"CodeBuild, which builds the images, is not offered in {values['region']}: "
                "give both images (built by a stack in another region, for instance)."
            )
        if len(images) == 1:
            other = ({"autoconnect_image", "autoendpoint_image"} - set(images)).pop()
            errors[other] = (
                "Give both images, or neither (the stack then builds both from "
                f"autopush-rs {AUTOPUSH_RS_VERSION})."
            )
    if values.get("key_name") and not values.get("ssh_cidr"):
        errors["ssh_cidr"] = "Give the admin network allowed to SSH with this key pair."
    if values.get("ssh_cidr") and not values.get("key_name"):
        errors["key_name"] = "Give the key pair to use with the SSH admin network."
    certificate = values.get("certificate_arn")
    if certificate and values.get("region") and certificate.split(":")[3] != values["region"]:
        # A load balancer takes only a certificate of its own region.
        errors["certificate_arn"] = (
            f"This certificate is in {certificate.split(':')[3]}; the stack is in "
            f"{values['region']}: give a certificate of {values['region']} (or request one there in ACM)."
        )
    for name in ("ssh_cidr", "messages_api_cidr"):
        cidr = values.get(name)
        if cidr and name not in errors:
            try:
                network = ipaddress.IPv4Network(cidr, strict=False)
            except ValueError:
                errors[name] = f"Not an IPv4 network: give {SPECS[name].allowed}."
            else:
                if str(network.network_address) != cidr.split("/")[0]:
                    errors[name] = f"Not a network address: host bits are set (try {network})."
    processor = values.get("log_processing") == "processor"
    names = [n for n in HOSTNAME_OPTIONS if processor or not SPECS[n].only_for]
    for reason, why in (
        ("certificate_arn", "Give the host name the TLS certificate covers: clients check it."),
        ("hosted_zone_id", "Give the host name to create in the hosted zone."),
    ):
        if values.get(reason):
            for name in names:
                if not values.get(name):
                    errors.setdefault(name, why)
    return errors


def from_input(
    data: Mapping[str, object], *, fill_secrets: bool = True, require_deploy: bool = False
) -> Options:
    """Options from user input (form, CLI, query string), all errors at once.

    Empty crypto key and table prefix are generated when ``fill_secrets``.
    With ``require_deploy``, the options a deployment needs (VPC, subnets, ...)
    must be given too. Raises ``OptionsError`` naming every bad option.
    """
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    try:
        log_processing = parse_value(SPECS["log_processing"], data.get("log_processing"))
    except ValueError:
        log_processing = None
    try:
        engine = parse_value(SPECS["engine"], data.get("engine"))
    except ValueError:
        engine = None
    for name, spec in SPECS.items():
        if spec.only_for and spec.only_for != log_processing:
            continue  # belongs to another log-processing choice: ignored, as the form hides it
        if spec.only_engine and engine and spec.only_engine != engine:
            continue  # belongs to the other engine: ignored
        raw = data.get(name)
        try:
            value = parse_value(spec, raw)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if value is not None:
            values[name] = value
    for name, message in _cross_checks(values).items():
        errors.setdefault(name, message)
    if require_deploy:
        for name, spec in SPECS.items():
            if spec.only_engine not in (None, engine):
                continue
            if name == "private_route_table_ids" and values.get("existing_s3_endpoint"):
                continue  # no endpoint to add
            if spec.required and spec.only_for in (None, log_processing) and not values.get(name):
                errors.setdefault(name, _required(spec))
    if values.get("reuse_tables"):
        # Reused tables are only readable with the prefix and key that wrote them,
        # so check before generating new ones.
        for name, what in (("table_prefix", "prefix"), ("crypto_key", "crypto key")):
            if name not in values:
                errors.setdefault(
                    name, f"Give the {what} of the earlier deployment whose tables you reuse."
                )
    if errors:
        raise OptionsError(errors)
    if fill_secrets:
        values.setdefault("crypto_key", generate_crypto_key())
        values.setdefault("table_prefix", generate_table_prefix())
    return Options(**values)
