"""Structure of every template variant: the properties DESIGN.md promises, asserted."""

import json
import re

import pytest
from variants import CRYPTO_KEY, OLD_CRYPTO_KEY, VARIANTS

from pushstack.graph import dependencies
from pushstack.options import LEGACY, REGIONS, SPECS, Options
from pushstack.processor_zip import zip_key
from pushstack.render import INLINE_TEMPLATE_LIMIT, to_json
from pushstack.summary import AWS_MANAGED_POLICIES
from pushstack.template import (
    AMI_PARAMETER,
    BOOT_SCRIPT,
    LAMBDA_RUNTIME,
    ROUTER_PORT,
    build_template,
)


@pytest.fixture(params=list(VARIANTS), scope="module")
def variant(request):
    options = VARIANTS[request.param]
    return options, build_template(options).to_dict()


@pytest.fixture(params=[name for name, v in VARIANTS.items() if not v.rs], scope="module")
def legacy_variant(request):
    """autopush 1.57.0's variants: its tables, its settings, its log processing."""
    options = VARIANTS[request.param]
    return options, build_template(options).to_dict()


def resources_of(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def closure(graph, start):
    seen, todo = set(), [start]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def sub_text(value):
    """The script text of a Fn::Sub (string or [string, variables])."""
    sub = value["Fn::Sub"]
    return sub[0] if isinstance(sub, list) else sub


def user_data_header(launch_template):
    joined = launch_template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    parts = joined["Fn::Join"][1]
    assert parts[1] == {"Fn::FindInMap": ["Boot", "Script", "Body"]}
    return sub_text(parts[0])


# --- the crypto key -----------------------------------------------------------------


def test_crypto_key_is_a_noecho_parameter_without_default(variant):
    _, t = variant
    key = t["Parameters"]["CryptoKey"]
    assert key["NoEcho"] is True
    assert "Default" not in key
    assert key["AllowedPattern"] == SPECS["crypto_key"].parameter_pattern


def test_crypto_key_value_never_in_template(variant):
    options, t = variant
    text = json.dumps(t)
    for key in options.crypto_keys:
        assert key not in text


def test_crypto_key_only_reaches_the_secret(variant):
    _, t = variant
    users = [
        name
        for name, resource in t["Resources"].items()
        if {"Ref": "CryptoKey"} in list(walk(resource))
        or any(isinstance(n, str) and "${CryptoKey}" in n for n in walk(resource))
    ]
    assert users == ["CryptoKeySecret"]
    secret = t["Resources"]["CryptoKeySecret"]
    assert secret["Properties"]["SecretString"] == {"Ref": "CryptoKey"}
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    for section in ("Outputs", "Metadata", "Mappings"):
        assert "CryptoKey}" not in json.dumps(t.get(section, {})).replace("CryptoKeySecret}", "")
        assert {"Ref": "CryptoKey"} not in list(walk(t.get(section, {})))


def test_nodes_read_the_key_from_the_secret_at_boot(variant):
    _, t = variant
    for name in ("ConnectionLaunchTemplate", "EndpointLaunchTemplate"):
        header = user_data_header(t["Resources"][name])
        assert "SECRET_ID=${CryptoKeySecret}" in header
    assert "aws secretsmanager get-secret-value" in BOOT_SCRIPT
    assert "set -x" not in BOOT_SCRIPT  # would print the key into the boot log
    assert "umask 077" in BOOT_SCRIPT


def test_rotation_list_of_keys_is_accepted():
    options = VARIANTS["reuse-tables"]
    assert options.crypto_keys == [CRYPTO_KEY, OLD_CRYPTO_KEY]
    pattern = build_template(options).to_dict()["Parameters"]["CryptoKey"]["AllowedPattern"]
    assert re.fullmatch(pattern, options.crypto_key)


# --- nothing account- or region-specific ------------------------------------------


def test_no_literal_region_account_partition_or_ami(variant):
    _, t = variant
    text = json.dumps(t)
    for region in REGIONS:
        assert region not in text
    assert not re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", text), "an account id"
    assert "arn:aws:" not in text and "arn:aws-" not in text
    assert not re.search(r"ami-[0-9a-f]{8}", text)


def test_ami_comes_from_the_public_ssm_parameter(variant):
    """Unless pinned (#15 item 6): then the given id, and no public parameter."""
    options, t = variant
    if options.ami_id:
        assert "LatestAmiId" not in t["Parameters"]
        assert t["Parameters"]["AmiId"]["Type"] == "AWS::EC2::Image::Id"
        for lt in resources_of(t, "AWS::EC2::LaunchTemplate").values():
            assert lt["Properties"]["LaunchTemplateData"]["ImageId"] == {"Ref": "AmiId"}
        return
    assert "AmiId" not in t["Parameters"]
    ami = t["Parameters"]["LatestAmiId"]
    assert ami["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert ami["Default"] == AMI_PARAMETER
    for lt in resources_of(t, "AWS::EC2::LaunchTemplate").values():
        assert lt["Properties"]["LaunchTemplateData"]["ImageId"] == {"Ref": "LatestAmiId"}


# --- tables -----------------------------------------------------------------------

TABLE_KEYS = {
    "RouterTable": ({"uaid": "HASH"}, "expiry", "${TablePrefix}_router"),
    "MessageTable": (
        {"uaid": "HASH", "chidmessageid": "RANGE"},
        "expiry",
        "${TablePrefix}_message",
    ),
}


def test_tables_are_on_demand_encrypted_recoverable_and_retained(variant):
    options, t = variant
    tables = resources_of(t, "AWS::DynamoDB::Table")
    expected = {"RouterTable", "MessageTable"}
    if options.reuse_tables or options.rs:  # reused (creating would fail), or not read
        expected = set()
    assert set(tables) == expected
    for name, table in tables.items():
        keys, ttl, table_name = TABLE_KEYS[name]
        props = table["Properties"]
        assert {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]} == keys
        assert props["TableName"] == {"Fn::Sub": table_name}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
        assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}


TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}"


def test_reused_tables_are_still_named_exactly_in_the_node_policy():
    t = build_template(VARIANTS["reuse-tables"]).to_dict()
    statement = node_statements(t)["dynamodb"]
    assert statement["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}_router"
        },
        {
            "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}_message"
        },
    ]


# --- nodes, load balancers and ports -------------------------------------------------


def ingress_rules(t, group):
    return t["Resources"][group]["Properties"]["SecurityGroupIngress"]


def test_connection_and_endpoint_nodes_are_separate_groups_behind_load_balancers(variant):
    _, t = variant
    groups = resources_of(t, "AWS::AutoScaling::AutoScalingGroup")
    for name in ("Connection", "Endpoint"):
        group = groups[f"{name}Nodes"]["Properties"]
        assert group["TargetGroupARNs"] == [{"Ref": f"{name}TargetGroup"}]
        assert group["VPCZoneIdentifier"] == {"Ref": "SubnetIds"}
        assert group["HealthCheckType"] == "ELB"
        assert t["Resources"][f"{name}LoadBalancer"]["Properties"]["Scheme"] == "internet-facing"


def test_the_groups_create_in_parallel_without_waiting_for_a_load_balancer(variant):
    """A load balancer takes minutes: no node group waits for one (issue 7, item 7)."""
    _options, t = variant
    graph = dependencies(t)
    groups = resources_of(t, "AWS::AutoScaling::AutoScalingGroup")
    for name in groups:
        waits = closure(graph, name)
        assert not [n for n in waits if n.endswith("LoadBalancer")], name
        assert not (set(groups) & waits), name


def test_push_nodes_start_after_their_tables_and_log_stream(variant):
    """autopush's Firehose sender dies on a failed write: the stream exists first (item 8)."""
    options, t = variant
    for name in ("ConnectionNodes", "EndpointNodes"):
        waits = closure(dependencies(t), name)
        assert ("LogDeliveryStream" in waits) == options.firehose
        if options.rs:  # the store, and the images when the stack builds them
            assert "PushStore" in waits
            assert ("ImageBuild" in waits) == options.builds_images
        elif not options.reuse_tables:
            assert {"RouterTable", "MessageTable"} <= waits


def test_connection_nodes_learn_the_endpoint_host_name(legacy_variant):
    options, t = legacy_variant
    header = user_data_header(t["Resources"]["ConnectionLaunchTemplate"])
    if options.endpoint_hostname:
        assert "echo ENDPOINT_HOSTNAME=${EndpointHostname}" in header
        assert "EndpointHostnameParameter" not in t["Resources"]
    else:
        # From the parameter the stack writes once the load balancer exists.
        assert "echo ENDPOINT_HOSTNAME=$ENDPOINT_HOSTNAME" in header
        assert (
            "ENDPOINT_HOSTNAME_PARAMETER=/pushstack/${AWS::StackName}/endpoint-hostname" in header
        )
        parameter = t["Resources"]["EndpointHostnameParameter"]["Properties"]
        assert parameter["Name"] == {"Fn::Sub": "/pushstack/${AWS::StackName}/endpoint-hostname"}
        assert parameter["Value"] == {"Fn::GetAtt": ["EndpointLoadBalancer", "DNSName"]}
        assert node_statements(t)["ssm"]["Resource"] == [
            {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:"
                "parameter/pushstack/${AWS::StackName}/endpoint-hostname"
            }
        ]
    scheme, port = ("https", "443") if options.tls else ("http", "80")
    assert f"echo ENDPOINT_SCHEME={scheme}" in header
    assert f"echo ENDPOINT_PORT={port}" in header
    assert "echo ROUTER_PORT=8081" in header
    assert "COMMAND=autopush\n" in header
    assert "COMMAND=autoendpoint\n" in user_data_header(t["Resources"]["EndpointLaunchTemplate"])


def test_internal_router_port_is_open_only_to_the_internal_router_group(variant):
    _, t = variant
    for name, sg in resources_of(t, "AWS::EC2::SecurityGroup").items():
        for rule in sg["Properties"]["SecurityGroupIngress"]:
            if rule["FromPort"] <= ROUTER_PORT <= rule["ToPort"]:
                assert name == "ConnectionNodeSecurityGroup"
                assert rule["SourceSecurityGroupId"] == {"Ref": "InternalRouterSecurityGroup"}
    data = t["Resources"]["EndpointLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert {"Ref": "InternalRouterSecurityGroup"} in data["NetworkInterfaces"][0]["Groups"]


def test_nodes_take_traffic_only_from_their_load_balancer(variant):
    options, t = variant
    for group, port in (("Connection", 8080), ("Endpoint", 8082)):
        rules = [r for r in ingress_rules(t, f"{group}NodeSecurityGroup") if r["FromPort"] == port]
        assert rules == [
            {
                "Description": rules[0]["Description"],
                "FromPort": port,
                "IpProtocol": "tcp",
                "SourceSecurityGroupId": {"Ref": f"{group}LoadBalancerSecurityGroup"},
                "ToPort": port,
            }
        ]
    for sg in resources_of(t, "AWS::EC2::SecurityGroup").values():
        for rule in sg["Properties"]["SecurityGroupIngress"]:
            if rule.get("CidrIp") == "0.0.0.0/0":
                assert rule["FromPort"] in ((80, 443) if options.tls else (80,))


def test_tls_listeners_when_a_certificate_is_given(variant):
    options, t = variant
    listeners = resources_of(t, "AWS::ElasticLoadBalancingV2::Listener")
    https = {k: v for k, v in listeners.items() if v["Properties"]["Protocol"] == "HTTPS"}
    if not options.tls:
        assert not https
        assert t["Outputs"]["WebSocketURL"]["Value"] == {
            "Fn::Sub": "ws://${ConnectionLoadBalancer.DNSName}"
        }
        return
    assert len(https) == (3 if options.processor else 2)
    for listener in https.values():
        props = listener["Properties"]
        assert props["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
        assert props["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    for name, listener in listeners.items():
        if listener["Properties"]["Protocol"] == "HTTP":
            action = listener["Properties"]["DefaultActions"][0]
            assert action["Type"] == "redirect", name
    assert t["Outputs"]["WebSocketURL"]["Value"] == {"Fn::Sub": "wss://${WebsocketHostname}"}


def test_nodes_signal_when_healthy_and_are_tuned_for_many_connections(variant):
    _, t = variant
    for name, group in resources_of(t, "AWS::AutoScaling::AutoScalingGroup").items():
        prefix = name.removesuffix("Nodes")
        signal = group["CreationPolicy"]["ResourceSignal"]
        assert signal["Count"] == {"Ref": f"{prefix}DesiredCapacity"}
        assert group["UpdatePolicy"]["AutoScalingRollingUpdate"]["WaitOnResourceSignals"] is True
        assert f"RESOURCE={name}\n" in user_data_header(t["Resources"][f"{prefix}LaunchTemplate"])
    assert "/opt/aws/bin/cfn-signal" in BOOT_SCRIPT
    assert "--ulimit nofile=1000000:1000000" in BOOT_SCRIPT
    for setting in ("fs.file-max", "net.core.somaxconn", "net.ipv4.ip_local_port_range"):
        assert setting in BOOT_SCRIPT


def test_nodes_require_imdsv2_and_encrypted_disks(variant):
    _, t = variant
    for lt in resources_of(t, "AWS::EC2::LaunchTemplate").values():
        data = lt["Properties"]["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


# --- access ---------------------------------------------------------------------------


def test_ssh_only_with_a_key_pair_and_admin_network(variant):
    options, t = variant
    ssh_rules = [
        (name, rule)
        for name, sg in resources_of(t, "AWS::EC2::SecurityGroup").items()
        for rule in sg["Properties"]["SecurityGroupIngress"]
        if rule["FromPort"] <= 22 <= rule["ToPort"]
    ]
    key_names = [
        lt for lt in resources_of(t, "AWS::EC2::LaunchTemplate").values()
        if "KeyName" in lt["Properties"]["LaunchTemplateData"]
    ]  # fmt: skip
    if not options.ssh:
        assert ssh_rules == [] and key_names == []
        assert "KeyName" not in t["Parameters"] and "SshCidr" not in t["Parameters"]
        return
    assert ssh_rules
    for _, rule in ssh_rules:
        assert rule["CidrIp"] == {"Ref": "SshCidr"}
    assert len(key_names) == len(resources_of(t, "AWS::EC2::LaunchTemplate"))


# The actions AWS documents for an instance profile with only Session Manager's rights
# ("Create a custom IAM role for Session Manager", Systems Manager user guide).
SESSION_MANAGER_ACTIONS = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]


def role_statements(t, name):
    return t["Resources"][name]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def test_session_manager_access_for_every_node_role(variant):
    """Session Manager's own actions, inline; the only managed policy on a node role is the
    pull of the account's ECR images, for the nodes that run copies of their images (the
    legacy engine's and the Messages API's)."""
    options, t = variant
    roles = [name for name in ("PushNodeRole", "MessagesApiRole") if name in t["Resources"]]
    assert roles
    for name in roles:
        managed = t["Resources"][name]["Properties"].get("ManagedPolicyArns", [])
        assert managed == (
            []
            if options.rs
            else [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
                }
            ]
        )
        statements = role_statements(t, name)
        assert {
            "Effect": "Allow",
            "Action": SESSION_MANAGER_ACTIONS,
            "Resource": ["*"],
        } in statements
        assert {
            "Effect": "Allow",
            "Action": ["ssm:UpdateInstanceInformation"],
            "Resource": [
                {"Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*"}
            ],
        } in statements


def test_no_role_reads_every_ssm_parameter(variant):
    """No statement, inline or of an AWS managed policy the template attaches (expanded
    from the summary's table, which must know each), grants ssm:GetParameter(s) beyond
    the stack's own parameter path."""
    _, t = variant
    own_path = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/pushstack/${AWS::StackName}/"
    for name, role in resources_of(t, "AWS::IAM::Role").items():
        statements = list(role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"])
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            path = arn["Fn::Sub"].split(":policy/", 1)[1]
            statements += AWS_MANAGED_POLICIES[path]
        for statement in statements:
            actions = statement["Action"]
            reads = [a for a in actions if a.startswith(("ssm:Get", "ssm:*")) or a == "*"]
            if reads:
                resources = statement["Resource"]
                assert resources != "*" and all(
                    isinstance(r, dict) and r["Fn::Sub"].startswith(own_path) for r in resources
                ), (name, statement)


# --- IAM ------------------------------------------------------------------------------


def policy_documents(t):
    for node in walk(t["Resources"]):
        if isinstance(node, dict):
            for key in ("PolicyDocument", "AssumeRolePolicyDocument"):
                if key in node:
                    yield node[key]


def node_statements(t):
    """The push nodes' statements by service; ListTables, alone on "*", by its action;
    Session Manager's left out (test_session_manager_access_for_every_node_role)."""
    document = t["Resources"]["PushNodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    return {
        s["Action"][0] if s["Resource"] == ["*"] else s["Action"][0].split(":")[0]: s
        for s in document["Statement"]
        if s["Action"] not in (SESSION_MANAGER_ACTIONS, ["ssm:UpdateInstanceInformation"])
    }


def test_every_policy_document_has_a_version(variant):
    _, t = variant
    documents = list(policy_documents(t))
    assert documents
    for document in documents:
        assert document["Version"] == "2012-10-17"


def test_no_allow_statement_grants_every_resource(variant):
    """Except ListTables, ECR's GetAuthorizationToken and Session Manager's channels, which
    have no resource-level permissions (and give table names, a registry login limited by
    the other rights, or sessions that AWS authorizes for the user who opens them)."""
    _, t = variant
    for document in policy_documents(t):
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow" and "Resource" in statement:
                if statement["Action"] not in (
                    ["dynamodb:ListTables"],
                    ["ecr:GetAuthorizationToken"],
                    SESSION_MANAGER_ACTIONS,
                ):
                    assert "*" not in statement["Resource"]
                assert not any(a.endswith(":*") or a == "*" for a in statement["Action"])


def test_push_nodes_may_list_tables_as_autopush_does_at_start(legacy_variant):
    """autopush 1.57.0 finds its message table with ListTables and exits without it."""
    _, t = legacy_variant
    assert node_statements(t)["dynamodb:ListTables"] == {
        "Action": ["dynamodb:ListTables"],
        "Effect": "Allow",
        "Resource": ["*"],
    }


def test_node_role_names_its_tables_secret_and_stream(legacy_variant):
    options, t = legacy_variant
    statements = node_statements(t)
    assert statements["dynamodb"]["Resource"] == [
        {"Fn::Sub": f"{TABLE_ARN}_router"},
        {"Fn::Sub": f"{TABLE_ARN}_message"},
    ]
    assert "dynamodb:CreateTable" not in statements["dynamodb"]["Action"]
    assert statements["secretsmanager"] == {
        "Action": ["secretsmanager:GetSecretValue"],
        "Effect": "Allow",
        "Resource": [{"Ref": "CryptoKeySecret"}],
    }
    if options.firehose:
        assert statements["firehose"]["Resource"][0]["Fn::Sub"][0].endswith(
            ":deliverystream/push-logs-${Uuid}"
        )
        assert "echo STREAM_NAME=${LogStreamName}" in user_data_header(
            t["Resources"]["ConnectionLaunchTemplate"]
        )
    else:
        assert "firehose" not in statements


# --- log processing ---------------------------------------------------------------------


def test_firehose_delivers_to_a_private_encrypted_retained_bucket(variant):
    options, t = variant
    if not options.firehose:
        assert not resources_of(t, "AWS::KinesisFirehose::DeliveryStream")
        assert not resources_of(t, "AWS::S3::Bucket")
        return
    stream = t["Resources"]["LogDeliveryStream"]["Properties"]
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["BucketARN"] == {"Fn::GetAtt": ["LogBucket", "Arn"]}
    bucket = t["Resources"]["LogBucket"]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    policy = t["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]
    assert policy["Statement"][0]["Effect"] == "Deny"  # no plain-HTTP access


def test_processor_is_wired_to_the_bucket_in_the_template(variant):
    options, t = variant
    if not options.processor:
        assert "ProcessorFunction" not in t["Resources"]
        assert not resources_of(t, "AWS::ElastiCache::CacheCluster")
        return
    function = t["Resources"]["ProcessorFunction"]["Properties"]
    assert function["Runtime"] == LAMBDA_RUNTIME and LAMBDA_RUNTIME.startswith("python3.")
    assert function["Handler"] == "push_processor.handler"  # pushstack's own processor
    # Unless another bucket is named, the zip is in pushstack's artifacts bucket.
    assert function["Code"] == {
        "S3Bucket": {
            "Fn::If": [
                "UseArtifactsBucket",
                {"Fn::Sub": "pushstack-artifacts-${AWS::AccountId}-${AWS::Region}"},
                {"Ref": "ProcessorCodeBucket"},
            ]
        },
        "S3Key": {"Ref": "ProcessorCodeKey"},
    }
    assert t["Conditions"]["UseArtifactsBucket"] == {
        "Fn::Equals": [{"Ref": "ProcessorCodeBucket"}, ""]
    }
    assert t["Parameters"]["ProcessorCodeBucket"]["Default"] == ""
    assert t["Parameters"]["ProcessorCodeKey"]["Default"] == zip_key()
    # Redis's address is in its settings object: no ElastiCache API, no table.
    processor_actions = {
        action
        for statement in t["Resources"]["ProcessorRole"]["Properties"]["Policies"][0][
            "PolicyDocument"
        ]["Statement"]
        for action in statement["Action"]
    }
    assert processor_actions == {"s3:GetObject", "s3:ListBucket", "sqs:SendMessage"}
    assert function["VpcConfig"]["SubnetIds"] == {"Ref": "PrivateSubnetIds"}
    notification = t["Resources"]["LogBucket"]["Properties"]["NotificationConfiguration"]
    [trigger] = notification["LambdaConfigurations"]
    assert trigger["Event"] == "s3:ObjectCreated:*"
    assert trigger["Function"] == {"Fn::GetAtt": ["ProcessorFunction", "Arn"]}
    assert "ProcessorInvokePermission" in t["Resources"]["LogBucket"]["DependsOn"]
    permission = t["Resources"]["ProcessorInvokePermission"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_no_processor_event_is_lost_silently(variant):
    """#15 item 2: an event every try failed on goes to a retained queue, with its error."""
    options, t = variant
    if not options.processor:
        assert not resources_of(t, "AWS::SQS::Queue")
        return
    queue = t["Resources"]["ProcessorFailureQueue"]
    assert queue["DeletionPolicy"] == queue["UpdateReplacePolicy"] == "Retain"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    config = t["Resources"]["ProcessorFailureDestination"]["Properties"]
    assert config["FunctionName"] == {"Ref": "ProcessorFunction"}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["ProcessorFailureQueue", "Arn"]
    }
    statements = t["Resources"]["ProcessorRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    send = [s for s in statements["Statement"] if s["Action"] == ["sqs:SendMessage"]]
    assert send and send[0]["Resource"] == [{"Fn::GetAtt": ["ProcessorFailureQueue", "Arn"]}]


def test_redis_is_open_only_to_the_processor_and_messages_api(variant):
    options, t = variant
    if not options.processor:
        return
    # Its rules are resources of their own, so that Redis need not wait for their sources.
    rules = ingress_rules(t, "RedisSecurityGroup") + [
        rule["Properties"]
        for rule in resources_of(t, "AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Ref": "RedisSecurityGroup"}
    ]
    sources = {rule["SourceSecurityGroupId"]["Ref"] for rule in rules}
    assert sources == {"ProcessorSecurityGroup", "MessagesApiNodeSecurityGroup"}
    assert all("CidrIp" not in rule and rule["FromPort"] == 6379 for rule in rules)
    group = t["Resources"]["RedisGroup"]["Properties"]
    assert group["SecurityGroupIds"] == [{"Ref": "RedisSecurityGroup"}]
    assert closure(dependencies(t), "RedisGroup") == {"RedisSecurityGroup", "RedisSubnetGroup"}


def test_redis_is_encrypted_at_rest_and_says_why_not_in_transit(variant):
    """#16 item 8: a replication group, for encryption at rest; no TLS and no AUTH token,
    because push-messages 0.7 cannot use them (its checkov skips say so)."""
    options, t = variant
    if not options.processor:
        assert not resources_of(t, "AWS::ElastiCache::CacheCluster")
        return
    assert not resources_of(t, "AWS::ElastiCache::CacheCluster")
    group = t["Resources"]["RedisGroup"]
    assert group["Type"] == "AWS::ElastiCache::ReplicationGroup"
    props = group["Properties"]
    assert props["AtRestEncryptionEnabled"] is True
    assert props["TransitEncryptionEnabled"] is False and "AuthToken" not in props
    assert props["ReplicationGroupId"] == {
        "Fn::Sub": [
            "push-messages-${Id}",
            {"Id": {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}},
        ]
    }  # fmt: skip
    skips = {skip["id"]: skip["comment"] for skip in group["Metadata"]["checkov"]["skip"]}
    assert "push-messages" in skips["CKV_AWS_30"] and "push-messages" in skips["CKV_AWS_31"]


def test_settings_object_is_written_by_code_inside_the_template(variant):
    options, t = variant
    if not options.processor:
        return
    settings = t["Resources"]["ProcessorSettings"]
    assert settings["Type"] == "AWS::CloudFormation::CustomResource"
    props = settings["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": ["SettingsWriterFunction", "Arn"]}
    assert props["Key"] == "processor_settings.json"
    assert props["RedisGroupId"] == t["Resources"]["RedisGroup"]["Properties"]["ReplicationGroupId"]
    # Created once Redis is: a replication group may take longer than a function may run.
    assert settings["DependsOn"] == ["RedisGroup"]
    code = t["Resources"]["SettingsWriterFunction"]["Properties"]["Code"]
    assert set(code) == {"ZipFile"}
    compile(code["ZipFile"], "settings_writer", "exec")
    # No function's code comes from anyone else's bucket.
    for function in resources_of(t, "AWS::Lambda::Function").values():
        bucket = json.dumps(function["Properties"]["Code"].get("S3Bucket"))
        assert bucket == "null" or "pushstack-artifacts-" in bucket


def test_nothing_waits_for_redis_that_does_not_need_it(variant):
    options, t = variant
    if not options.processor:
        return
    graph = dependencies(t)
    for name in ("ProcessorFunction", "MessagesApiNodes"):
        assert "RedisGroup" not in closure(graph, name)


# --- parameters and outputs -------------------------------------------------------------


def test_parameters_carry_the_options_constraints(variant):
    options, t = variant
    for name, spec in SPECS.items():
        if not spec.parameter:
            continue
        if not options.applies(name):
            assert spec.parameter not in t["Parameters"]
            continue
        parameter = t["Parameters"][spec.parameter]
        if spec.kind == "int":
            assert (parameter["MinValue"], parameter["MaxValue"]) == (
                spec.min_value,
                spec.max_value,
            )
        if name == "engine":  # the one engine this template runs
            assert parameter["AllowedValues"] == [parameter["Default"]] == [options.engine]
            continue
        if spec.choices:
            assert parameter["AllowedValues"] == list(spec.choices)
        if parameter["Type"] == "String" and spec.pattern:
            assert parameter["AllowedPattern"] == spec.parameter_pattern
        if spec.default is not None and spec.kind != "secret":
            assert parameter["Default"] == spec.default


def test_outputs_give_what_a_user_needs_next(variant):
    options, t = variant
    expected = {
        "WebSocketURL", "EndpointURL", "RouterTableName", "MessageTableName",
        "CryptoKeySecretArn", "TablePrefix",
    }  # fmt: skip
    if options.rs:  # no tables: the store, and the repository of the images it built
        expected = {"WebSocketURL", "EndpointURL", "CryptoKeySecretArn", "StoreId"}
        if options.builds_images:
            expected.add("ImageRepositoryURI")
    if options.firehose:
        expected |= {"LogBucketName", "LogDeliveryStreamName"}
    if options.processor:
        expected |= {
            "ProcessorFunctionName",
            "RedisGroupId",
            "MessagesApiURL",
            "ProcessorFailureQueueURL",
        }
    assert set(t["Outputs"]) == expected


@pytest.mark.parametrize("name", list(VARIANTS))
def test_template_fits_cloudformation_limits(name):
    template = build_template(VARIANTS[name])
    assert len(to_json(template).encode()) <= INLINE_TEMPLATE_LIMIT
    assert len(template.resources) <= 500 and len(template.parameters) <= 200


@pytest.mark.parametrize("log_processing", ["none", "firehose", "processor"])
@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("ssh", [False, True])
@pytest.mark.parametrize("reuse", [False, True])
def test_every_shape_fits_the_inline_limit(log_processing, tls, ssh, reuse):
    """Values go to the parameters file, so the shape alone decides the size:
    every downloaded template works with create-stack --template-body."""
    big = VARIANTS["processor-tls-ssh"]
    names = ("endpoint_hostname", "websocket_hostname", "messages_api_hostname")
    options = Options(
        engine=LEGACY,
        **({name: getattr(big, name) for name in names} if tls else {}),
        hosted_zone_id=big.hosted_zone_id if tls else None,
        messages_api_cidr=big.messages_api_cidr if tls else None,
        log_processing=log_processing,
        certificate_arn=big.certificate_arn if tls else None,
        key_name="admin" if ssh else None,
        ssh_cidr="203.0.113.0/24" if ssh else None,
        reuse_tables=reuse,
        table_prefix="autopush_x",
    )
    assert len(to_json(build_template(options)).encode()) <= INLINE_TEMPLATE_LIMIT


def test_default_options_build_a_complete_template():
    """The CLI's plain `push` needs nothing else."""
    t = build_template(Options()).to_dict()
    assert "CryptoKey" in t["Parameters"] and "ConnectionNodes" in t["Resources"]


def test_a_new_crypto_key_replaces_every_push_node(variant):
    """The key's fingerprint is in the nodes' UserData: changing the key rolls the groups."""
    options, t = variant
    assert t["Parameters"]["CryptoKeyRevision"]["AllowedPattern"] == "^[0-9a-f]{12}$"
    for name in ("ConnectionLaunchTemplate", "EndpointLaunchTemplate"):
        assert "KEY_REVISION=${CryptoKeyRevision}" in user_data_header(t["Resources"][name])
    rotated = Options(**{**options.__dict__, "crypto_key": f"{OLD_CRYPTO_KEY},{CRYPTO_KEY}"})
    assert rotated.crypto_key_revision != options.crypto_key_revision
    assert re.fullmatch("[0-9a-f]{12}", options.crypto_key_revision)
    for key in options.crypto_keys:
        assert key not in options.crypto_key_revision


def test_load_balancer_and_boot_script_agree_on_healthy(variant):
    _, t = variant
    for name, group in resources_of(t, "AWS::ElasticLoadBalancingV2::TargetGroup").items():
        prefix = name.removesuffix("TargetGroup")
        highest = group["Properties"]["Matcher"]["HttpCode"].split("-")[-1]
        header = user_data_header(t["Resources"][f"{prefix}LaunchTemplate"])
        assert f"HEALTHY_MAX={highest}\n" in header
        path = group["Properties"]["HealthCheckPath"]
        if prefix == "MessagesApi":
            # Its load balancer asks without Redis; a booting node waits until Redis answers.
            assert (path, highest) == ("/__lbheartbeat__", "200")
            assert "HEALTH=/__heartbeat__\n" in header
        else:
            assert f"HEALTH={path}\n" in header
    assert '-le "$HEALTHY_MAX"' in BOOT_SCRIPT and "curl -sf -o /dev/null" not in BOOT_SCRIPT


def test_a_failed_key_read_stops_the_boot_instead_of_starting_keyless():
    """The key is read in its own assignment, so errexit and the ERR trap see a failure."""
    assert 'KEY=$(secret "$SECRET_ID") || fail' in BOOT_SCRIPT
    assert 'AUTH_KEY=$(secret "$AUTH_SECRET_ID") || fail' in BOOT_SCRIPT
    assert "=$(aws secretsmanager" not in BOOT_SCRIPT.replace("secret() { retry aws", "")


def test_boot_script_neither_hangs_on_a_silent_service_nor_gives_up_on_one_slow_read():
    assert "curl -s --max-time 5" in BOOT_SCRIPT
    assert "secret() { retry aws secretsmanager" in BOOT_SCRIPT
    assert 'fail() { echo "boot: $*" >&2; signal 1; exit 1; }' in BOOT_SCRIPT


# --- what autopush, push-messages and the processor need (issue 7) -----------------------


def test_endpoint_nodes_log_deliveries_at_debug_level_for_the_processor(variant):
    """autopush logs "Successful delivery" at debug level and sends Firehose only its level."""
    options, t = variant
    endpoint = user_data_header(t["Resources"]["EndpointLaunchTemplate"])
    connection = user_data_header(t["Resources"]["ConnectionLaunchTemplate"])
    assert ("echo LOG_LEVEL=debug" in endpoint) == options.processor
    assert "LOG_LEVEL" not in connection


def test_nodes_get_a_public_ip_whatever_the_subnet_default(variant):
    """Push nodes sit in public subnets; the Messages API nodes in a private one, where a
    public address costs money and leads nowhere (their way out is a NAT gateway)."""
    _, t = variant
    for name, lt in resources_of(t, "AWS::EC2::LaunchTemplate").items():
        data = lt["Properties"]["LaunchTemplateData"]
        [interface] = data["NetworkInterfaces"]
        assert interface["AssociatePublicIpAddress"] is (name != "MessagesApiLaunchTemplate")
        assert interface["DeviceIndex"] == 0
        assert "SecurityGroupIds" not in data  # they are the interface's groups
        assert interface["Groups"]


def test_messages_api_reads_redis_host_and_port_found_at_boot(variant):
    options, t = variant
    if not options.processor:
        return
    header = user_data_header(t["Resources"]["MessagesApiLaunchTemplate"])
    assert "echo REDIS_HOST=$REDIS_HOST" in header and "echo REDIS_PORT=$REDIS_PORT" in header
    assert "REDIS_ELASTICACHE" not in json.dumps(t)  # its botocore cannot use IMDSv2
    assert "REDIS_GROUP_ID=${RedisGroupId}" in header
    assert "aws elasticache describe-replication-groups" in BOOT_SCRIPT
    role = json.dumps(t["Resources"]["MessagesApiRole"]["Properties"]["Policies"])
    assert "elasticache:DescribeReplicationGroups" in role and "dynamodb" not in role
    assert ":replicationgroup:push-messages-${Id}" in role
    assert t["Parameters"]["MessagesApiImage"]["Default"] == "mozilla/push-messages:0.7"


def test_messages_api_is_internal_unless_a_network_is_named(variant):
    """push-messages has no authentication (its own README calls it internal)."""
    options, t = variant
    if not options.processor:
        return
    balancer = t["Resources"]["MessagesApiLoadBalancer"]["Properties"]
    rules = ingress_rules(t, "MessagesApiLoadBalancerSecurityGroup")
    if options.messages_api_public:
        assert balancer["Scheme"] == "internet-facing"
        assert {json.dumps(rule["CidrIp"]) for rule in rules} == {'{"Ref": "MessagesApiCidr"}'}
    else:
        assert balancer["Scheme"] == "internal"
        assert "MessagesApiCidr" not in t["Parameters"]
        assert "internal" in t["Outputs"]["MessagesApiURL"]["Description"]


def test_host_names_are_used_and_recorded_in_the_hosted_zone(variant):
    options, t = variant
    records = resources_of(t, "AWS::Route53::RecordSet")
    scheme = "https" if options.tls else "http"
    if not options.endpoint_hostname:
        assert not records and "EndpointHostname" not in t["Parameters"]
        assert t["Outputs"]["EndpointURL"]["Value"] == {
            "Fn::Sub": f"{scheme}://${{EndpointLoadBalancer.DNSName}}"
        }
        return
    assert t["Outputs"]["EndpointURL"]["Value"] == {"Fn::Sub": f"{scheme}://${{EndpointHostname}}"}
    if options.processor:
        assert t["Outputs"]["MessagesApiURL"]["Value"] == {
            "Fn::Sub": f"{scheme}://${{MessagesApiHostname}}"
        }
    assert t["Parameters"]["HostedZoneId"]["Type"] == "AWS::Route53::HostedZone::Id"
    targets = {
        record["Properties"]["Name"]["Ref"]: record["Properties"]["AliasTarget"]["DNSName"]
        for record in records.values()
    }
    expected = {
        "EndpointHostname": {"Fn::GetAtt": ["EndpointLoadBalancer", "DNSName"]},
        "WebsocketHostname": {"Fn::GetAtt": ["ConnectionLoadBalancer", "DNSName"]},
    }
    if options.processor:
        expected["MessagesApiHostname"] = {"Fn::GetAtt": ["MessagesApiLoadBalancer", "DNSName"]}
    assert targets == expected
    for record in records.values():
        assert record["Properties"]["HostedZoneId"] == {"Ref": "HostedZoneId"}
        assert record["Properties"]["Type"] == "A"


def test_no_push_messages_table_and_redis_keeps_daily_snapshots(variant):
    """Nothing reads a Push Messages table; Redis holds the registered keys."""
    options, t = variant
    assert "push_messages" not in json.dumps(t) and "PushMessages" not in json.dumps(t)
    if options.processor:
        assert t["Resources"]["RedisGroup"]["Properties"]["SnapshotRetentionLimit"] >= 3


def test_console_descriptions_promise_nothing_the_console_does_not_do(variant):
    """The console neither generates a key nor a prefix: no "Generated when left empty"."""
    _, t = variant
    for name in ("CryptoKey", "TablePrefix"):
        if name in t["Parameters"]:
            assert "Generated" not in t["Parameters"][name]["Description"]
    assert "Fernet" in t["Parameters"]["CryptoKey"]["Description"]


class _Cache:
    """ElastiCache answering what the settings writer asks: the group, or an error."""

    def __init__(self, answer):
        self.answer = answer
        self.asked = []

    def describe_replication_groups(self, ReplicationGroupId):
        self.asked.append(ReplicationGroupId)
        if isinstance(self.answer, Exception):
            raise self.answer
        return {"ReplicationGroups": [self.answer]}


def run_settings_writer(answer, request="Create"):
    """The writer's code from the template, with ElastiCache, S3 and CloudFormation faked."""
    import sys
    import types

    code = build_template(VARIANTS["processor"]).to_dict()["Resources"]["SettingsWriterFunction"]
    written, sent = [], []
    cache = _Cache(answer)
    s3 = types.SimpleNamespace(put_object=lambda **kw: written.append(kw))
    fake_boto3 = types.SimpleNamespace(client=lambda name: {"elasticache": cache, "s3": s3}[name])
    fake_response = types.SimpleNamespace(
        SUCCESS="SUCCESS",
        FAILED="FAILED",
        send=lambda event, context, status, data, physical: sent.append(status),
    )
    saved = {name: sys.modules.get(name) for name in ("boto3", "cfnresponse")}
    sys.modules.update(boto3=fake_boto3, cfnresponse=fake_response)
    try:
        namespace = {}
        exec(code["Properties"]["Code"]["ZipFile"], namespace)
        event = {
            "RequestType": request,
            "ResourceProperties": {
                "Bucket": "b",
                "Key": "processor_settings.json",
                "RedisGroupId": "push-messages-1a2b3c4d",
            },
        }
        namespace["handler"](event, None)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return written, sent, cache.asked


def test_settings_writer_writes_the_address_of_redis_primary():
    available = {
        "Status": "available",
        "NodeGroups": [
            {
                "PrimaryEndpoint": {"Address": "master.push-messages.abc.cache.amazonaws.com", "Port": 6379},
                "NodeGroupMembers": [],
            }
        ],
    }  # fmt: skip
    written, sent, asked = run_settings_writer(available)
    assert sent == ["SUCCESS"] and asked == ["push-messages-1a2b3c4d"]
    [put] = written
    assert put["Key"] == "processor_settings.json"
    assert json.loads(put["Body"]) == {
        "redis_host": "master.push-messages.abc.cache.amazonaws.com",
        "redis_port": 6379,
    }


@pytest.mark.parametrize(
    "answer",
    [RuntimeError("ReplicationGroupNotFoundFault"), {"Status": "creating", "NodeGroups": []}],
)
def test_settings_writer_reports_failure_when_redis_has_no_address(answer):
    written, sent, _ = run_settings_writer(answer)
    assert sent == ["FAILED"] and written == []


def test_settings_writer_leaves_the_object_on_delete():
    written, sent, asked = run_settings_writer(RuntimeError("gone"), request="Delete")
    assert sent == ["SUCCESS"] and written == [] and asked == []
