"""pushstack.render: the template as text, its parameters file and the create-stack command."""

import json
import shlex

import pytest
import yaml
from troposphere import Base64, Parameter, Ref, Sub, Template, ec2

from pushstack import render
from pushstack.options import from_input

KEY = "Kxq0Ulq7R9dVqzYqjY3bq6cdc8cJ2ZbC2KfVh6m3m0Q="
OLD_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
SUBNETS = ("subnet-0123abcd", "subnet-0123456789abcdef0")
SCRIPT = "#!/bin/bash\nset -euo pipefail\necho 'table ${TablePrefix}_router'\n"


@pytest.fixture
def template():
    """A small template with parameters named like the options' ``parameter``."""
    t = Template(Description="render test")
    t.add_parameter(Parameter("CryptoKey", Type="String", NoEcho=True))
    t.add_parameter(Parameter("TablePrefix", Type="String"))
    t.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id"))
    t.add_parameter(Parameter("SubnetIds", Type="List<AWS::EC2::Subnet::Id>"))
    t.add_parameter(Parameter("ConnectionInstanceType", Type="String", Default="t3.small"))
    t.add_parameter(Parameter("CertificateArn", Type="String", Default=""))
    t.add_parameter(Parameter("KeyName", Type="String"))
    t.add_parameter(
        Parameter(
            "ImageId",
            Type="AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            Default="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        )
    )
    t.add_resource(
        ec2.Instance(
            "Node",
            ImageId=Ref("ImageId"),
            InstanceType=Ref("ConnectionInstanceType"),
            SubnetId=Ref("VpcId"),
            UserData=Base64(Sub(SCRIPT)),
        )
    )
    return t


@pytest.fixture
def opts():
    return from_input(
        {
            "stack_name": "push-test",
            "region": "eu-west-1",
            "crypto_key": f"{KEY},{OLD_KEY}",
            "engine": "autopush-legacy",
            "table_prefix": "autopush_test",
            "vpc_id": "vpc-0123456789abcdef0",
            "subnet_ids": "\n".join(SUBNETS),
            "connection_instance_type": "c5.large",
        }
    )


def test_parameter_values_from_options(opts, template):
    assert render.parameter_values(opts, template) == {
        "CryptoKey": f"{KEY},{OLD_KEY}",
        "TablePrefix": "autopush_test",
        "VpcId": "vpc-0123456789abcdef0",
        "SubnetIds": ",".join(SUBNETS),
        "ConnectionInstanceType": "c5.large",
    }


def test_parameters_file_is_a_list_of_key_value_pairs(opts, template):
    text = render.parameters_file(opts, template)
    assert text.endswith("\n")
    entries = json.loads(text)
    assert isinstance(entries, list)
    assert all(set(entry) == {"ParameterKey", "ParameterValue"} for entry in entries)
    assert all(isinstance(entry["ParameterValue"], str) for entry in entries)
    values = {entry["ParameterKey"]: entry["ParameterValue"] for entry in entries}
    assert values["SubnetIds"] == "subnet-0123abcd,subnet-0123456789abcdef0"
    assert values["CryptoKey"] == f"{KEY},{OLD_KEY}"
    # Absent options and parameters no option feeds are left to CloudFormation.
    assert {"CertificateArn", "KeyName", "ImageId"}.isdisjoint(values)


def test_only_the_parameters_file_holds_the_key(opts, template):
    assert KEY in render.parameters_file(opts, template)
    for text in (render.to_json(template), render.to_yaml(template), repr(opts)):
        assert KEY not in text
        assert OLD_KEY not in text


def test_parameters_follow_the_template_not_the_options(opts):
    """Options the template has no parameter for are not passed."""
    t = Template()
    t.add_parameter(Parameter("VpcId", Type="String"))
    assert render.parameter_values(opts, t) == {"VpcId": "vpc-0123456789abcdef0"}
    assert render.missing_parameters(opts, t) == []


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({}, ["VpcId", "SubnetIds", "KeyName"]),
        ({"vpc_id": "vpc-0123abcd"}, ["SubnetIds", "KeyName"]),
        (
            {"vpc_id": "vpc-0123abcd", "subnet_ids": ",".join(SUBNETS)},
            ["KeyName"],
        ),
        (
            {
                "vpc_id": "vpc-0123abcd",
                "subnet_ids": ",".join(SUBNETS),
                "key_name": "ops",
                "ssh_cidr": "203.0.113.0/24",
            },
            [],
        ),
    ],
)
def test_missing_parameters(template, data, missing):
    """Empty options are reported unless the parameter has a Default."""
    opts = from_input(data)  # crypto key and prefix generated
    assert render.missing_parameters(opts, template) == missing
    values = render.parameter_values(opts, template)
    assert set(values).isdisjoint(missing)
    assert "CertificateArn" not in values  # empty, but the template has a default
    assert "ImageId" not in values


def test_missing_secrets_when_not_generated(template):
    opts = from_input({}, fill_secrets=False)
    assert render.missing_parameters(opts, template)[:2] == ["CryptoKey", "TablePrefix"]


def _option_after(words, flag):
    return words[words.index(flag) + 1]


def test_create_stack_command(opts):
    command = render.create_stack_command(opts)
    assert "\n" not in command
    words = shlex.split(command)
    assert " ".join(shlex.quote(word) for word in words) == command
    assert words[:3] == ["aws", "cloudformation", "create-stack"]
    assert _option_after(words, "--region") == "eu-west-1"
    assert _option_after(words, "--stack-name") == "push-test"
    assert _option_after(words, "--template-body") == "file://push-test.template.json"
    assert _option_after(words, "--parameters") == "file://push-test.parameters.json"
    assert _option_after(words, "--capabilities") == "CAPABILITY_IAM"
    assert KEY not in command
    assert OLD_KEY not in command
    assert "autopush_test" not in command  # parameters travel in the file, not the line


@pytest.mark.parametrize(
    ("template_file", "parameters_path"),
    [
        ("my template.yaml", "params/it's here.json"),
        ("$(rm -rf ~).json", "`id`;.json"),
        ("/tmp/a b/c.json", "c d.json"),
    ],
)
def test_create_stack_command_quotes_paths(opts, template_file, parameters_path):
    command = render.create_stack_command(opts, template_file, parameters_path)
    assert "\n" not in command
    words = shlex.split(command)
    assert _option_after(words, "--template-body") == f"file://{template_file}"
    assert _option_after(words, "--parameters") == f"file://{parameters_path}"


def test_filenames_follow_the_stack_name(opts):
    assert render.template_filename(opts) == "push-test.template.json"
    assert render.template_filename(opts, "yaml") == "push-test.template.yaml"
    assert render.parameters_filename(opts) == "push-test.parameters.json"


def test_json_is_the_template(template):
    text = render.to_json(template)
    assert json.loads(text) == template.to_dict()
    assert text.startswith('{\n  "')
    assert list(json.loads(text)) == list(template.to_dict())  # key order kept


def test_minified_json_is_smaller_and_equal(template):
    small = render.to_json(template, indent=None)
    assert "\n" not in small.replace("\\n", "")
    assert ", " not in small.replace("\\n", "").replace(SCRIPT, "")
    assert len(small) < len(render.to_json(template))
    assert json.loads(small) == json.loads(render.to_json(template))


def test_yaml_parses_back_to_the_json(template):
    assert yaml.safe_load(render.to_yaml(template)) == json.loads(render.to_json(template))


def test_yaml_shows_scripts_as_block_scalars(template):
    text = render.to_yaml(template)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "#!/bin/bash" in line)
    assert lines[start - 1].rstrip().endswith(("|", "|-", "|+"))
    assert lines[start + 1].strip() == "set -euo pipefail"
    assert lines[start + 2].strip() == "echo 'table ${TablePrefix}_router'"
    assert "\\n" not in text


def test_yaml_keeps_key_order_and_block_style(template):
    text = render.to_yaml(template)
    assert list(yaml.safe_load(text)) == list(template.to_dict())
    assert "{" not in text.replace("${TablePrefix}", "")  # no flow-style mappings


@pytest.mark.parametrize(
    "value",
    [
        "trailing space \nnext line",
        "tab\tinside\nline two",
        "line\n\n\nwith blank lines\n",
        "  leading spaces\nx",
        "unicode ✓ é\nsecond",
        "ends with newlines\n\n",
    ],
)
def test_yaml_round_trips_awkward_multiline_strings(value):
    t = Template()
    t.add_parameter(Parameter("Text", Type="String", Default=value))
    assert yaml.safe_load(render.to_yaml(t))["Parameters"]["Text"]["Default"] == value


@pytest.mark.parametrize(("fmt", "loads"), [("json", json.loads), ("yaml", yaml.safe_load)])
def test_render_by_format(template, fmt, loads):
    assert loads(render.render(template, fmt)) == template.to_dict()


def test_render_unknown_format(template):
    with pytest.raises(ValueError, match="json or yaml"):
        render.render(template, "xml")


def test_limits_are_cloudformations():
    assert render.INLINE_TEMPLATE_LIMIT == 51_200
    assert render.PARAMETERS_LIMIT == 200
    assert render.RESOURCES_LIMIT == 500


def test_yaml_too_large_for_the_inline_limit_is_written_compact():
    """Block-style YAML of a large template passes 51,200 bytes; flow style fits."""
    t = Template()
    # Long lists: block style spends a line and its indent on each item.
    t.add_parameter(Parameter("P", Type="String", AllowedValues=[f"{i:x}" for i in range(8000)]))
    block = render.to_yaml(t, compact=False)
    assert len(block.encode()) > render.INLINE_TEMPLATE_LIMIT
    text = render.to_yaml(t)
    assert render.fits_inline(text)
    assert text.startswith(render.COMPACT_YAML_NOTE)
    assert yaml.safe_load(text) == t.to_dict()


def test_small_yaml_stays_block_style(template):
    assert render.to_yaml(template) == render.to_yaml(template, compact=False)


def test_yaml_is_the_same_with_or_without_libyaml(template):
    class PurePython(yaml.SafeDumper):
        pass

    PurePython.add_representer(str, render._str_presenter)
    expected = yaml.dump(template.to_dict(), Dumper=PurePython, sort_keys=False, width=100)
    assert render.to_yaml(template) == expected
