"""The processor's way to S3 from its private subnets (issue 15, item 2): an S3 gateway
endpoint on the route tables the operator names, unless the VPC already has one."""

import html
import json
import re

import pytest
from conftest import PROCESSOR_FORM, VALID_FORM
from test_cli import run
from variants import VARIANTS

from pushstack import render
from pushstack.options import SPECS, Options, OptionsError, from_input
from pushstack.template import build_template
from pushstack.template.processor import s3_access_note

ROUTE_TABLES = ("rtb-0123456789abcdef0", "rtb-0123456789abcdef1")


def processor(**extra) -> Options:
    return Options(**{**VARIANTS["processor"].__dict__, **extra})


def test_the_processor_shape_adds_an_s3_gateway_endpoint_to_the_given_route_tables():
    opts = processor(private_route_table_ids=ROUTE_TABLES)
    template = build_template(opts)
    t = template.to_dict()
    endpoint = t["Resources"]["S3Endpoint"]
    assert endpoint["Type"] == "AWS::EC2::VPCEndpoint"
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway"
    assert props["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    assert props["VpcId"] == {"Ref": "VpcId"}
    assert props["RouteTableIds"] == {"Fn::Split": [",", {"Ref": "PrivateRouteTableIds"}]}
    # No policy: the operator's other subnets on these tables keep all of S3.
    assert "PolicyDocument" not in props
    parameter = t["Parameters"]["PrivateRouteTableIds"]
    assert parameter["Type"] == "String"
    pattern = parameter["AllowedPattern"]
    assert re.fullmatch(pattern, ",".join(ROUTE_TABLES))
    assert not re.fullmatch(pattern, "subnet-0123456789abcdef0")
    # The parameters file hands CloudFormation the list as one comma-separated value.
    values = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in json.loads(render.parameters_file(opts, template))
    }
    assert values["PrivateRouteTableIds"] == ",".join(ROUTE_TABLES)


def test_the_endpoint_is_on_by_default_and_only_for_the_processor():
    spec = SPECS["existing_s3_endpoint"]
    assert spec.kind == "bool" and spec.default is False and spec.only_for == "processor"
    assert SPECS["private_route_table_ids"].only_for == "processor"
    opts = from_input({"log_processing": "processor", "engine": "autopush-legacy"})
    assert opts.s3_endpoint and not opts.existing_s3_endpoint
    for name in ("none", "firehose", "rs"):
        t = build_template(VARIANTS[name]).to_dict()
        assert "S3Endpoint" not in t["Resources"]
        assert "PrivateRouteTableIds" not in t["Parameters"]


def test_a_vpc_that_has_one_gets_none_and_is_not_asked_for_route_tables():
    opts = processor(existing_s3_endpoint=True, private_route_table_ids=())
    t = build_template(opts).to_dict()
    assert "S3Endpoint" not in t["Resources"]
    assert "PrivateRouteTableIds" not in t["Parameters"]
    assert not any(r["Type"] == "AWS::EC2::VPCEndpoint" for r in t["Resources"].values())
    assert opts.missing_for_deploy() == {}
    note = s3_access_note(opts)
    assert "already has an S3 gateway endpoint: the stack creates none" in note
    assert "failure queue" in note  # what happens without one


def test_deploying_with_a_new_endpoint_needs_the_route_tables():
    data = {
        "engine": "autopush-legacy",
        "log_processing": "processor",
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "private_subnet_ids": "subnet-0123456789abcdef2",
        "messages_api_subnet_id": "subnet-0123456789abcdef2",
    }
    with pytest.raises(OptionsError) as caught:
        from_input(data, require_deploy=True)
    assert set(caught.value.errors) == {"private_route_table_ids"}
    assert "route table ids" in caught.value.errors["private_route_table_ids"]
    assert from_input({**data, "existing_s3_endpoint": "y"}, require_deploy=True)
    with pytest.raises(OptionsError) as caught:
        from_input({**data, "private_route_table_ids": f"{ROUTE_TABLES[0]},{ROUTE_TABLES[0]}"})
    assert caught.value.errors["private_route_table_ids"] == (
        "Each route table may be listed only once."
    )


def test_the_command_line_takes_the_route_tables_and_the_switch():
    result = run("push", "--processor", "--private-route-table-ids", ",".join(ROUTE_TABLES))
    assert result.returncode == 0, result.stderr
    t = json.loads(result.stdout)
    assert "S3Endpoint" in t["Resources"]
    result = run("push", "--processor", "--existing-s3-endpoint")
    assert result.returncode == 0, result.stderr
    assert "S3Endpoint" not in json.loads(result.stdout)["Resources"]
    # A switch of the processor without it is a usage error, as the other flags are.
    result = run("push", "--existing-s3-endpoint")
    assert result.returncode == 2 and "applies only with --processor" in result.stderr
    assert run("push").returncode == 0  # the unset switch does not count as given


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_the_form_asks_for_both_and_the_preview_says_which_way_to_s3(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="private_route_table_ids"' in page
    checkbox = re.search(r'<input[^>]*id="existing_s3_endpoint"[^>]*>', page).group(0)
    assert 'type="checkbox"' in checkbox and "checked" not in checkbox
    response = client.post("/", data=PROCESSOR_FORM)
    assert response.status_code == 303
    text = _text(client.get(response.headers["Location"]))
    assert "the stack adds an S3 gateway endpoint (free) to the route tables" in text
    assert "rtb-0123456789abcdef0" in text
    form = {**PROCESSOR_FORM, "private_route_table_ids": "", "existing_s3_endpoint": "y"}
    response = client.post("/", data=form)
    assert response.status_code == 303
    text = _text(client.get(response.headers["Location"]))
    assert "You said the VPC already has an S3 gateway endpoint" in text
    # Without the processor, nothing is said about S3.
    response = client.post("/", data=VALID_FORM)
    assert "S3 gateway endpoint" not in _text(client.get(response.headers["Location"]))
