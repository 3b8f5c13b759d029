"""pushstack.graph: which resources wait for which, and what the stack waits on longest."""

import pytest

from pushstack.graph import critical_path, dependencies


def resources(**properties_by_name):
    """A template whose resources have these properties (type AWS::X::Thing)."""
    return {
        "Parameters": {"Env": {"Type": "String"}},
        "Resources": {
            name: {"Type": "AWS::X::Thing", "Properties": props}
            for name, props in properties_by_name.items()
        },
    }


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"Ref": "Target"}, {"Target"}),
        ({"Fn::GetAtt": ["Target", "Arn"]}, {"Target"}),
        ({"Fn::GetAtt": "Target.Arn"}, {"Target"}),
        ({"Fn::GetAtt": "Target.Endpoint.Address"}, {"Target"}),
        ({"Fn::Sub": "arn:${AWS::Partition}:x:::${Target}"}, {"Target"}),
        ({"Fn::Sub": "${Target.Arn}/*"}, {"Target"}),
        ({"Fn::Sub": "${Target.Endpoint.Address}:${Other}"}, {"Target", "Other"}),
        ({"Fn::Sub": "${!Target} is literal"}, set()),
        ({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Other"}}]}, {"Other"}),
        # A Sub variable named like a resource shadows it.
        ({"Fn::Sub": ["${Target}", {"Target": "plain text"}]}, set()),
        ({"Fn::Sub": ["${Target}-${Other}", {"Target": {"Ref": "Env"}}]}, {"Other"}),
        ({"Fn::Sub": ["${Target.Arn}", {"Target": "x"}]}, set()),
        ({"Fn::Sub": ["${Other}", {"Target": "x"}]}, {"Other"}),
        # Parameters, pseudo-parameters and unknown names are not resources.
        ({"Ref": "Env"}, set()),
        ({"Ref": "AWS::Region"}, set()),
        ({"Fn::Sub": "${AWS::StackName}-${Env}"}, set()),
        ({"Ref": "Nowhere"}, set()),
        (
            {"Fn::Join": ["", [{"Ref": "Target"}, {"Fn::GetAtt": ["Other", "Id"]}]]},
            {"Target", "Other"},
        ),
        ({"Fn::If": ["Cond", {"Ref": "Target"}, {"Ref": "AWS::NoValue"}]}, {"Target"}),
        ([{"Key": "Ref", "Value": "Target"}], set()),  # a tag keyed "Ref" is not a Ref
        ("Target", set()),  # a plain string naming a resource is not a reference
    ],
)
def test_reference_forms(reference, expected):
    template = resources(Target={}, Other={}, User={"Value": reference})
    assert dependencies(template)["User"] == expected


@pytest.mark.parametrize(
    ("depends_on", "expected"),
    [
        ("Target", {"Target"}),
        (["Target", "Other"], {"Target", "Other"}),
        ([], set()),
    ],
)
def test_depends_on(depends_on, expected):
    template = resources(Target={}, Other={}, User={})
    template["Resources"]["User"]["DependsOn"] = depends_on
    assert dependencies(template)["User"] == expected


def test_metadata_references_count_and_self_references_do_not():
    template = resources(Target={}, User={"Name": {"Ref": "User"}})
    template["Resources"]["User"]["Metadata"] = {"Needs": {"Ref": "Target"}}
    assert dependencies(template) == {"Target": set(), "User": {"Target"}}


def test_resource_without_properties():
    template = {"Resources": {"Bare": {"Type": "AWS::SNS::Topic"}}}
    assert dependencies(template) == {"Bare": set()}
    assert dependencies({}) == {}


# A small stack: the bucket and role come first, the function needs both, the
# permission needs the function; the table stands alone but takes long.
STACK = {
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Role": {"Type": "AWS::IAM::Role"},
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"S3Bucket": {"Ref": "Bucket"}},
            },
        },
        "Permission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {"FunctionName": {"Ref": "Function"}},
        },
        "Table": {"Type": "AWS::DynamoDB::Table"},
    }
}
SECONDS = {
    "AWS::S3::Bucket": 25,
    "AWS::IAM::Role": 15,
    "AWS::Lambda::Function": 10,
    "AWS::Lambda::Permission": 5,
    "AWS::DynamoDB::Table": 20,
}


def test_critical_path_follows_the_slowest_chain():
    assert critical_path(STACK, SECONDS) == (40.0, ["Bucket", "Function", "Permission"])


def test_critical_path_switches_when_another_chain_is_slower():
    slow_table = {**SECONDS, "AWS::DynamoDB::Table": 60}
    assert critical_path(STACK, slow_table) == (60.0, ["Table"])
    slow_role = {**SECONDS, "AWS::IAM::Role": 120}
    assert critical_path(STACK, slow_role) == (135.0, ["Role", "Function", "Permission"])


def test_critical_path_unknown_types_use_the_default():
    total, path = critical_path(STACK, {"default": 1})
    assert total == 3.0
    assert path[0] in ("Bucket", "Role")  # a tie: either chain is critical
    assert path[1:] == ["Function", "Permission"]
    total, path = critical_path(STACK, {})
    assert total == 15.0  # 5 s each when no default is given
    assert len(path) == 3


def test_critical_path_of_an_empty_template():
    assert critical_path({"Resources": {}}, SECONDS) == (0.0, [])
    assert critical_path({}, SECONDS) == (0.0, [])


def test_critical_path_through_depends_on_and_sub():
    template = {
        "Resources": {
            "A": {"Type": "Slow"},
            "B": {"Type": "Fast", "DependsOn": "A"},
            "C": {"Type": "Fast", "Properties": {"X": {"Fn::Sub": "${B.Arn}"}}},
            "D": {"Type": "Slow"},
        }
    }
    assert critical_path(template, {"Slow": 100, "Fast": 1}) == (102.0, ["A", "B", "C"])
