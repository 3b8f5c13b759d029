import re

import pytest

from pushstack.options import LEGACY, LOG_PROCESSING_CHOICES, Options
from pushstack.summary import AWS_MANAGED_POLICIES, Summary, summarize, text

SSH = re.compile(r"\bport 22\b")
SUB_PARTITION = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}
STACK_UUID = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}


def group(name, ingress=None, egress=None, **extra):
    properties = {"GroupDescription": name, "VpcId": {"Ref": "VpcId"}}
    if ingress is not None:
        properties["SecurityGroupIngress"] = ingress
    if egress is not None:
        properties["SecurityGroupEgress"] = egress
    return {name: {"Type": "AWS::EC2::SecurityGroup", "Properties": properties, **extra}}


def template(*resource_dicts, parameters=("SshCidr", "VpcId")):
    resources = {}
    for resource in resource_dicts:
        resources.update(resource)
    return {"Parameters": {p: {"Type": "String"} for p in parameters}, "Resources": resources}


def tcp(port, **peer):
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peer}


@pytest.mark.parametrize(
    ("rule", "sentence"),
    [
        (
            tcp(8081, SourceSecurityGroupId={"Ref": "InternalRouterSecurityGroup"}),
            "G: TCP port 8081 open to InternalRouterSecurityGroup",
        ),
        (
            tcp(
                8081,
                SourceSecurityGroupId={"Fn::GetAtt": ["InternalRouterSecurityGroup", "GroupId"]},
            ),
            "G: TCP port 8081 open to InternalRouterSecurityGroup",
        ),
        (
            tcp(8081, SourceSecurityGroupId={"Fn::GetAtt": "InternalRouterSecurityGroup.GroupId"}),
            "G: TCP port 8081 open to InternalRouterSecurityGroup",
        ),
        (tcp(443, CidrIp="0.0.0.0/0"), "G: TCP port 443 open to anyone (0.0.0.0/0)"),
        (tcp("443", CidrIpv6="::/0"), "G: TCP port 443 open to anyone (::/0)"),
        (tcp(22, CidrIp={"Ref": "SshCidr"}), "G: TCP port 22 open to the network given as SshCidr"),
        (tcp(22, CidrIp="203.0.113.0/24"), "G: TCP port 22 open to the network 203.0.113.0/24"),
        (
            {"IpProtocol": "tcp", "FromPort": 1024, "ToPort": 65535, "CidrIp": "10.0.0.0/8"},
            "G: TCP ports 1024-65535 open to the network 10.0.0.0/8",
        ),
        (
            {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "CidrIp": "10.0.0.0/8"},
            "G: UDP (all ports) open to the network 10.0.0.0/8",
        ),
        (
            {"IpProtocol": "-1", "SourceSecurityGroupId": {"Ref": "Other"}},
            "G: all traffic open to Other",
        ),
        (
            {"IpProtocol": -1, "CidrIp": "0.0.0.0/0"},
            "G: all traffic open to anyone (0.0.0.0/0)",
        ),
        (
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "CidrIp": "10.0.0.0/8"},
            "G: ICMP (all types) open to the network 10.0.0.0/8",
        ),
        (
            tcp(6379, SourcePrefixListId="pl-12345678"),
            "G: TCP port 6379 open to the prefix list pl-12345678",
        ),
    ],
)
def test_inline_ingress_rule_in_words(rule, sentence):
    assert summarize(template(group("G", [rule]))).ingress == [sentence]


@pytest.mark.parametrize(
    ("resource", "sentence"),
    [
        (
            {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {
                    "GroupId": {"Ref": "RedisSecurityGroup"},
                    **tcp(6379, SourceSecurityGroupId={"Ref": "ProcessorSecurityGroup"}),
                },
            },
            "RedisSecurityGroup: TCP port 6379 open to ProcessorSecurityGroup",
        ),
        (
            {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Condition": "HasSsh",
                "Properties": {
                    "GroupId": {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]},
                    **tcp(22, CidrIp={"Ref": "SshCidr"}),
                },
            },
            "NodeSecurityGroup: TCP port 22 open to the network given as SshCidr"
            " (only when HasSsh)",
        ),
        (
            {
                "Type": "AWS::EC2::SecurityGroupEgress",
                "Properties": {
                    "GroupId": {"Ref": "ProcessorSecurityGroup"},
                    **tcp(6379, DestinationSecurityGroupId={"Ref": "RedisSecurityGroup"}),
                },
            },
            "ProcessorSecurityGroup: may reach RedisSecurityGroup on TCP port 6379",
        ),
    ],
)
def test_standalone_rule_in_words(resource, sentence):
    assert summarize(template({"Rule": resource})).ingress == [sentence]


def test_egress_rules_follow_ingress_rules():
    summary = summarize(
        template(
            group(
                "Lambda",
                ingress=[tcp(80, CidrIp="10.0.0.0/8")],
                egress=[{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}],
            ),
            group("Web", ingress=[tcp(443, CidrIp="0.0.0.0/0")]),
        )
    )
    assert summary.ingress == [
        "Lambda: TCP port 80 open to the network 10.0.0.0/8",
        "Web: TCP port 443 open to anyone (0.0.0.0/0)",
        "Lambda: may reach anyone (0.0.0.0/0) on any protocol and port",
    ]


def test_conditional_inline_rule_says_when_it_applies():
    rules = [
        tcp(8080, CidrIp="0.0.0.0/0"),
        {"Fn::If": ["HasSsh", tcp(22, CidrIp={"Ref": "SshCidr"}), {"Ref": "AWS::NoValue"}]},
    ]
    assert summarize(template(group("Nodes", rules))).ingress == [
        "Nodes: TCP port 8080 open to anyone (0.0.0.0/0)",
        "Nodes: TCP port 22 open to the network given as SshCidr (only when HasSsh)",
    ]


def test_resource_counts_sorted_by_type():
    summary = summarize(
        template(
            group("B"),
            group("A"),
            {"T": {"Type": "AWS::DynamoDB::Table"}},
            {"R": {"Type": "AWS::IAM::Role"}},
        )
    )
    assert summary.resource_counts == [
        ("AWS::DynamoDB::Table", 1),
        ("AWS::EC2::SecurityGroup", 2),
        ("AWS::IAM::Role", 1),
    ]


def role(name, statements=(), managed=(), service="ec2.amazonaws.com"):
    properties = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": [service]},
                    "Action": ["sts:AssumeRole"],
                }
            ],
        },
    }
    if statements:
        properties["Policies"] = [
            {"PolicyName": "inline", "PolicyDocument": {"Statement": list(statements)}}
        ]
    if managed:
        properties["ManagedPolicyArns"] = list(managed)
    return {name: {"Type": "AWS::IAM::Role", "Properties": properties}}


def allow(actions, resources):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


@pytest.mark.parametrize(
    ("statement", "sentence"),
    [
        (
            allow(
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                [{"Fn::GetAtt": ["RouterTable", "Arn"]}],
            ),
            "dynamodb: GetItem, PutItem, Query on RouterTable",
        ),
        (
            allow("dynamodb:GetItem", {"Fn::GetAtt": "RouterTable.Arn"}),
            "dynamodb: GetItem on RouterTable",
        ),
        (
            allow(["secretsmanager:GetSecretValue"], [{"Ref": "CryptoKeySecret"}]),
            "secretsmanager: GetSecretValue on CryptoKeySecret",
        ),
        (
            allow(["s3:GetObject"], [{"Fn::Sub": "${LogBucket.Arn}/*"}]),
            "s3: GetObject on LogBucket/*",
        ),
        (
            allow(
                ["s3:GetObject"],
                [{"Fn::Sub": ["${Bucket}/*", {"Bucket": {"Fn::GetAtt": ["LogBucket", "Arn"]}}]}],
            ),
            "s3: GetObject on LogBucket/*",
        ),
        (
            allow(
                ["s3:GetObject"],
                [{"Fn::Join": ["", ["arn:aws:s3:::", {"Ref": "LogBucket"}, "/*"]]}],
            ),
            "s3: GetObject on objects ${LogBucket}/*",
        ),
        (
            allow(
                ["s3:GetObject"],
                [
                    {
                        "Fn::Sub": [
                            "arn:${AWS::Partition}:s3:::push-logs-${Uuid}/*",
                            {"Uuid": STACK_UUID},
                        ]
                    }
                ],
            ),
            "s3: GetObject on objects push-logs-<stack id>/*",
        ),
        (
            allow(
                ["s3:ListBucket"],
                [
                    {
                        "Fn::Sub": [
                            "arn:${AWS::Partition}:s3:::push-logs-${Uuid}",
                            {"Uuid": STACK_UUID},
                        ]
                    }
                ],
            ),
            "s3: ListBucket on bucket push-logs-<stack id>",
        ),
        (
            allow(
                ["firehose:PutRecord"],
                {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:firehose:${AWS::Region}:${AWS::AccountId}:"
                        "deliverystream/push-logs-${Uuid}",
                        {"Uuid": STACK_UUID},
                    ]
                },
            ),
            "firehose: PutRecord on deliverystream push-logs-<stack id>",
        ),
        (
            allow(
                ["elasticache:DescribeCacheClusters"],
                {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:"
                        "cluster:push-redis-${Id}",
                        {"Id": {"Fn::Select": [0, {"Fn::Split": ["-", STACK_UUID]}]}},
                    ]
                },
            ),
            "elasticache: DescribeCacheClusters on cluster push-redis-<stack id>",
        ),
        (
            allow(
                ["dynamodb:Query"],
                {
                    "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:"
                    "table/${TablePrefix}_router"
                },
            ),
            "dynamodb: Query on table ${TablePrefix}_router",
        ),
        (
            allow(["sqs:SendMessage"], "arn:aws:sqs:eu-west-1:123456789012:jobs"),
            "sqs: SendMessage on sqs jobs (account 123456789012, region eu-west-1)",
        ),
        (
            allow(["logs:PutLogEvents"], "arn:aws:logs:*:*:*"),
            "logs: PutLogEvents on every logs resource (any account, any region)",
        ),
        (
            allow(
                ["dynamodb:GetItem"],
                {
                    "Fn::If": [
                        "Reuse",
                        {
                            "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:"
                            "${AWS::AccountId}:table/${TablePrefix}_router"
                        },
                        {"Fn::GetAtt": ["RouterTable", "Arn"]},
                    ]
                },
            ),
            "dynamodb: GetItem on one of table ${TablePrefix}_router or RouterTable",
        ),
        (
            allow(["ec2:DescribeNetworkInterfaces"], "*"),
            "ec2: DescribeNetworkInterfaces on any resource",
        ),
        (allow("s3:*", "*"), "s3: all actions on any resource"),
        (
            allow(
                ["firehose:PutRecord", "logs:PutLogEvents"],
                [{"Fn::If": ["HasFirehose", {"Fn::GetAtt": ["LogStream", "Arn"]}, "*"]}],
            ),
            "firehose: PutRecord on one of LogStream or any resource",
        ),
        (
            {
                **allow(["s3:GetObject"], "*"),
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            },
            "s3: GetObject on any resource (with conditions)",
        ),
        (
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
            "denied: s3: DeleteObject on any resource",
        ),
    ],
)
def test_statement_in_words(statement, sentence):
    permissions = summarize(template(role("NodeRole", [statement]))).permissions
    assert permissions["NodeRole"][0] == "assumed by ec2.amazonaws.com"
    assert permissions["NodeRole"][1] == sentence


def test_statement_with_two_services_gives_one_sentence_each():
    statement = allow(["firehose:PutRecord", "logs:PutLogEvents", "firehose:PutRecordBatch"], "*")
    assert summarize(template(role("R", [statement]))).permissions["R"][1:] == [
        "firehose: PutRecord, PutRecordBatch on any resource",
        "logs: PutLogEvents on any resource",
    ]


@pytest.mark.parametrize(
    ("arn", "sentence"),
    [
        (
            {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/ReadOnlyAccess"],
                ]
            },
            "AWS managed policy ReadOnlyAccess: grants what AWS's policy ReadOnlyAccess "
            "grants, not expanded",
        ),
        (
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCoreV9",
            "AWS managed policy AmazonSSMManagedInstanceCoreV9: grants what AWS's policy "
            "AmazonSSMManagedInstanceCoreV9 grants, not expanded",
        ),
        (
            "arn:aws:iam::123456789012:policy/Mine",
            "managed policy Mine (account 123456789012): grants what that policy grants, "
            "not expanded",
        ),
        (
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/Mine"},
            "managed policy Mine: grants what that policy grants, not expanded",
        ),
    ],
)
def test_managed_policy_arn_in_words(arn, sentence):
    assert summarize(template(role("R", managed=[arn]))).permissions["R"] == [
        "assumed by ec2.amazonaws.com",
        sentence,
    ]


def test_aws_managed_policies_are_expanded_so_no_wildcard_hides_behind_a_name():
    """#16 item 1: what AmazonSSMManagedInstanceCore grants (every SSM parameter among it)
    is shown, not its name alone."""
    sentences = summarize(template(role("R", managed=[SUB_PARTITION]))).permissions["R"]
    assert sentences == [
        "assumed by ec2.amazonaws.com",
        "ssm: DescribeAssociation, GetDeployablePatchSnapshotForInstance, GetDocument, "
        "DescribeDocument, GetManifest, GetParameter, GetParameters, ListAssociations, "
        "ListInstanceAssociations, PutInventory, PutComplianceItems, "
        "PutConfigurePackageResult, UpdateAssociationStatus, UpdateInstanceAssociationStatus, "
        "UpdateInstanceInformation on any resource (AWS managed policy "
        "AmazonSSMManagedInstanceCore)",
        "ssmmessages: CreateControlChannel, CreateDataChannel, OpenControlChannel, "
        "OpenDataChannel on any resource (AWS managed policy AmazonSSMManagedInstanceCore)",
        "ec2messages: AcknowledgeMessage, DeleteMessage, FailMessage, GetEndpoint, "
        "GetMessages, SendReply on any resource (AWS managed policy "
        "AmazonSSMManagedInstanceCore)",
    ]


@pytest.mark.parametrize("path", ["service-role/", ""])
def test_lambda_execution_policies_are_expanded_by_their_path(path):
    """The Lambda execution roles live under service-role/: the same name at another
    path is another policy, not expanded."""
    arn = f"arn:aws:iam::aws:policy/{path}AWSLambdaBasicExecutionRole"
    sentences = summarize(template(role("R", managed=[arn]))).permissions["R"][1:]
    if path:
        assert sentences == [
            "logs: CreateLogGroup, CreateLogStream, PutLogEvents on any resource "
            "(AWS managed policy AWSLambdaBasicExecutionRole)"
        ]
    else:
        assert sentences == [
            "AWS managed policy AWSLambdaBasicExecutionRole: grants what AWS's policy "
            "AWSLambdaBasicExecutionRole grants, not expanded"
        ]


def test_every_managed_policy_a_template_attaches_is_expanded():
    """Each AWS managed policy of every variant is in the summary's table."""
    template_module = pytest.importorskip("pushstack.template")
    variants = pytest.importorskip("variants")
    for options in variants.VARIANTS.values():
        built = template_module.build_template(options).to_dict()
        for resource in built["Resources"].values():
            for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
                path = text(arn).split(":policy/", 1)[1]
                assert path in AWS_MANAGED_POLICIES, path
        sentences = [s for role in summarize(built).permissions.values() for s in role]
        assert not [s for s in sentences if "not expanded" in s]


def test_policies_attached_to_a_role_count_as_its_permissions():
    policy = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "tables",
            "Roles": [{"Ref": "NodeRole"}],
            "PolicyDocument": {
                "Statement": [allow("dynamodb:Query", {"Fn::GetAtt": ["MessageTable", "Arn"]})]
            },
        },
    }
    managed = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Roles": [{"Ref": "NodeRole"}],
            "PolicyDocument": {
                "Statement": allow("firehose:PutRecord", {"Fn::GetAtt": ["LogStream", "Arn"]})
            },
        },
    }
    summary = summarize(
        template(
            role("NodeRole", [allow("dynamodb:GetItem", {"Fn::GetAtt": ["RouterTable", "Arn"]})]),
            role("OtherRole", service="lambda.amazonaws.com"),
            {"TablesPolicy": policy, "StreamPolicy": managed},
        )
    )
    assert summary.permissions == {
        "NodeRole": [
            "assumed by ec2.amazonaws.com",
            "dynamodb: GetItem on RouterTable",
            "dynamodb: Query on MessageTable",
            "firehose: PutRecord on LogStream",
        ],
        "OtherRole": ["assumed by lambda.amazonaws.com"],
    }


def test_managed_policy_of_the_template_referenced_by_arn():
    managed = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": {"Statement": [allow("s3:GetObject", "*")]}},
    }
    summary = summarize(
        template(role("R", managed=[{"Ref": "ReadPolicy"}]), {"ReadPolicy": managed})
    )
    assert summary.permissions["R"] == [
        "assumed by ec2.amazonaws.com",
        "s3: GetObject on any resource",
    ]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"Ref": "RouterTable"}, "RouterTable"),
        ({"Fn::GetAtt": ["RouterTable", "StreamArn"]}, "RouterTable"),
        ({"Fn::Sub": "${TablePrefix}_router"}, "${TablePrefix}_router"),
        ({"Fn::Sub": ["${P}_router", {"P": {"Ref": "TablePrefix"}}]}, "${TablePrefix}_router"),
        ({"Fn::Sub": ["${!Literal}-${P}", {"P": "x"}]}, "${!Literal}-x"),
        ({"Fn::Join": ["-", ["a", {"Ref": "B"}]]}, "a-${B}"),
        ({"Fn::If": ["C", "yes", "no"]}, "one of yes or no"),
        ({"Fn::If": ["C", {"Ref": "X"}, {"Ref": "AWS::NoValue"}]}, "X (when C)"),
        ({"Fn::Select": [0, {"Fn::GetAZs": ""}]}, '{"Fn::Select":[0,{"Fn::GetAZs":""}]}'),
        ({"Fn::Sub": 42}, '{"Fn::Sub":42}'),
        ({"Fn::Join": "oops"}, '{"Fn::Join":"oops"}'),
        ({"Fn::If": ["only-two", 1]}, '{"Fn::If":["only-two",1]}'),
        (7, "7"),
        (None, "null"),
    ],
)
def test_intrinsic_functions_in_words(value, words):
    assert text(value) == words


@pytest.mark.parametrize(
    "odd_template",
    [
        {},
        {"Resources": None},
        {"Resources": []},
        {"Resources": {"X": "not a resource"}},
        {"Resources": {"X": {"Type": "AWS::EC2::SecurityGroup", "Properties": "?"}}},
        template(group("G", ingress="not a list")),
        template(group("G", ingress=["not a rule", 7, None])),
        template(group("G", ingress={"Fn::If": ["C", [tcp(1, CidrIp="1.2.3.4/32")], []]})),
        template(
            {
                "R": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {"Policies": "?", "ManagedPolicyArns": 3},
                }
            }
        ),
        template(
            {"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": [1]}}}
        ),
        template(
            role("R", [{"Effect": "Allow", "Action": {"Ref": "X"}, "Resource": {"Fn::If": "?"}}]),
            {"P": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": "R", "PolicyDocument": 5}}},
        ),
    ],
)
def test_unknown_shapes_never_raise(odd_template):
    assert isinstance(summarize(odd_template), Summary)


def test_names_made_unique_by_the_stack_id_stay_readable():
    shorter = {"Fn::Select": [0, {"Fn::Split": ["-", STACK_UUID]}]}
    assert text({"Fn::Join": ["", ["push-logs-", STACK_UUID]]}) == "push-logs-<stack id>"
    assert text({"Fn::Join": ["", ["push-redis-", shorter]]}) == "push-redis-<stack id>"
    assert text({"Fn::Sub": ["push-logs-${Uuid}", {"Uuid": STACK_UUID}]}) == "push-logs-<stack id>"
    other = {"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "Subnets"}]}]}
    assert text(other) == "(part of ${Subnets})"


def test_a_bucket_of_the_template_reads_as_bucket_and_objects():
    bucket = {"LogBucket": {"Type": "AWS::S3::Bucket"}}
    statements = [
        allow("s3:ListBucket", {"Fn::GetAtt": ["LogBucket", "Arn"]}),
        allow("s3:PutObject", [{"Fn::Sub": "${LogBucket.Arn}/logs/*"}]),
    ]
    assert summarize(template(role("R", statements), bucket)).permissions["R"][1:] == [
        "s3: ListBucket on bucket LogBucket",
        "s3: PutObject on objects LogBucket/logs/*",
    ]


@pytest.fixture(scope="module", params=LOG_PROCESSING_CHOICES)
def real(request):
    template = pytest.importorskip("pushstack.template")
    options = Options(engine=LEGACY, log_processing=request.param)
    return options, summarize(template.build_template(options).to_dict())


def test_real_internal_router_port_is_open_only_to_the_internal_router_group(real):
    _options, summary = real
    assert [s for s in summary.ingress if "port 8081" in s] == [
        "ConnectionNodeSecurityGroup: TCP port 8081 open to InternalRouterSecurityGroup"
    ]


def test_real_only_load_balancers_are_open_to_anyone_and_ssh_is_closed(real):
    _options, summary = real
    open_to_anyone = [s for s in summary.ingress if "open to anyone" in s]
    assert open_to_anyone
    assert all(s.split(":")[0].endswith("LoadBalancerSecurityGroup") for s in open_to_anyone)
    assert not [s for s in summary.ingress if SSH.search(s)]


def test_real_node_role_names_its_tables_secret_and_stream(real):
    options, summary = real
    node_role = summary.permissions["PushNodeRole"]
    assert node_role[0] == "assumed by ec2.amazonaws.com"
    (tables,) = [s for s in node_role if s.startswith("dynamodb: ") and "ListTables" not in s]
    assert tables.endswith(" on table ${TablePrefix}_router, table ${TablePrefix}_message")
    assert "dynamodb: ListTables on any resource" in node_role
    assert "secretsmanager: GetSecretValue on CryptoKeySecret" in node_role
    # The one managed policy, expanded: pulls of the account's images (their copies).
    assert [s for s in node_role if "managed policy" in s] == [
        "ecr: GetAuthorizationToken, BatchGetImage, GetDownloadUrlForLayer, "
        "BatchImportUpstreamImage on any resource (AWS managed policy "
        "AmazonEC2ContainerRegistryPullOnly)"
    ]
    assert (
        "ssmmessages: CreateControlChannel, CreateDataChannel, OpenControlChannel, "
        "OpenDataChannel on any resource" in node_role
    )
    assert "ssm: UpdateInstanceInformation on instance *" in node_role
    assert not [s for s in node_role if s.startswith("ssm: Get") and "any resource" in s]
    assert any(s.startswith("firehose: PutRecord") for s in node_role) == options.firehose


def test_real_permissions_name_resources_without_arn_boilerplate(real):
    _options, summary = real
    sentences = [s for role in summary.permissions.values() for s in role]
    assert not [s for s in sentences if "arn:" in s or "${AWS::" in s or "part of" in s]


def test_real_processor_permissions_in_plain_words():
    template = pytest.importorskip("pushstack.template")
    options = Options(engine=LEGACY, log_processing="processor")
    processor = summarize(template.build_template(options).to_dict()).permissions["ProcessorRole"]
    assert processor == [
        "assumed by lambda.amazonaws.com",
        "s3: GetObject on objects push-logs-<stack id>/*",
        "s3: ListBucket on bucket push-logs-<stack id>",
        "sqs: SendMessage on ProcessorFailureQueue",
        "logs: CreateLogGroup, CreateLogStream, PutLogEvents on any resource "
        "(AWS managed policy AWSLambdaVPCAccessExecutionRole)",
        "ec2: CreateNetworkInterface, DescribeNetworkInterfaces, DescribeSubnets, "
        "DeleteNetworkInterface, AssignPrivateIpAddresses, UnassignPrivateIpAddresses on "
        "any resource (AWS managed policy AWSLambdaVPCAccessExecutionRole)",
    ]


def test_real_tables_and_redis_of_the_processor(real):
    options, summary = real
    counts = dict(summary.resource_counts)
    assert counts["AWS::DynamoDB::Table"] == 2
    redis_rules = [s for s in summary.ingress if s.startswith("RedisSecurityGroup:")]
    assert redis_rules == (
        [
            "RedisSecurityGroup: TCP port 6379 open to ProcessorSecurityGroup",
            "RedisSecurityGroup: TCP port 6379 open to MessagesApiNodeSecurityGroup",
        ]
        if options.processor
        else []
    )


def test_real_ssh_is_open_only_to_the_given_network():
    template = pytest.importorskip("pushstack.template")
    options = Options(key_name="admin", ssh_cidr="203.0.113.0/24")
    summary = summarize(template.build_template(options).to_dict())
    ssh = [s for s in summary.ingress if SSH.search(s)]
    assert ssh
    assert all(s.endswith("TCP port 22 open to the network given as SshCidr") for s in ssh)


def test_real_internal_messages_api_is_not_called_open_to_the_internet():
    template = pytest.importorskip("pushstack.template")
    summary = summarize(
        template.build_template(Options(engine=LEGACY, log_processing="processor")).to_dict()
    )
    [rule] = [s for s in summary.ingress if s.startswith("MessagesApiLoadBalancerSecurityGroup")]
    assert rule.endswith("through the internal load balancer MessagesApiLoadBalancer")


def test_real_names_made_from_the_stack_name_read_plainly():
    template = pytest.importorskip("pushstack.template")
    summary = summarize(template.build_template(Options()).to_dict())
    assert (
        "ssm: GetParameter on parameter pushstack/<stack name>/endpoint-hostname"
        in summary.permissions["PushNodeRole"]
    )


def test_the_readme_names_every_managed_policy_the_roles_attach():
    """The README's security text says which AWS managed policies the stack's roles hold:
    every one a variant attaches, and no claim that the node roles hold none."""
    from pathlib import Path

    template_module = pytest.importorskip("pushstack.template")
    variants = pytest.importorskip("variants")
    readme = " ".join(Path(__file__).parent.parent.joinpath("README.md").read_text().split())
    attached = set()
    for options in variants.VARIANTS.values():
        built = template_module.build_template(options).to_dict()
        for resource in built["Resources"].values():
            for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
                attached.add(text(arn).split(":policy/", 1)[1].rsplit("/", 1)[-1])
    assert "AmazonEC2ContainerRegistryPullOnly" in attached
    assert "hold no AWS managed policy" not in readme
    summary = readme[readme.index("*The preview's IAM summary*") :][:600]
    node_roles = readme[readme.index("*Node roles.*") :][:600]
    for policy in attached:
        assert f"`{policy}`" in summary, policy
    assert "`AmazonEC2ContainerRegistryPullOnly`" in node_roles
