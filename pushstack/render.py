"""The template as text, its parameters file and the matching AWS CLI command."""

from __future__ import annotations

import json
import shlex

import yaml
from troposphere import Template

from pushstack.options import CRYPTO_KEY_REVISION, SPECS, Options

INLINE_TEMPLATE_LIMIT = 51_200  # bytes CloudFormation accepts as TemplateBody
PARAMETERS_LIMIT = 200
RESOURCES_LIMIT = 500

_SPEC_BY_PARAMETER = {
    spec.parameter: spec for spec in [*SPECS.values(), CRYPTO_KEY_REVISION] if spec.parameter
}


def to_dict(template: Template) -> dict:
    return template.to_dict()


def to_json(template: Template, *, indent: int | str | None = "auto") -> str:
    """JSON text; ``"auto"`` indents it unless that would pass the inline limit.

    A template file larger than 51,200 bytes cannot be given to
    ``create-stack --template-body``, so a large template is written compact
    rather than pretty: the downloaded file always works with the printed command.
    """
    data = to_dict(template)
    if indent == "auto":
        pretty = json.dumps(data, indent=2)
        if len(pretty.encode()) <= INLINE_TEMPLATE_LIMIT:
            return pretty
        indent = None
    separators = None if indent else (",", ":")
    return json.dumps(data, indent=indent, separators=separators)


# libyaml's emitter when PyYAML has it: the same text, five times faster.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Block-style YAML that keeps the template's key order."""


def _str_presenter(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


COMPACT_YAML_NOTE = "# Flow style, on one line, to fit CloudFormation's 51,200-byte inline limit.\n"


def to_yaml(template: Template, *, compact: bool | str = "auto") -> str:
    """Block-style YAML; ``"auto"`` writes flow style instead when block style would pass
    the inline limit, so the file always works with ``create-stack --template-body``."""
    data = to_dict(template)
    if compact is not True:
        block = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100)
        if compact is False or fits_inline(block):
            return block
    flow = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=True, width=10**9)
    return COMPACT_YAML_NOTE + flow


def fits_inline(text: str) -> bool:
    """Whether CloudFormation takes this template text as ``--template-body``."""
    return len(text.encode()) <= INLINE_TEMPLATE_LIMIT


def render(template: Template, fmt: str = "json") -> str:
    if fmt == "yaml":
        return to_yaml(template)
    if fmt == "json":
        return to_json(template)
    raise ValueError(f"unknown format {fmt!r}: use json or yaml")


def parameter_values(options: Options, template: Template) -> dict[str, str]:
    """CloudFormation parameter values from the options, for the template's parameters.

    Parameters whose option is empty are left out, so CloudFormation uses the
    template's default or asks for them (``missing_parameters`` names them).
    """
    values = {}
    for name in template.parameters:
        spec = _SPEC_BY_PARAMETER.get(name)
        if spec is None:
            continue  # a parameter with a fixed default, such as the AMI
        value = getattr(options, spec.name)
        if value is None or value == "" or value == ():
            continue
        if isinstance(value, tuple | list):
            value = ",".join(value)
        values[name] = str(value)
    return values


def missing_parameters(options: Options, template: Template) -> list[str]:
    """Parameters with neither a value from the options nor a default."""
    values = parameter_values(options, template)
    return [
        name
        for name, parameter in template.parameters.items()
        if name not in values and "Default" not in parameter.properties
    ]


def parameters_file(options: Options, template: Template) -> str:
    """The ``--parameters file://...`` JSON; the only artifact holding the crypto key."""
    entries = [
        {"ParameterKey": key, "ParameterValue": value}
        for key, value in parameter_values(options, template).items()
    ]
    return json.dumps(entries, indent=2) + "\n"


def template_filename(options: Options, fmt: str = "json") -> str:
    return f"{options.stack_name}.template.{'yaml' if fmt == 'yaml' else 'json'}"


def parameters_filename(options: Options) -> str:
    return f"{options.stack_name}.parameters.json"


def create_stack_command(
    options: Options,
    template_file: str | None = None,
    parameters_path: str | None = None,
    *,
    template_url: str | None = None,
) -> str:
    """The ``aws cloudformation create-stack`` command that uses the downloaded files
    (or, for a template too large to pass inline, the template uploaded to S3)."""
    template_file = template_file or template_filename(options)
    parameters_path = parameters_path or parameters_filename(options)
    template = (
        ["--template-url", template_url]
        if template_url
        else ["--template-body", f"file://{template_file}"]
    )
    words = [
        "aws", "cloudformation", "create-stack",
        "--region", options.region,
        "--stack-name", options.stack_name,
        *template,
        "--parameters", f"file://{parameters_path}",
        "--capabilities", "CAPABILITY_IAM",
        "--tags", "Key=pushstack:managed,Value=true",
    ]  # fmt: skip
    return " ".join(shlex.quote(word) for word in words)
