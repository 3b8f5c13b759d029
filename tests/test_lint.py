import json

import pytest

from pushstack import lint as lint_module
from pushstack.lint import Finding, findings
from pushstack.options import LEGACY, LOG_PROCESSING_CHOICES, REGIONS, Options

TABLE = {
    "Type": "AWS::DynamoDB::Table",
    "Properties": {
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "uaid", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "uaid", "AttributeType": "S"}],
    },
}
CLEAN = {
    "Parameters": {"TablePrefix": {"Type": "String"}},
    "Resources": {
        "RouterTable": {
            **TABLE,
            "Properties": {
                **TABLE["Properties"],
                "TableName": {"Fn::Sub": "${TablePrefix}_router"},
            },
        }
    },
}


def with_resources(**resources):
    return json.dumps({"Resources": {"RouterTable": TABLE, **resources}})


def test_clean_template_has_no_findings():
    assert findings(json.dumps(CLEAN)) == []


@pytest.mark.parametrize(
    ("template_json", "expected"),
    [
        (
            with_resources(
                Logs={"Type": "AWS::S3::Bucket", "Properties": {"Versioning": 1, "Bogus": 1}}
            ),
            Finding(
                "E3002",
                "error",
                "Additional properties are not allowed ('Bogus' was unexpected)",
                "Resources/Logs/Properties/Bogus",
            ),
        ),
        (
            json.dumps(
                {**CLEAN, "Parameters": {**CLEAN["Parameters"], "Unused": {"Type": "String"}}}
            ),
            Finding("W2001", "warning", "Parameter Unused not used.", "Parameters/Unused"),
        ),
        (
            with_resources(Nodes={"Type": "AWS::EC2::Instance", "DependsOn": "Missing"}),
            Finding(
                "E3005",
                "error",
                "'Missing' is not one of ['RouterTable']",
                "Resources/Nodes/DependsOn",
            ),
        ),
    ],
)
def test_mistake_is_found_with_its_rule_and_place(template_json, expected):
    assert expected in findings(template_json)


def test_errors_come_before_warnings():
    template = {
        "Parameters": {"Unused": {"Type": "String"}},
        "Resources": {"Logs": {"Type": "AWS::S3::Bucket", "Properties": {"Bogus": 1}}},
    }
    levels = [finding.level for finding in findings(json.dumps(template))]
    assert levels == sorted(levels, key=["error", "warning", "informational"].index)
    assert {"error", "warning"} <= set(levels)


@pytest.mark.parametrize("unreadable", ["{", '{"Resources": ', "[]", "42", '"text"'])
def test_unreadable_template_gives_one_error(unreadable):
    (finding,) = findings(unreadable)
    assert (finding.rule, finding.level) == ("E0000", "error")
    assert finding.message.startswith("cfn-lint cannot read this template: ")


def test_failure_inside_cfn_lint_is_a_finding(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lint_module, "lint", broken)
    text = json.dumps({"Resources": {"OnlyWhenBroken": TABLE}})
    assert findings(text) == [
        Finding("E0002", "error", "cfn-lint failed on this template: boom", "")
    ]
    lint_module.clear_cache()


def test_unknown_region_is_a_finding_not_an_exception():
    (finding,) = findings(json.dumps(CLEAN), regions=["mars-north-1"])
    assert finding.level == "error"
    assert "mars-north-1" in finding.message


def test_same_text_and_regions_are_linted_once():
    text = json.dumps(CLEAN, indent=1)
    first = findings(text)
    assert findings(text) is first
    assert findings(text, regions=["eu-west-1"]) is not first


@pytest.fixture(scope="module", params=LOG_PROCESSING_CHOICES)
def real_template_json(request):
    template = pytest.importorskip("pushstack.template")
    options = Options(engine=LEGACY, log_processing=request.param)
    return json.dumps(template.build_template(options).to_dict(), indent=2)


def test_real_template_has_no_errors(real_template_json):
    errors = [f for f in findings(real_template_json, regions=["us-east-1"]) if f.level == "error"]
    assert errors == []


def test_by_default_every_region_is_linted_at_once():
    assert lint_module.DEFAULT_REGIONS == REGIONS


# A resource type that some regions lack: cfn-lint names each such region.
REGIONAL = json.dumps({"Resources": {"F": {"Type": "AWS::IoTFleetWise::Campaign"}}})


def test_a_finding_of_some_regions_names_them():
    missing = [f for f in findings(REGIONAL) if f.rule == "E3006"]
    assert missing and all(len(f.regions) == 1 for f in missing)
    assert {f.regions[0] for f in missing} < set(REGIONS)


def test_for_region_keeps_the_findings_of_that_region_and_of_all():
    everywhere = [f for f in findings(REGIONAL) if not f.regions]
    assert everywhere  # the missing required properties
    lacking = {f.regions[0] for f in findings(REGIONAL) if f.regions}
    absent = sorted(lacking)[0]
    present = sorted(set(REGIONS) - lacking)[0]
    assert lint_module.for_region(findings(REGIONAL), present) == everywhere
    here = lint_module.for_region(findings(REGIONAL), absent)
    assert [f for f in here if f.regions] == [
        f for f in findings(REGIONAL) if f.regions == (absent,)
    ]
