"""The wizard's form, built from ``pushstack.options.SPECS``: no second copy of any rule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from flask import has_request_context, request
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import (
    BooleanField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

from pushstack.options import REGIONS, SPECS, Options, OptionsError, Spec, from_input

PROCESSOR = "processor"

# One sentence per log processing choice, shown beside its radio button.
LOG_PROCESSING_EXPLAINED = {
    "none": "Autopush only: the logs stay on the nodes.",
    "firehose": "The nodes send their logs through Kinesis Firehose to an encrypted S3 bucket.",
    "processor": "Firehose as above, plus the push-processor Lambda, Redis and the Push "
    "Messages API behind the Push Developer Dashboard.",
}

# One sentence per engine, shown beside its radio button.
ENGINE_EXPLAINED = {
    "autopush-rs": "Mozilla's maintained push server (autopush-rs 1.83.1), which the stack "
    "builds in your account and runs on an ElastiCache (Valkey) store. Upstream calls its "
    "Redis and Postgres stores experimental: Mozilla itself runs it on Google Bigtable.",
    "autopush-legacy": "The retired Python server (autopush 1.57.0) on DynamoDB tables: for "
    "an existing deployment whose tables and clients you keep, and for log processing.",
}
# What the radio groups show beside each choice (their values do not overlap).
CHOICES_EXPLAINED = {**LOG_PROCESSING_EXPLAINED, **ENGINE_EXPLAINED}
RADIO_OPTIONS = ("engine", "log_processing")

# How the page groups the options; options not named here land in "More".
SECTIONS = (
    ("Stack", ("stack_name", "region")),
    ("Push engine", ("engine",)),
    ("Crypto key", ("crypto_key",)),
    ("DynamoDB tables", ("table_prefix", "reuse_tables")),
    ("Network", ("vpc_id", "subnet_ids")),
    ("Log processing", ("log_processing",)),
    (
        "Node sizes",
        tuple(
            f"{group}_{what}"
            for group in ("connection", "endpoint")
            for what in ("instance_type", "min_size", "max_size", "desired_capacity")
        ),
    ),
    (
        "Host names and TLS",
        ("certificate_arn", "endpoint_hostname", "websocket_hostname", "hosted_zone_id"),
    ),
    (
        "Images, store and SSH",
        (
            "autopush_image",
            "autoconnect_image",
            "autoendpoint_image",
            "store_node_type",
            "store_single_node",
            "ami_id",
            "key_name",
            "ssh_cidr",
        ),
    ),
)


def _field(spec: Spec):
    """The WTForms field of one option: label, help and choices from its spec."""
    label = spec.label + (" (needed to deploy)" if spec.required else "")
    common = {"label": label, "description": spec.help, "id": spec.name}
    if spec.kind == "bool":
        return BooleanField(default=bool(spec.default), **common)
    if spec.kind == "secret":
        return PasswordField(
            render_kw={"autocomplete": "off", "spellcheck": "false"},
            **common,
        )
    if spec.kind == "list":
        return TextAreaField(render_kw={"rows": 3, "spellcheck": "false"}, **common)
    if spec.kind == "choice":
        # The options layer checks the choice; WTForms' own check would be a second copy.
        field_class = RadioField if spec.name in RADIO_OPTIONS else SelectField
        return field_class(
            choices=list(spec.choices), default=spec.default, validate_choice=False, **common
        )
    render_kw = {"spellcheck": "false", "autocomplete": "off"}
    if spec.kind == "int":
        render_kw["inputmode"] = "numeric"
    default = "" if spec.default is None else str(spec.default)
    return StringField(default=default, render_kw=render_kw, **common)


class OptionsForm(FlaskForm):
    """Every option of a deployment; ``validate`` asks ``pushstack.options``."""

    options: Options | None = None

    def __init__(self, *args, offer_region: str | None = None, **kwargs):
        # The account's choices (and the sandbox's pre-filled network) follow the region:
        # the one given (an update's), else the submitted or linked (?region=) one.
        offer = account_offer(offer_region or _asked_region())
        if offer.prefill and not _is_submitted():
            # The sandbox's seeded network, unless a share link or the caller says otherwise.
            given = kwargs.get("data") or {}
            for name, value in offer.prefill.items():
                if name not in given:
                    kwargs.setdefault(name, value)
        super().__init__(*args, **kwargs)
        self.offer = offer
        for name, spec in SPECS.items():
            # The engine a field belongs to: the page shows it only with that engine.
            self[name].only_engine = spec.only_engine
        for name, (choices, hint) in offer.fields.items():
            self[name].widget = WithChoices(self[name].widget, name, choices, hint)
        if offer.region:
            self.region.widget = RegionWithNetwork(self.region.widget, offer.region)

    def validate(self, extra_validators=None) -> bool:
        """CSRF, then the options layer's checks: every bad or missing option at once,
        each message on its field."""
        if not super().validate(extra_validators):
            return False
        try:
            self.options = from_input(self.option_input(), require_deploy=True)
        except OptionsError as exc:
            self._attach(exc.errors)
            return False
        errors = self.network_errors(self.options)
        if errors:
            self._attach(errors)
            return False
        return True

    def network_errors(self, options: Options) -> dict[str, str]:
        """The VPC and subnets that belong to another region of the account than the
        chosen one (e.g. the pre-filled network, after the region changed): a launch
        would fail on them. Values the account does not know stay allowed (a template
        for another account); so does everything when the account cannot be read."""
        if options.region != self.offer.region or not self.offer.fields:
            return {}
        # Where the values may come from: the region the page offered, the target's own.
        others = [_valid_region(request.form.get(OFFERED_REGION_FIELD)), _target_region()]
        offers = [
            account_offer(region)
            for region in dict.fromkeys(others)
            if region and region != options.region
        ]
        errors = {}
        for name, what in NETWORK_FIELDS.items():
            if SPECS[name].only_for not in (None, options.log_processing):
                continue
            value = getattr(options, name, None)
            given = [value] if isinstance(value, str) else list(value or ())
            here = _values(self.offer, name)
            for offer in offers:
                wrong = [
                    item for item in given if item not in here and item in _values(offer, name)
                ]
                if wrong:
                    listed = "listed under this field" if here else "the account has none there"
                    errors[name] = (
                        f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} {what} of "
                        f"{offer.region}, not of {options.region} (the region chosen above): "
                        f"pick {options.region}'s ({listed}), or choose {offer.region} as the "
                        "region."
                    )
                    break
        for name, message in self.subnet_errors(options).items():
            errors.setdefault(name, message)
        return errors

    def subnet_errors(self, options: Options) -> dict[str, str]:
        """The subnets the account holds in the chosen region that AWS would refuse: one
        of another VPC than the chosen one, push-node subnets not in two availability
        zones or two in one zone (an Application Load Balancer takes one subnet per
        zone, in two zones at least), a Messages API subnet in a zone of no push-node
        subnet (its load balancer is in those). Subnets the account does not hold
        are left alone (unknown_network warns of them)."""
        known = self.offer.subnets
        errors = {}
        for name in ("subnet_ids", "private_subnet_ids", "messages_api_subnet_id"):
            if SPECS[name].only_for not in (None, options.log_processing):
                continue
            value = getattr(options, name, None)
            given = [value] if isinstance(value, str) else list(value or ())
            other: dict[str, list[str]] = {}
            for subnet in given:
                if subnet in known and known[subnet][0] != options.vpc_id:
                    other.setdefault(known[subnet][0], []).append(subnet)
            if other:
                where = "; ".join(
                    f"{', '.join(ids)} {'is' if len(ids) == 1 else 'are'} in {vpc}"
                    for vpc, ids in other.items()
                )
                errors[name] = (
                    f"{where}, not in {options.vpc_id} (the VPC chosen above): a stack's "
                    f"subnets are all in its VPC. Pick subnets of {options.vpc_id} (listed "
                    "under this field), or choose their VPC above."
                )
        if "subnet_ids" not in errors and all(s in known for s in options.subnet_ids):
            zones: dict[str, list[str]] = {}
            for subnet in options.subnet_ids:
                zones.setdefault(known[subnet][1], []).append(subnet)
            shared = [(zone, subnets) for zone, subnets in zones.items() if len(subnets) > 1]
            if shared:
                errors["subnet_ids"] = (
                    "; ".join(f"{' and '.join(s)} are both in {zone}" for zone, s in shared)
                    + ": a load balancer takes one subnet per availability zone. Keep one "
                    "per zone, in two zones or more."
                )
            elif len(zones) < 2:
                errors["subnet_ids"] = (
                    f"All in {', '.join(zones)}: the load balancers need subnets in two "
                    "availability zones or more. Add a subnet of another zone."
                )
            api = options.messages_api_subnet_id
            if (
                options.log_processing == PROCESSOR
                and api in known
                and "messages_api_subnet_id" not in errors
                and known[api][1] not in zones
            ):
                errors["messages_api_subnet_id"] = (
                    f"{api} is in {known[api][1]}, where no push-node subnet is: the Messages "
                    "API's load balancer, in the push nodes' subnets, reaches only their zones "
                    f"({', '.join(sorted(zones))}). Pick a subnet of one of them."
                )
        return errors

    def option_input(self) -> dict[str, object]:
        """The typed values, as ``from_input`` reads them (it ignores the hidden
        fields of another log-processing choice)."""
        return {name: self[name].data for name in SPECS}

    def _attach(self, errors: dict[str, str]) -> None:
        for name, message in errors.items():
            self[name].errors = [*self[name].errors, message]

    def sections(self):
        """(legend, fields) in page order; the processor's fields come apart."""
        placed = {name for _, names in SECTIONS for name in names}
        processor = {name for name, spec in SPECS.items() if spec.only_for == PROCESSOR}
        more = [name for name in SPECS if name not in placed and name not in processor]
        groups = [*SECTIONS, ("More", tuple(more))] if more else list(SECTIONS)
        return [(legend, [self[name] for name in names]) for legend, names in groups]

    @staticmethod
    def asks_once(legend: str, fields) -> bool:
        """A section of one question whose label says its legend: the page asks it once
        (GOV.UK), radios under their fieldset's legend, another field under its label."""
        return len(fields) == 1 and fields[0].label.text.split(" (")[0] == legend

    @staticmethod
    def section_engine(fields) -> str | None:
        """The engine every field of a section belongs to, if one: the section shows
        only with it."""
        engines = {getattr(field, "only_engine", None) for field in fields}
        return engines.pop() if len(engines) == 1 else None

    def processor_fields(self):
        return [self[name] for name, spec in SPECS.items() if spec.only_for == PROCESSOR]


for _name, _spec in SPECS.items():
    setattr(OptionsForm, _name, _field(_spec))


# The hidden field naming the region whose choices the page offered.
OFFERED_REGION_FIELD = "offered_region"

# The fields that name the network of one region, in the user's words (for messages).
NETWORK_FIELDS = {
    "vpc_id": "a VPC",
    "subnet_ids": "subnets",
    "private_subnet_ids": "subnets",
    "messages_api_subnet_id": "a subnet",
}


@dataclass(frozen=True)
class AccountOffer:
    """Choices from the live target's account in one region, by field: (value, label)
    pairs, (value, label, VPC id) for subnets, and a hint; each subnet's VPC and zone,
    which a submit checks; and, in the sandbox, the values the form starts with."""

    fields: dict[str, tuple[list[tuple[str, ...]], str]] = dataclass_field(default_factory=dict)
    prefill: dict[str, object] = dataclass_field(default_factory=dict)
    region: str | None = None  # None: the account could not be read
    subnets: dict[str, tuple[str, str]] = dataclass_field(default_factory=dict)  # (VPC, zone)


def _valid_region(value) -> str | None:
    return value if value in REGIONS else None


def unknown_network(options: Options) -> list[tuple[str, list[str]]]:
    """(label, ids) of the VPC and subnets the account does not hold in the options'
    region, when it can be read: the launch section warns that a launch would fail."""
    offer = account_offer(options.region)
    if not offer.fields:
        return []
    unknown = []
    for name in NETWORK_FIELDS:
        if SPECS[name].only_for not in (None, options.log_processing):
            continue
        value = getattr(options, name, None)
        given = [value] if isinstance(value, str) else list(value or ())
        known = _values(offer, name)
        missing = [item for item in given if item and item not in known]
        if missing:
            unknown.append((SPECS[name].label, missing))
    return unknown


def _values(offer: AccountOffer, name: str) -> set[str]:
    return {choice[0] for choice in offer.fields.get(name, ([], ""))[0]}


def _target_region() -> str | None:
    from webapp import cloud

    try:
        return cloud.get_access().target().region
    except (KeyError, RuntimeError, cloud.CloudError):
        return None


def _asked_region() -> str | None:
    """The region the form was submitted with, or a GET's ``?region=``."""
    if not has_request_context():
        return None
    values = request.form if _is_submitted() else request.args
    return _valid_region(values.get("region"))


# What a subnet's route to 0.0.0.0/0 makes it, in the picker's words.
SUBNET_KINDS = {
    "internet gateway": "public (route to an internet gateway)",
    "NAT gateway": "private (internet through a NAT gateway)",
    "other": "private (0.0.0.0/0 to another target)",
    "": "private (no route to the internet)",
}


def account_offer(region: str | None = None) -> AccountOffer:
    """What the form offers from the account in ``region`` (default: the target's);
    nothing (typing only) when it is unreachable."""
    from webapp import cloud  # the form works without any target

    try:
        access = cloud.get_access()
        region = region or access.target().region
        choices = access.account_choices(region)
        # Seeded for a submitted form only: a GET (a link, another page's <img>) only looks.
        network = access.sandbox_network(
            region, seed=has_request_context() and request.method == "POST"
        )
    except (KeyError, RuntimeError, cloud.CloudError):
        return AccountOffer()
    subnets = sorted(choices.subnets, key=lambda s: (not s.public, s.zone, s.subnet_id))
    private_first = sorted(choices.subnets, key=lambda s: (s.public, s.zone, s.subnet_id))

    def subnet_label(subnet) -> str:
        kind = SUBNET_KINDS.get(subnet.internet, SUBNET_KINDS["other"])
        label = f"{subnet.zone}, {kind}, {subnet.cidr} in {subnet.vpc_id}"
        return label + _name_if_new(subnet.name, label)

    where = f"In {region}, from your account"
    fields = {
        "vpc_id": (
            [
                (
                    v.vpc_id,
                    f"{v.cidr}{' ' + v.name if v.name else ''}{' (default)' if v.is_default else ''}",
                )
                for v in choices.vpcs
            ],
            f"{where}: pick one or type an id.",
        ),
        "subnet_ids": (
            [(s.subnet_id, subnet_label(s), s.vpc_id) for s in subnets],
            f"{where}, in the VPC above (public subnets first):",
        ),
        "private_subnet_ids": (
            [(s.subnet_id, subnet_label(s), s.vpc_id) for s in private_first],
            f"{where}, in the VPC above (private subnets first):",
        ),
        "messages_api_subnet_id": (
            [(s.subnet_id, subnet_label(s), s.vpc_id) for s in private_first],
            f"{where}, in the VPC above: pick one or type an id.",
        ),
        "private_route_table_ids": (
            _route_table_choices(private_first),
            f"{where}, in the VPC above: each with the subnets it routes (tick those of "
            "the private subnets above):",
        ),
        "key_name": ([(k, k) for k in choices.key_pairs], f"{where}: pick one or type a name."),
        "certificate_arn": (
            [(c.arn, f"{c.domain} {c.status}".strip()) for c in choices.certificates],
            f"{where}: pick one or paste an ARN.",
        ),
    }
    fields = {name: offer for name, offer in fields.items() if offer[0]}
    prefill = {}
    if network is not None:
        prefill = {
            "region": region,
            "vpc_id": network.vpc_id,
            "subnet_ids": "\n".join(network.public_subnet_ids),
            "private_subnet_ids": "\n".join(network.private_subnet_ids),
            "private_route_table_ids": "\n".join(network.private_route_table_ids),
            "messages_api_subnet_id": (network.private_subnet_ids or ("",))[0],
            "processor_code_bucket": network.code_bucket,
        }
    return AccountOffer(
        fields,
        {k: v for k, v in prefill.items() if v},
        region,
        {s.subnet_id: (s.vpc_id, s.zone) for s in choices.subnets},
    )


def _name_if_new(name: str, label: str) -> str:
    """A subnet's Name tag, after its label, unless it only repeats the label's facts
    (such as "public us-east-1a")."""
    said = set(re.split(r"[\s,()]+", label.lower()))
    if not name or set(re.split(r"[\s,()]+", name.lower())) - {""} <= said:
        return ""
    return f', named "{name}"'


class WithChoices:
    """A field's own widget, plus the account's choices: a datalist for a one-line
    input (typing stays possible), a list with add buttons under a list field."""

    def __init__(self, inner, name: str, choices: list[tuple[str, str]], hint: str):
        self.inner = inner
        self.name = name
        self.choices = choices
        self.hint = hint

    def __call__(self, field, **kwargs):
        list_id = f"{self.name}-choices"
        if field.type == "TextAreaField":
            items = Markup("").join(
                Markup(
                    '<li{3}><code>{0}</code> {1} <button type="button" class="add-choice" '
                    'data-add-to="{2}" data-value="{0}" hidden>Add</button></li>'
                ).format(value, label, self.name, _vpc_attribute(vpc))
                for value, label, *vpc in self.choices
            )
            return self.inner(field, **kwargs) + Markup(
                '<div class="account-choices" id="{}"><p class="help">{}</p><ul>{}</ul></div>'
            ).format(list_id, self.hint, items)
        options = Markup("").join(
            Markup('<option value="{}" label="{}"{}></option>').format(
                value, label, _vpc_attribute(vpc)
            )
            for value, label, *vpc in self.choices
        )
        return self.inner(field, list=list_id, **kwargs) + Markup(
            '<datalist id="{0}">{1}</datalist><p class="help account-hint" id="{0}-hint">{2}</p>'
        ).format(list_id, options, self.hint)


def _route_table_choices(subnets) -> list[tuple[str, str, str]]:
    """(route table, the subnets it routes, VPC), in the order of ``subnets`` (private
    first), for the processor's S3 gateway endpoint."""
    routed: dict[tuple[str, str], list] = {}
    for subnet in subnets:
        if subnet.route_table:
            routed.setdefault((subnet.route_table, subnet.vpc_id), []).append(subnet)
    return [
        (
            table,
            "routes " + ", ".join(f"{s.subnet_id} ({s.zone}, {_kind(s)})" for s in members),
            vpc,
        )
        for (table, vpc), members in routed.items()
    ]


def _kind(subnet) -> str:
    return "public" if subnet.public else "private"


def _vpc_attribute(vpc: list[str]) -> Markup:
    """A subnet's VPC, which the script filters the subnet choices by."""
    return Markup(' data-vpc="{}"').format(vpc[0]) if vpc else Markup("")


class RegionWithNetwork:
    """The region's own widget, plus which region the network choices come from (the
    script reloads them when the region changes; a submit checks them)."""

    def __init__(self, inner, region: str):
        self.inner = inner
        self.region = region

    def __call__(self, field, **kwargs):
        return self.inner(field, **kwargs) + Markup(
            '<input type="hidden" name="{0}" id="{0}" value="{1}">'
            '<p class="help account-hint" id="region-network" role="status">'
            "The network choices below are from {1}.</p>"
        ).format(OFFERED_REGION_FIELD, self.region)


def _is_submitted() -> bool:
    return has_request_context() and request.method in ("POST", "PUT", "PATCH", "DELETE")


def share_query(options: Options) -> dict[str, str]:
    """Every non-secret option as query string values: lists by commas, booleans as 'y'."""
    query = {}
    for name, value in options.non_secret_values().items():
        if value is None or value is False or value in ("", (), []):
            continue
        if value is True:
            query[name] = "y"
        elif isinstance(value, list | tuple):
            query[name] = ",".join(value)
        else:
            query[name] = str(value)
    return query
