"""What an update changes, from two templates (pushstack.changes), and the change set
built from AWS's reply plus that diff (pushstack.cloud.changesets), with AWS's own
words (Replacement, Details) taken over the predictions where it gives them."""

import json

import boto3
import pytest
from botocore.stub import Stubber

from pushstack import changes
from pushstack.cloud import changesets
from pushstack.cloud.changes import kept_policies
from pushstack.cloud.errors import CloudError

KEY = "Kxq0Ulq7R9dVqzYqjY3bq6cdc8cJ2ZbC2KfVh6m3m0Q="


def stack_template(**overrides) -> dict:
    """A small template shaped like pushstack's: parameters read by Ref and Fn::Sub."""
    template = {
        "Parameters": {
            "CryptoKey": {"Type": "String", "NoEcho": True},
            "CryptoKeyRevision": {"Type": "String"},
            "TablePrefix": {"Type": "String"},
            "DesiredCapacity": {"Type": "Number", "Default": "2"},
            "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>"},
            "LatestAmiId": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"},
        },
        "Mappings": {"Boot": {"Script": {"Body": "echo start\n"}}},
        "Resources": {
            "RouterTable": {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "Properties": {"TableName": {"Fn::Sub": "${TablePrefix}_router"}},
            },
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"SecretString": {"Ref": "CryptoKey"}},
            },
            "Nodes": {
                "Type": "AWS::AutoScaling::AutoScalingGroup",
                "Properties": {
                    "DesiredCapacity": {"Ref": "DesiredCapacity"},
                    "MaxSize": "4",
                    "VPCZoneIdentifier": {"Ref": "SubnetIds"},
                },
            },
            "Boot": {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {
                    "LaunchTemplateData": {
                        "ImageId": {"Ref": "LatestAmiId"},
                        "UserData": {
                            "Fn::Base64": {
                                "Fn::Join": [
                                    "",
                                    [
                                        {"Fn::Sub": "#!/bin/bash\nREVISION=${CryptoKeyRevision}\n"},
                                        {"Fn::FindInMap": ["Boot", "Script", "Body"]},
                                    ],
                                ]
                            }
                        },
                    }
                },
            },
        },
    }
    for logical_id, resource in overrides.items():
        if resource is None:
            del template["Resources"][logical_id]
        else:
            template["Resources"][logical_id] = resource
    return template


VALUES = {
    "CryptoKey": KEY,
    "CryptoKeyRevision": "aaaaaaaaaaaa",
    "TablePrefix": "autopush_a",
    "DesiredCapacity": "2",
    "SubnetIds": "subnet-1,subnet-2",
    "LatestAmiId": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
}
SECRET = {"CryptoKey"}


def diff(old_values=VALUES, new_values=VALUES, old=None, new=None):
    old, new = old or stack_template(), new or stack_template()
    found = changes.template_diff(
        old,
        new,
        changes.parameter_values(old, old_values),
        changes.parameter_values(new, new_values),
        SECRET,
    )
    return {resource.logical_id: resource for resource in found}


def test_a_parameter_read_by_ref_shows_as_the_property_it_changes():
    found = diff(new_values={**VALUES, "DesiredCapacity": "3"})
    assert list(found) == ["Nodes"]
    (change,) = found["Nodes"].properties
    assert (change.path, change.old, change.new) == ("DesiredCapacity", "2", "3")
    assert change.causes == ("DesiredCapacity",)
    assert change.replacement == "Never" and change.predicted
    assert found["Nodes"].replacement == "False"


def test_a_create_only_property_is_predicted_to_replace():
    found = diff(new_values={**VALUES, "TablePrefix": "autopush_b"})
    (change,) = found["RouterTable"].properties
    # Fn::Sub is filled in: the reader sees the table names.
    assert (change.path, change.old, change.new) == (
        "TableName",
        "autopush_a_router",
        "autopush_b_router",
    )
    assert change.replacement == "Always" and change.predicted
    assert found["RouterTable"].replacement == "True"


def test_a_long_script_is_shown_as_the_lines_that_change():
    new = stack_template()
    new["Mappings"]["Boot"]["Script"]["Body"] = "echo start\n" + "echo more\n" * 20
    found = diff(new_values={**VALUES, "CryptoKeyRevision": "bbbbbbbbbbbb"}, new=new)
    (change,) = found["Boot"].properties
    assert change.path == "LaunchTemplateData.UserData"
    assert change.old.startswith("#!/bin/bash\nREVISION=aaaaaaaaaaaa\n")  # the script's text
    assert "-REVISION=aaaaaaaaaaaa" in change.diff and "+REVISION=bbbbbbbbbbbb" in change.diff
    assert change.changed_lines == 22
    assert change.causes == ("CryptoKeyRevision",)


def test_the_crypto_key_never_appears_in_a_property_value():
    # A secret's Ref is never filled in, whatever the values given.
    found = diff(
        old_values={**VALUES, "CryptoKey": KEY},
        new_values={**VALUES, "CryptoKey": "other"},
        new=stack_template(
            Secret={
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"SecretString": {"Ref": "CryptoKey"}, "Description": "new"},
            }
        ),
    )
    text = json.dumps([change.__dict__ for change in found["Secret"].properties])
    assert KEY not in text and "other" not in text


def test_added_removed_and_attributes():
    new = stack_template(
        RouterTable={**stack_template()["Resources"]["RouterTable"], "DeletionPolicy": "Delete"},
        Secret=None,
        Extra={"Type": "AWS::SSM::Parameter", "Properties": {"Value": "x", "Type": "String"}},
    )
    found = diff(new=new)
    assert found["Extra"].action == "Add"
    assert found["Secret"].action == "Remove"
    (policy,) = found["RouterTable"].properties
    assert (policy.path, policy.old, policy.new, policy.replacement) == (
        "DeletionPolicy",
        "Retain",
        "Delete",
        "Never",
    )


def test_list_values_compare_as_lists_whoever_wrote_them():
    # The sandbox writes a list parameter as "['a', 'b']", AWS as "a,b".
    old = changes.parameter_values(
        stack_template(), {**VALUES, "SubnetIds": "['subnet-1', 'subnet-2']"}
    )
    assert old["SubnetIds"] == "subnet-1,subnet-2"
    assert changes.parameter_values(stack_template(), {})["DesiredCapacity"] == "2"  # default


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("AWS::DynamoDB::Table", "TableName", "Always"),
        ("AWS::DynamoDB::Table", "KeySchema", "Conditionally"),
        ("AWS::DynamoDB::Table", "BillingMode", "Never"),
        ("AWS::AutoScaling::AutoScalingGroup", "DesiredCapacity", "Never"),
        ("AWS::EC2::SecurityGroup", "GroupDescription", "Always"),
        ("AWS::EC2::SecurityGroup", "SecurityGroupIngress", "Never"),
        ("AWS::ElastiCache::CacheCluster", "CacheSubnetGroupName", "Always"),
        ("Custom::Thing", "Anything", "Conditionally"),  # no schema: cannot say
    ],
)
def test_replacement_is_predicted_from_cfn_lint_schemas(kind, path, expected):
    assert changes.requires_recreation(kind, path) == expected


def test_parameters_that_change_and_the_key_kept_or_replaced_never_shown():
    old = {"CryptoKey": "****", "CryptoKeyRevision": "aaaaaaaaaaaa", "DesiredCapacity": "2"}
    kept = changes.parameter_changes(
        old, {**old, "DesiredCapacity": "3"}, SECRET, key_revision="CryptoKeyRevision"
    )
    assert [(c.name, c.old, c.new, c.secret) for c in kept if c.changed or c.secret] == [
        ("CryptoKey", "", "", "kept"),
        ("DesiredCapacity", "2", "3", ""),
    ]
    replaced = changes.parameter_changes(
        old,
        {**old, "CryptoKey": "****", "CryptoKeyRevision": "bbbbbbbbbbbb"},
        SECRET,
        key_revision="CryptoKeyRevision",
    )
    assert replaced[0] == changes.ParameterChange("CryptoKey", "", "", "replaced")
    # The sandbox gives values, not masks: without a revision they decide, never shown.
    sandbox = changes.parameter_changes({"CryptoKey": KEY}, {"CryptoKey": "new"}, SECRET)
    assert sandbox == (changes.ParameterChange("CryptoKey", "", "", "replaced"),)
    # AWS masks both and no fingerprint tells: it says so rather than guess.
    masked = changes.parameter_changes({"CryptoKey": "****"}, {"CryptoKey": "****"}, SECRET)
    assert masked == (changes.ParameterChange("CryptoKey", "", "", "not shown by AWS"),)


def test_a_resolved_ssm_parameter_counts_as_unchanged():
    old = {"LatestAmiId": "ami-0123456789abcdef0"}  # the sandbox resolved it
    new = {"LatestAmiId": VALUES["LatestAmiId"]}
    changes.align_resolved(old, new, stack_template())
    assert old == new


def test_aws_details_win_over_the_prediction_and_add_what_the_templates_hide():
    predicted = changes.PropertyChange("DesiredCapacity", "2", "3", "Never")
    details = [
        {
            "Target": {
                "Attribute": "Properties",
                "Name": "DesiredCapacity",
                "RequiresRecreation": "Conditionally",
            },
            "Evaluation": "Static",
            "ChangeSource": "ParameterReference",
        },
        {
            "Target": {
                "Attribute": "Properties",
                "Name": "LaunchTemplate",
                "RequiresRecreation": "Never",
            },
            "Evaluation": "Dynamic",
            "ChangeSource": "ResourceAttribute",
            "CausingEntity": "Boot.LatestVersionNumber",
        },
    ]
    merged = changes.with_details([predicted], details)
    assert merged[0].replacement == "Conditionally" and not merged[0].predicted
    assert merged[1].path == "LaunchTemplate"
    assert merged[1].old == merged[1].new == changes.UNKNOWN
    assert merged[1].causes == ("Boot",) and not merged[1].predicted


# The change set from AWS's reply (botocore Stubber: AWS gives Replacement and Details).

CHANGE_SET = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/pushstack-1/abc"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/push/def"


def stubbed(responses):
    client = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(client)
    for operation, reply in responses:
        stubber.add_response(operation, reply)
    stubber.activate()

    def call(service, operation, **kwargs):
        try:
            return getattr(client, operation)(**kwargs)
        except Exception as exc:
            raise CloudError(str(exc), "", "X") from exc

    return call, stubber


def _parameters(values):
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def test_change_set_takes_awss_replacement_and_fills_the_parameters():
    masked = {**VALUES, "CryptoKey": "****"}
    new_values = {**masked, "DesiredCapacity": "3", "TablePrefix": "autopush_b"}
    call, stubber = stubbed(
        [
            (
                "describe_change_set",
                {
                    "ChangeSetId": CHANGE_SET,
                    "StackId": STACK,
                    "StackName": "push",
                    "Status": "CREATE_COMPLETE",
                    "ExecutionStatus": "AVAILABLE",
                    "Parameters": _parameters(new_values),
                    "Changes": [
                        {
                            "Type": "Resource",
                            "ResourceChange": {
                                "Action": "Modify",
                                "LogicalResourceId": "RouterTable",
                                "ResourceType": "AWS::DynamoDB::Table",
                                "Replacement": "True",
                                "Details": [
                                    {
                                        "Target": {
                                            "Attribute": "Properties",
                                            "Name": "TableName",
                                            "RequiresRecreation": "Always",
                                        }
                                    }
                                ],
                            },
                        }
                    ],
                },
            ),
            (
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "push",
                            "StackId": STACK,
                            "CreationTime": "2026-01-01T00:00:00Z",
                            "StackStatus": "CREATE_COMPLETE",
                            "Parameters": _parameters(masked),
                        }
                    ]
                },
            ),
            ("get_template", {"TemplateBody": json.dumps(stack_template())}),
            ("get_template", {"TemplateBody": json.dumps(stack_template())}),
        ]
    )
    # The Cloud reads the change set first (to check it is pushstack's), then describes it.
    reply = call("cloudformation", "describe_change_set", ChangeSetName=CHANGE_SET)
    kept = kept_policies(stack_template())
    view = changesets.describe(call, reply, "us-east-1", kept)
    stubber.assert_no_pending_responses()
    by_id = {change.logical_id: change for change in view.changes}
    table = by_id["RouterTable"]
    assert table.replacement == "True" and not table.predicted  # AWS said
    assert table.properties[0].replacement == "Always" and not table.properties[0].predicted
    assert "Replaces the DynamoDB table RouterTable" in table.danger
    # AWS left the capacity out of its list; the diff adds it, predicted.
    nodes = by_id["Nodes"]
    assert nodes.action == "Modify" and nodes.replacement == "False" and nodes.predicted
    assert [(c.name, c.old, c.new) for c in view.changed_parameters] == [
        ("TablePrefix", "autopush_a", "autopush_b"),
        ("DesiredCapacity", "2", "3"),
    ]
    assert view.parameters[0].secret == "kept"


def test_a_template_that_cannot_be_read_leaves_awss_list():
    client = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response(
        "describe_change_set",
        {
            "ChangeSetId": CHANGE_SET,
            "StackId": STACK,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Changes": [
                {
                    "ResourceChange": {
                        "Action": "Remove",
                        "LogicalResourceId": "LogBucket",
                        "ResourceType": "AWS::S3::Bucket",
                    }
                }
            ],
        },
    )
    stubber.add_client_error("describe_stacks", "AccessDenied", "no")
    stubber.activate()

    def call(service, operation, **kwargs):
        try:
            return getattr(client, operation)(**kwargs)
        except Exception as exc:
            raise CloudError("Access denied.", "Ask for it.", "AccessDenied") from exc

    reply = call("cloudformation", "describe_change_set", ChangeSetName=CHANGE_SET)
    retained = {"LogBucket": (True, True)}  # the deployed template's DeletionPolicy: Retain
    view = changesets.describe(call, reply, "us-east-1", retained)
    assert [c.logical_id for c in view.changes] == ["LogBucket"]
    assert view.changes[0].danger.startswith("Removes the log bucket")
    assert view.problem == "Access denied. Ask for it."


def test_attribute_references_are_getatt_and_dotted_sub_names_only():
    value = {
        "LaunchTemplate": {
            "LaunchTemplateId": {"Ref": "Boot"},
            "Version": {"Fn::GetAtt": ["Boot", "LatestVersionNumber"]},
        },
        "Name": {"Fn::Sub": "${Balancer.DNSName}/${AWS::StackName}/${TablePrefix}"},
        "Other": {"Fn::GetAtt": "Queue.Arn"},
    }
    assert changes.attribute_references(value) == {"Boot", "Balancer", "Queue"}


def test_updating_a_processor_stack_from_before_flags_its_redis_and_data_as_deleted():
    """#16 item 8: the processor's Redis moves from a CacheCluster ("Redis") to a
    replication group ("RedisGroup"); the update deletes the old one with the registered
    keys, and the change set page says so even when AWS (the sandbox) lists nothing."""
    import copy

    from variants import VARIANTS

    from pushstack.template import build_template

    new = build_template(VARIANTS["processor"]).to_dict()
    old = copy.deepcopy(new)
    group = old["Resources"].pop("RedisGroup")["Properties"]
    old["Resources"]["Redis"] = {
        "Type": "AWS::ElastiCache::CacheCluster",
        "Properties": {
            "ClusterName": {"Fn::Sub": ["push-redis-${Id}", group["ReplicationGroupId"]["Fn::Sub"][1]]},
            "Engine": "redis",
            "CacheNodeType": group["CacheNodeType"],
            "NumCacheNodes": 1,
            "CacheSubnetGroupName": group["CacheSubnetGroupName"],
            "VpcSecurityGroupIds": group["SecurityGroupIds"],
            "SnapshotRetentionLimit": 5,
        },
    }  # fmt: skip
    call, stubber = stubbed(
        [
            (
                "describe_change_set",
                {
                    "ChangeSetId": CHANGE_SET,
                    "StackId": STACK,
                    "StackName": "push",
                    "Status": "CREATE_COMPLETE",
                    "ExecutionStatus": "AVAILABLE",
                    "Parameters": [],
                    "Changes": [],
                },
            ),
            (
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "push",
                            "StackId": STACK,
                            "CreationTime": "2026-01-01T00:00:00Z",
                            "StackStatus": "CREATE_COMPLETE",
                            "Parameters": [],
                        }
                    ]
                },
            ),
            ("get_template", {"TemplateBody": json.dumps(old)}),
            ("get_template", {"TemplateBody": json.dumps(new)}),
        ]
    )
    reply = call("cloudformation", "describe_change_set", ChangeSetName=CHANGE_SET)
    view = changesets.describe(call, reply, "us-east-1", kept_policies(old))
    stubber.assert_no_pending_responses()
    by_id = {change.logical_id: change for change in view.changes}
    assert by_id["Redis"].action == "Remove"
    assert by_id["Redis"].danger == (
        "Deletes the ElastiCache cluster Redis (the Messages API's registered keys and "
        "message lists), with its data: the deployed template does not retain it."
    )
    assert by_id["RedisGroup"].action == "Add" and not by_id["RedisGroup"].danger
