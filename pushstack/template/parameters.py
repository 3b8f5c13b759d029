"""The template's Parameters, carrying the options' constraints, and their console groups."""

from __future__ import annotations

from troposphere import Parameter, Template

from pushstack.options import CRYPTO_KEY_REVISION, SPECS, Options, Spec
from pushstack.template.common import AMI_PARAMETER

AWS_PARAMETER_TYPES = {
    "vpc_id": "AWS::EC2::VPC::Id",
    "subnet_ids": "List<AWS::EC2::Subnet::Id>",
    "private_subnet_ids": "List<AWS::EC2::Subnet::Id>",
    "messages_api_subnet_id": "AWS::EC2::Subnet::Id",
    "key_name": "AWS::EC2::KeyPair::KeyName",
}


def parameter(t: Template, spec: Spec) -> Parameter:
    """The template Parameter of an option, carrying the option's constraints."""
    kwargs: dict = {"Description": f"{spec.label}: {spec.help}"[:4000]}
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
    return t.add_parameter(Parameter(spec.parameter, **kwargs))


def parameters(t: Template, opts: Options) -> None:
    """Every option that applies to this shape and has a CloudFormation parameter."""
    for name, spec in SPECS.items():
        if spec.parameter and opts.applies(name):
            parameter(t, spec)
    parameter(t, CRYPTO_KEY_REVISION)
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
        "Push service": ["CryptoKey", "TablePrefix", "AutopushImage", "CertificateArn"],
        "Network": ["VpcId", "SubnetIds", "KeyName", "SshCidr"],
        "Connection nodes": [p for p in t.parameters if p.startswith("Connection")],
        "Endpoint nodes": [p for p in t.parameters if p.startswith("Endpoint")],
        "Log processing": [
            "PrivateSubnetIds",
            "ProcessorCodeBucket",
            "ProcessorCodeKey",
            "RedisNodeType",
            "MessagesApiSubnetId",
            "MessagesApiImage",
            *[p for p in t.parameters if p.startswith("MessagesApi") and "Subnet" not in p],
        ],
    }
    labels = {
        spec.parameter: {"default": spec.label}
        for spec in SPECS.values()
        if spec.parameter in t.parameters
    }
    t.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": label}, "Parameters": present}
                    for label, names in groups.items()
                    if (present := list(dict.fromkeys(n for n in names if n in t.parameters)))
                ],
                "ParameterLabels": labels,
            }
        }
    )
