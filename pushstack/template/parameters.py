"""The template's Parameters, carrying the options' constraints, and their console groups."""

from __future__ import annotations

from troposphere import Parameter, Template

from pushstack.options import CRYPTO_KEY_REVISION, LIST_HINT, SPECS, Options, Spec
from pushstack.template.common import AMI_PARAMETER

AWS_PARAMETER_TYPES = {
    "vpc_id": "AWS::EC2::VPC::Id",
    "subnet_ids": "List<AWS::EC2::Subnet::Id>",
    "private_subnet_ids": "List<AWS::EC2::Subnet::Id>",
    "messages_api_subnet_id": "AWS::EC2::Subnet::Id",
    "key_name": "AWS::EC2::KeyPair::KeyName",
    "hosted_zone_id": "AWS::Route53::HostedZone::Id",
    "ami_id": "AWS::EC2::Image::Id",
}


def parameter(t: Template, spec: Spec) -> Parameter:
    """The template Parameter of an option, carrying the option's constraints."""
    # The console picks list items itself: no hint on how to type them.
    help_text = (spec.parameter_help or spec.help).replace(" " + LIST_HINT, "")
    # The console shows the label (ParameterLabels) above the description.
    kwargs: dict = {"Description": help_text[:4000]}
    if spec.name in AWS_PARAMETER_TYPES:
        kwargs["Type"] = AWS_PARAMETER_TYPES[spec.name]
    elif spec.kind == "int":
        kwargs.update(Type="Number", MinValue=spec.min_value, MaxValue=spec.max_value)
    else:
        kwargs["Type"] = "String"
        if spec.choices:
            kwargs["AllowedValues"] = list(spec.choices)
        if spec.parameter_pattern:
            kwargs["AllowedPattern"] = spec.parameter_pattern
            kwargs["ConstraintDescription"] = f"must be {spec.allowed}"
        if spec.min_length:
            kwargs["MinLength"] = spec.min_length
        if spec.max_length:
            kwargs["MaxLength"] = spec.max_length
    if spec.kind == "secret":
        kwargs["NoEcho"] = True  # and no default: the key is never in the template
    elif spec.default is not None and spec.kind != "bool":
        kwargs["Default"] = spec.default
    elif spec.empty_allowed:
        kwargs["Default"] = ""  # the template then picks the value (see its Conditions)
    return t.add_parameter(Parameter(spec.parameter, **kwargs))


def parameters(t: Template, opts: Options) -> None:
    """Every option that applies to this shape and has a CloudFormation parameter."""
    for name, spec in SPECS.items():
        if spec.parameter and opts.applies(name):
            added = parameter(t, spec)
            if name == "engine":
                # The template runs one engine: the other value would describe it wrongly.
                added.AllowedValues = [opts.engine]
                added.Default = opts.engine
    parameter(t, CRYPTO_KEY_REVISION)
    if opts.ami_id:
        return  # the pinned AMI instead of the public parameter
    t.add_parameter(
        Parameter(
            "LatestAmiId",
            Type="AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            Default=AMI_PARAMETER,
            Description="Current Amazon Linux 2023 AMI, from the public SSM parameter.",
        )
    )


def parameter_groups(t: Template, opts: Options) -> None:
    """Console labels and groups, so the stack's parameters read as the form does."""
    groups = {
        "Push service": [
            "Engine",
            "CryptoKey",
            "TablePrefix",
            "AutopushImage",
            "AutoconnectImage",
            "AutoendpointImage",
            "StoreNodeType",
        ],
        "Host names and TLS": [
            "EndpointHostname",
            "WebsocketHostname",
            "MessagesApiHostname",
            "HostedZoneId",
            "CertificateArn",
        ],
        "Network": ["VpcId", "SubnetIds", "AmiId", "KeyName", "SshCidr"],
        "Connection nodes": [p for p in t.parameters if p.startswith("Connection")],
        "Endpoint nodes": [p for p in t.parameters if p.startswith("Endpoint")],
        "Log processing": [
            "PrivateSubnetIds",
            "PrivateRouteTableIds",
            "ProcessorCodeBucket",
            "ProcessorCodeKey",
            "RedisNodeType",
            "MessagesApiSubnetId",
            "MessagesApiCidr",
            "MessagesApiImage",
            *[p for p in t.parameters if p.startswith("MessagesApi") and "Subnet" not in p],
        ],
    }
    labels = {
        spec.parameter: {"default": spec.label}
        for spec in SPECS.values()
        if spec.parameter in t.parameters
    }
    placed: set[str] = set()  # each parameter in its first group only
    present = {}
    for label, names in groups.items():
        mine = [n for n in dict.fromkeys(names) if n in t.parameters and n not in placed]
        placed.update(mine)
        if mine:
            present[label] = mine
    t.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": label}, "Parameters": names}
                    for label, names in present.items()
                ],
                "ParameterLabels": labels,
            }
        }
    )
