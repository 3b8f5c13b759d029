"""What the cloud module makes of templates and AWS answers: capabilities, masked
secrets, data at risk in a change set, public subnets, the update form's values."""

from __future__ import annotations

import dataclasses
import json

import boto3
import pytest
from botocore.stub import Stubber
from variants import VARIANTS

from pushstack.cloud import MASK, Cloud, CloudError, Target, templates
from pushstack.cloud.changes import danger as _danger

ACCOUNT = "123456789012"
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/push/0b9c8a70"


@pytest.fixture
def cloud():
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    # Calls the Stubber does not answer go to a closed local port, never to AWS.
    return Cloud(Target("aws", "us-east-1", ACCOUNT, "http://127.0.0.1:9", session))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_needs_the_iam_acknowledgement(variant):
    from pushstack.template import build_template

    template = build_template(VARIANTS[variant]).to_dict()
    assert Cloud.required_capabilities(template) == ("CAPABILITY_IAM",)


def test_a_named_iam_resource_needs_the_named_acknowledgement():
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "push-nodes"}},
            "Queue": {"Type": "AWS::SQS::Queue"},
        }
    }
    assert Cloud.required_capabilities(template) == ("CAPABILITY_NAMED_IAM",)
    assert Cloud.required_capabilities({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}) == ()


def test_conditions_decide_which_resources_count():
    template = {
        "Parameters": {"KeyName": {"Type": "String", "Default": ""}, "Tls": {"Type": "String"}},
        "Conditions": {
            "WithSsh": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeyName"}, ""]}]},
            "WithTls": {"Fn::Equals": [{"Ref": "Tls"}, "yes"]},
            "Both": {"Fn::And": [{"Condition": "WithSsh"}, {"Condition": "WithTls"}]},
        },
        "Resources": {
            "Always": {"Type": "AWS::SNS::Topic"},
            "Ssh": {"Type": "AWS::EC2::SecurityGroupIngress", "Condition": "WithSsh"},
            "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Condition": "WithTls"},
            "Both": {"Type": "AWS::SNS::Topic", "Condition": "Both"},
        },
    }
    assert set(templates.resources(template, {"Tls": "no"})) == {"Always"}
    assert set(templates.resources(template, {"KeyName": "admin", "Tls": "yes"})) == {
        "Always",
        "Ssh",
        "Listener",
        "Both",
    }
    # A value not known (no parameters read yet) counts the resource rather than hiding it.
    assert "Listener" in templates.resources(template, {})


def test_yaml_templates_with_short_tags_are_read():
    body = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub '${AWS::StackName}-t'\n"
    assert templates.resources(templates.parse(body)) == {"Topic": "AWS::SNS::Topic"}


RETAINED = (True, True)  # the deployed template's DeletionPolicy, UpdateReplacePolicy


@pytest.mark.parametrize(
    ("action", "kind", "replacement", "kept", "danger"),
    [
        ("Modify", "AWS::DynamoDB::Table", "True", RETAINED, "Replaces the DynamoDB table"),
        ("Modify", "AWS::DynamoDB::Table", "Conditional", RETAINED, "May replace the DynamoDB"),
        ("Remove", "AWS::SecretsManager::Secret", "", RETAINED, "Removes the crypto key's secret"),
        (
            "Remove",
            "AWS::S3::Bucket",
            "",
            RETAINED,
            "Removes the log bucket X from the stack; it is retained",
        ),
        # Issue 16 item 2: "retained" only where the deployed template says so.
        ("Remove", "AWS::S3::Bucket", "", None, "Deletes the log bucket X, with its data"),
        ("Modify", "AWS::DynamoDB::Table", "True", (True, False), "Replaces the DynamoDB"),
        ("Modify", "AWS::DynamoDB::Table", "False", RETAINED, None),
        ("Add", "AWS::DynamoDB::Table", "", None, None),
        ("Remove", "AWS::AutoScaling::AutoScalingGroup", "", None, None),
        ("Modify", "AWS::AutoScaling::AutoScalingGroup", "True", None, None),
        # Issue 16 item 8: an update of a processor stack from before it replaces the
        # Redis CacheCluster with a replication group: the registered keys are lost.
        ("Remove", "AWS::ElastiCache::CacheCluster", "", None, "Deletes the ElastiCache cluster"),
        ("Modify", "AWS::ElastiCache::ReplicationGroup", "True", None, "Replaces the ElastiCache"),
        ("Remove", "AWS::ElastiCache::ReplicationGroup", "", RETAINED, "Removes the ElastiCache"),
    ],
)
def test_changes_that_put_data_at_risk_are_flagged(action, kind, replacement, kept, danger):
    found = _danger(action, kind, "X", replacement, kept)
    assert found == danger if danger is None else found.startswith(danger)
    if found and action == "Modify":
        assert ("the old one is retained" in found) == (kept == RETAINED)
    if found and action == "Remove":
        assert ("retained" in found) == (kept == RETAINED)


def _describe(parameters: dict, status: str = "CREATE_COMPLETE") -> dict:
    return {
        "Stacks": [
            {
                "StackName": "push",
                "StackId": STACK_ID,
                "CreationTime": "2026-11-27T12:00:00Z",
                "StackStatus": status,
                "Parameters": [
                    {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
                ],
                "Outputs": [{"OutputKey": "WebSocketURL", "OutputValue": "wss://push.example"}],
                "Tags": [{"Key": "pushstack:launched-by", "Value": "pushstack"}],
                "EnableTerminationProtection": True,
            }
        ]
    }


TEMPLATE = {
    "Parameters": {
        "CryptoKey": {"Type": "String", "NoEcho": True},
        "AdminToken": {"Type": "String", "NoEcho": "true"},
        "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>"},
    },
    "Resources": {
        "RouterTable": {"Type": "AWS::DynamoDB::Table"},
        "LogDeliveryStream": {"Type": "AWS::KinesisFirehose::DeliveryStream"},
        "Nodes": {"Type": "AWS::AutoScaling::AutoScalingGroup"},
    },
    "Outputs": {"WebSocketURL": {"Value": "x"}, "LogStreamName": {"Value": "y"}},
}


def test_secret_parameters_are_masked_even_when_the_target_shows_them(cloud):
    key = "q0FZ0d3Vt1o9kLh4n0X2cW8uJ5yR7bT3eA6sD1fG2hI="
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response(
            "describe_stacks",
            _describe(
                {"CryptoKey": key, "AdminToken": "hunter2", "SubnetIds": "subnet-a,subnet-b"}
            ),
        )
        cfn.add_response("get_template", {"TemplateBody": json.dumps(TEMPLATE)})
        stack = cloud.stack("push")
    assert stack.parameters == {
        "CryptoKey": MASK,
        "AdminToken": MASK,
        "SubnetIds": "subnet-a,subnet-b",
    }
    assert key not in repr(stack)
    assert stack.termination_protection
    assert stack.output_values == {"WebSocketURL": "wss://push.example"}
    assert stack.missing_outputs == ("LogStreamName",)


def test_the_update_form_gets_values_and_shape_but_never_the_key(cloud):
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response(
            "describe_stacks",
            _describe(
                {
                    "CryptoKey": "****",
                    "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
                    "ConnectionMaxSize": "6",
                    "TablePrefix": "autopush_x",
                }
            ),
        )
        cfn.add_response("get_template", {"TemplateBody": json.dumps(TEMPLATE)})
        values = cloud.stack_options("push")
    assert values["subnet_ids"] == ("subnet-0123456789abcdef0", "subnet-0123456789abcdef1")
    assert values["connection_max_size"] == 6
    assert values["table_prefix"] == "autopush_x"
    assert values["log_processing"] == "firehose"  # a delivery stream, no processor function
    assert values["reuse_tables"] is False
    assert "crypto_key" not in values


def test_resources_in_aws_are_what_aws_lists(cloud):
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response("describe_stacks", _describe({}, status="CREATE_IN_PROGRESS"))
        cfn.add_response("get_template", {"TemplateBody": json.dumps(TEMPLATE)})
        cfn.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "Nodes",
                        "PhysicalResourceId": "push-Nodes-1",
                        "ResourceType": "AWS::AutoScaling::AutoScalingGroup",
                        "LastUpdatedTimestamp": "2026-11-27T12:03:00Z",
                        "ResourceStatus": "CREATE_IN_PROGRESS",
                    },
                    {
                        "LogicalResourceId": "RouterTable",
                        "PhysicalResourceId": "autopush_x_router",
                        "ResourceType": "AWS::DynamoDB::Table",
                        "LastUpdatedTimestamp": "2026-11-27T12:01:00Z",
                        "ResourceStatus": "CREATE_COMPLETE",
                    },
                ]
            },
        )
        rows = cloud.resources("push")
    assert [(r.logical_id, r.status, r.emulated) for r in rows] == [
        ("RouterTable", "CREATE_COMPLETE", True),
        ("Nodes", "CREATE_IN_PROGRESS", True),
    ]


def test_the_stacks_list_holds_only_pushstack_stacks(cloud):
    ours = _describe({})["Stacks"][0]
    other = {**ours, "StackName": "other", "StackId": STACK_ID + "x", "Tags": []}
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response("describe_stacks", {"Stacks": [other], "NextToken": "2"})
        cfn.add_response("describe_stacks", {"Stacks": [ours]}, {"NextToken": "2"})
        listed = cloud.list_stacks()
    assert [s.name for s in listed] == ["push"]


def test_a_subnet_is_public_when_its_route_table_reaches_an_internet_gateway(cloud):
    def table(vpc, routes, subnets=(), main=False):
        associations = [{"SubnetId": s, "Main": False} for s in subnets]
        if main:
            associations.append({"Main": True})
        return {"VpcId": vpc, "Associations": associations, "Routes": routes}

    to_igw = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}]
    to_nat = [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}]
    with Stubber(cloud._client("ec2")) as ec2:
        ec2.add_response(
            "describe_vpcs", {"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}]}
        )
        ec2.add_response(
            "describe_route_tables",
            {
                "RouteTables": [
                    table("vpc-1", to_igw, main=True),
                    table("vpc-1", to_nat, subnets=["subnet-private"]),
                ]
            },
        )
        ec2.add_response(
            "describe_subnets",
            {
                "Subnets": [
                    {"SubnetId": "subnet-main", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a"},
                    {
                        "SubnetId": "subnet-private",
                        "VpcId": "vpc-1",
                        "AvailabilityZone": "us-east-1b",
                    },
                ]
            },
        )
        ec2.add_client_error("describe_key_pairs", "UnauthorizedOperation", "", 403)
        with Stubber(cloud._client("acm")) as acm, Stubber(cloud._client("route53")) as dns:
            acm.add_response(
                "list_certificates",
                {
                    "CertificateSummaryList": [
                        {
                            "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/a",
                            "DomainName": "push.example",
                        }
                    ]
                },
            )
            zone = {"CallerReference": "r", "Config": {"PrivateZone": False}}
            dns.add_response(
                "list_hosted_zones",
                {
                    "HostedZones": [
                        {**zone, "Id": "/hostedzone/ZPUBLIC1", "Name": "push.example."},
                        {
                            **zone,
                            "Id": "/hostedzone/ZPRIVATE1",
                            "Name": "internal.",
                            "Config": {"PrivateZone": True},
                        },
                    ],
                    "IsTruncated": True,
                    "NextMarker": "ZNEXT",
                    "Marker": "",
                    "MaxItems": "1",
                },
            )
            dns.add_response(
                "list_hosted_zones",
                {
                    "HostedZones": [{**zone, "Id": "/hostedzone/ZPUBLIC2", "Name": "a.example."}],
                    "IsTruncated": False,
                    "Marker": "ZNEXT",
                    "MaxItems": "1",
                },
                {"Marker": "ZNEXT"},
            )
            choices = cloud.account_choices()
    public = {s.subnet_id: s.public for s in choices.subnets}
    assert public == {"subnet-main": True, "subnet-private": False}
    assert [c.domain for c in choices.certificates] == ["push.example"]
    # Public zones only, every page of them.
    assert [(z.zone_id, z.name) for z in choices.hosted_zones] == [
        ("ZPUBLIC2", "a.example"),
        ("ZPUBLIC1", "push.example"),
    ]
    # Key pairs may not be read: the rest is still offered, and the page can say why.
    assert choices.key_pairs == ()
    assert len(choices.problems) == 1 and "key pairs" in choices.problems[0]


def test_a_deleted_stack_whose_template_is_gone_still_shows(cloud):
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response(
            "describe_stacks", _describe({"CryptoKey": "****"}, status="DELETE_COMPLETE")
        )
        cfn.add_client_error("get_template", "ValidationError", "Stack with id push does not exist")
        stack = cloud.stack("push")
    assert stack.status == "DELETE_COMPLETE"
    assert stack.parameters == {"CryptoKey": MASK}


def _stack_for_update() -> dict:
    reply = _describe({"CryptoKey": "****"})
    reply["Stacks"][0]["Tags"].append({"Key": "pushstack:launch-id", "Value": "l-1"})
    return reply


@pytest.mark.parametrize("keep", [True, False])
def test_a_change_set_gives_every_value_and_keeps_the_key_only_when_asked(cloud, keep):
    from pushstack.options import generate_crypto_key

    new_key = generate_crypto_key()
    wanted = dataclasses.replace(
        VARIANTS["none"], region="us-east-1", crypto_key="" if keep else new_key
    )
    client = cloud._client("cloudformation")
    sent = {}
    client.meta.events.register(
        "provide-client-params.cloudformation.CreateChangeSet",
        lambda params, **_: sent.update(params),
    )
    with Stubber(client) as cfn:
        cfn.add_response("describe_stacks", _stack_for_update(), {"StackName": "push"})
        cfn.add_response("create_change_set", {"Id": "arn:cs", "StackId": STACK_ID})
        change_set_id = cloud.create_change_set(
            "push", wanted, keep_crypto_key=keep, acknowledged=("CAPABILITY_IAM",)
        )
    assert change_set_id == "arn:cs"
    assert sent["StackName"] == "push" and sent["ChangeSetType"] == "UPDATE"
    parameters = {p["ParameterKey"]: p for p in sent["Parameters"]}
    for key in ("CryptoKey", "CryptoKeyRevision"):
        if keep:
            assert parameters[key] == {"ParameterKey": key, "UsePreviousValue": True}
        else:
            assert "UsePreviousValue" not in parameters[key]
    if not keep:
        assert parameters["CryptoKey"]["ParameterValue"] == new_key
        assert parameters["CryptoKeyRevision"]["ParameterValue"] == wanted.crypto_key_revision
    # Every other value is given, never "use the previous one" (lists as comma-separated text).
    others = [p for key, p in parameters.items() if key not in ("CryptoKey", "CryptoKeyRevision")]
    assert all("ParameterValue" in p for p in others)
    assert parameters["SubnetIds"]["ParameterValue"] == ",".join(wanted.subnet_ids)
    # The stack keeps its tags (pushstack's list still finds it).
    assert {"Key": "pushstack:launch-id", "Value": "l-1"} in sent["Tags"]


def test_keeping_nothing_needs_a_new_key(cloud):
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response("describe_stacks", _stack_for_update())
        with pytest.raises(CloudError, match="No new crypto key"):
            cloud.create_change_set(
                "push",
                dataclasses.replace(VARIANTS["none"], region="us-east-1", crypto_key=""),
                keep_crypto_key=False,
                acknowledged=("CAPABILITY_IAM",),
            )


def test_continue_rollback_skips_what_it_is_told(cloud):
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response("describe_stacks", _describe({}, status="UPDATE_ROLLBACK_FAILED"))
        cfn.add_response(
            "continue_update_rollback",
            {},
            {"StackName": STACK_ID, "ResourcesToSkip": ["NodeRole"]},
        )
        cloud.continue_update_rollback("push", skip=["NodeRole"])
        cfn.assert_no_pending_responses()


def _table(routes, subnet=None, main=False):
    association = {"Main": True} if main else {"SubnetId": subnet, "Main": False}
    return {"VpcId": "vpc-1", "Associations": [association], "Routes": routes}


LOCAL = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        (
            [_table([LOCAL, {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}], "s")],
            "internet gateway",
        ),
        (
            [_table([LOCAL, {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}], "s")],
            "NAT gateway",
        ),
        (
            [
                _table(
                    [LOCAL, {"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1"}], "s"
                )
            ],
            "other",
        ),
        ([_table([LOCAL], "s")], ""),
        # A route to a deleted gateway goes nowhere.
        (
            [
                _table(
                    [
                        {
                            "DestinationCidrBlock": "0.0.0.0/0",
                            "GatewayId": "igw-1",
                            "State": "blackhole",
                        }
                    ],
                    "s",
                )
            ],
            "",
        ),
        # No table of its own: the VPC's main one decides.
        (
            [_table([{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}], main=True)],
            "internet gateway",
        ),
        # Its own table wins over the main one.
        (
            [
                _table([{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}], main=True),
                _table([LOCAL], "s"),
            ],
            "",
        ),
    ],
)
def test_a_subnet_is_public_only_with_a_route_to_an_internet_gateway(tables, expected):
    from pushstack.cloud.account import internet_route, is_public

    subnet = {"SubnetId": "s", "VpcId": "vpc-1", "MapPublicIpOnLaunch": True}
    assert internet_route(subnet, tables) == expected
    assert is_public(subnet, tables) == (expected == "internet gateway")


def test_a_legacy_processor_stack_with_its_redis_replication_group_stays_legacy(cloud):
    """#16 item 8: the processor's Redis is now a replication group, like autopush-rs's
    store: the engine is not guessed from the type, and a stack that reuses its tables
    keeps saying so on the update form."""
    from pushstack.options import Options
    from pushstack.template import build_template

    options = Options(
        engine="autopush-legacy",
        log_processing="processor",
        reuse_tables=True,
        private_subnet_ids=("subnet-0123456789abcdef2", "subnet-0123456789abcdef3"),
        messages_api_subnet_id="subnet-0123456789abcdef2",
    )
    template = build_template(options).to_dict()
    assert "AWS::ElastiCache::ReplicationGroup" in json.dumps(template)
    with Stubber(cloud._client("cloudformation")) as cfn:
        cfn.add_response("describe_stacks", _describe({"Engine": "autopush-legacy"}))
        cfn.add_response("get_template", {"TemplateBody": json.dumps(template)})
        values = cloud.stack_options("push")
    assert values["engine"] == "autopush-legacy"
    assert values["log_processing"] == "processor"
    assert values["reuse_tables"] is True
