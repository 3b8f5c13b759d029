"""The wizard's form, built from ``pushstack.options.SPECS``: no second copy of any rule."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

from pushstack.options import SPECS, Options, OptionsError, Spec, from_input

PROCESSOR = "processor"

# One sentence per log processing choice, shown beside its radio button.
LOG_PROCESSING_EXPLAINED = {
    "none": "Autopush only: the logs stay on the nodes.",
    "firehose": "The nodes send their logs through Kinesis Firehose to an encrypted S3 bucket.",
    "processor": "Firehose as above, plus the push-processor Lambda, Redis and the Push "
    "Messages API behind the Push Developer Dashboard.",
}

# How the page groups the options; options not named here land in "More".
SECTIONS = (
    ("Stack", ("stack_name", "region")),
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
    ("Image, TLS and SSH", ("autopush_image", "certificate_arn", "key_name", "ssh_cidr")),
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
        field_class = RadioField if spec.name == "log_processing" else SelectField
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
        return True

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

    def processor_fields(self):
        return [self[name] for name, spec in SPECS.items() if spec.only_for == PROCESSOR]


for _name, _spec in SPECS.items():
    setattr(OptionsForm, _name, _field(_spec))


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
