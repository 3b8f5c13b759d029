"""The Push stack as a CloudFormation template: a pure function of the options.

Each piece is a small function named after what it creates; ``build_template``
assembles them. The options decide the template's shape (log processing, TLS,
SSH, new or reused tables); the values an operator picks are Parameters that
carry the options' constraints, so one template serves any account.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import dynamodb as ddb
from awacs import elasticache as ec_actions
from awacs import firehose as fh_actions
from awacs import logs as logs_actions
from awacs import s3 as s3_actions
from awacs import secretsmanager as sm_actions
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from awacs.sts import AssumeRole
from troposphere import (
    AccountId,
    Base64,
    FindInMap,
    GetAtt,
    Join,
    Output,
    Parameter,
    Ref,
    Select,
    Split,
    StackId,
    Sub,
    Tags,
    Template,
    awslambda,
    ec2,
    elasticache,
    firehose,
    iam,
    logs,
    s3,
    secretsmanager,
)
from troposphere import autoscaling as asg
from troposphere import dynamodb as ddb_res
from troposphere import elasticloadbalancingv2 as elb
from troposphere.cloudformation import CustomResource
from troposphere.policies import (
    AutoScalingRollingUpdate,
    CreationPolicy,
    ResourceSignal,
    UpdatePolicy,
)

from pushstack.options import CRYPTO_KEY_REVISION, SPECS, TABLE_SUFFIXES, Options, Spec

POLICY_VERSION = "2012-10-17"
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
LAMBDA_RUNTIME = "python3.13"
CONNECTION_PORT = 8080
ROUTER_PORT = 8081
ENDPOINT_PORT = 8082
MESSAGES_API_PORT = 8080
REDIS_PORT = 6379
LOG_PREFIX = "logs/"  # Firehose writes here; the processor is triggered only below it
ERROR_PREFIX = "errors/"  # where Firehose puts what it could not deliver
SETTINGS_KEY = "processor_settings.json"
# WebSocket connections stay open for long; ALB allows at most 4000 s idle.
WEBSOCKET_IDLE_TIMEOUT = "3600"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

# The stack's own UUID (last part of its id): lowercase, unique, known before
# any resource exists. Names built from it (bucket, Redis cluster id) break the
# cycles an S3 notification or a settings object would otherwise create.
STACK_UUID = Select(2, Split("/", StackId))
STACK_UUID_SHORT = Select(0, Split("-", STACK_UUID))


@dataclass(frozen=True)
class NodeGroup:
    """One Auto Scaling group of push nodes and what its instances run."""

    name: str  # logical id prefix, e.g. "Connection"
    option: str  # option prefix, e.g. "connection"
    port: int
    health_path: str
    healthy_max: int  # highest HTTP status of a healthy answer, for ALB and boot script alike
    wait_seconds: int  # how long a booted node may take to answer healthy

    @property
    def signal_timeout(self) -> str:
        """Boot (packages, image pull) plus the wait for health, as ISO 8601."""
        return f"PT{-(-(self.wait_seconds + 300) // 60)}M"  # whole minutes, rounded up


CONNECTION = NodeGroup("Connection", "connection", CONNECTION_PORT, "/status", 399, 600)
ENDPOINT = NodeGroup("Endpoint", "endpoint", ENDPOINT_PORT, "/status", 399, 600)
# The Messages API may answer only once Redis, created alongside it, is up (~8 min).
MESSAGES_API = NodeGroup("MessagesApi", "messages_api", MESSAGES_API_PORT, "/", 499, 900)


def skip_checks(*checks: tuple[str, str]) -> dict:
    """Metadata telling checkov why a check does not apply to a resource."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in checks]}}


def policy(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version=POLICY_VERSION, Statement=list(statements))


def allow(actions: list, resources: list) -> Statement:
    return Statement(Effect=Allow, Action=actions, Resource=resources)


def assume_role_policy(service: str, condition: Condition | None = None) -> PolicyDocument:
    extra = {"Condition": condition} if condition else {}
    return policy(
        Statement(
            Effect=Allow, Principal=Principal("Service", [service]), Action=[AssumeRole], **extra
        )
    )


def role(
    logical_id: str, trust: PolicyDocument, name: str, statements: list, managed: list = ()
) -> iam.Role:
    """A role with one inline policy, and AWS managed policies by name."""
    extra = {"ManagedPolicyArns": [managed_policy(m) for m in managed]} if managed else {}
    return iam.Role(
        logical_id,
        AssumeRolePolicyDocument=trust,
        Policies=[iam.Policy(PolicyName=name, PolicyDocument=policy(*statements))],
        **extra,
    )


# Item access to a table; no CreateTable or DeleteTable: the stack owns the tables.
TABLE_ITEM_ACTIONS = [
    ddb.DescribeTable,
    ddb.GetItem,
    ddb.PutItem,
    ddb.UpdateItem,
    ddb.DeleteItem,
    ddb.Query,
    ddb.BatchGetItem,
    ddb.BatchWriteItem,
]


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> Sub:
    """An ARN in the stack's partition, region and account: nothing written literally."""
    parts = ["arn:${AWS::Partition}", service, "${AWS::Region}" if region else ""]
    parts.append("${AWS::AccountId}" if account else "")
    return Sub(":".join(parts) + ":" + resource)


def managed_policy(name: str) -> Sub:
    return Sub("arn:${AWS::Partition}:iam::aws:policy/" + name)


# --- Parameters ----------------------------------------------------------------

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


# --- Crypto key and tables -------------------------------------------------------


def crypto_key_secret(t: Template) -> secretsmanager.Secret:
    return t.add_resource(
        secretsmanager.Secret(
            "CryptoKeySecret",
            Description=Sub("Autopush crypto key of stack ${AWS::StackName}"),
            SecretString=Ref("CryptoKey"),
            # Like the tables it unlocks, the key outlives the stack.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata=skip_checks(
                ("CKV_AWS_149", "Encrypted with the account's AWS managed key; no CMK to manage."),
                ("CKV2_AWS_57", "Rotating a Fernet key is a redeploy with a new key first."),
            ),
        )
    )


def table_name(table: str) -> Sub:
    return Sub("${TablePrefix}" + TABLE_SUFFIXES[table])


def table(logical_id: str, table: str, keys: list[tuple[str, str]]) -> ddb_res.Table:
    """An on-demand, encrypted, recoverable table with TTL on ``expiry``, kept when the stack goes."""
    return ddb_res.Table(
        logical_id,
        TableName=table_name(table),
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            ddb_res.AttributeDefinition(AttributeName=name, AttributeType="S") for name, _ in keys
        ],
        KeySchema=[ddb_res.KeySchema(AttributeName=name, KeyType=kind) for name, kind in keys],
        TimeToLiveSpecification=ddb_res.TimeToLiveSpecification(
            AttributeName="expiry", Enabled=True
        ),
        SSESpecification=ddb_res.SSESpecification(SSEEnabled=True),
        PointInTimeRecoverySpecification=ddb_res.PointInTimeRecoverySpecification(
            PointInTimeRecoveryEnabled=True
        ),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
        Metadata=skip_checks(
            ("CKV_AWS_119", "Encrypted with the AWS managed DynamoDB key; no CMK to manage.")
        ),
    )


def router_table() -> ddb_res.Table:
    return table("RouterTable", "router", [("uaid", "HASH")])


def message_table() -> ddb_res.Table:
    return table("MessageTable", "message", [("uaid", "HASH"), ("chidmessageid", "RANGE")])


def push_messages_table() -> ddb_res.Table:
    return table("PushMessagesTable", "push_messages", [("api_key", "HASH")])


def table_arn(t: Template, logical_id: str, table: str):
    """A created table's ARN, or the reused table's ARN built from its name."""
    if logical_id in t.resources:
        return GetAtt(logical_id, "Arn")
    return arn("dynamodb", "table/${TablePrefix}" + TABLE_SUFFIXES[table])


# --- Network ---------------------------------------------------------------------


def ingress(port: int, description: str, *, cidr=None, source=None) -> ec2.SecurityGroupRule:
    rule = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "Description": description}
    if source is not None:
        rule["SourceSecurityGroupId"] = Ref(source)
    else:
        rule["CidrIp"] = cidr
    return ec2.SecurityGroupRule(**rule)


def security_group(logical_id: str, description: str, rules: list, metadata=None):
    kwargs = {"Metadata": metadata} if metadata else {}
    return ec2.SecurityGroup(
        logical_id,
        GroupDescription=description,
        VpcId=Ref("VpcId"),
        SecurityGroupIngress=rules,
        **kwargs,
    )


def public_listener_ports(opts: Options) -> list[int]:
    return [80, 443] if opts.tls else [80]


def load_balancer_security_group(logical_id: str, what: str, opts: Options):
    rules = [
        ingress(port, f"{what} clients ({'HTTPS' if port == 443 else 'HTTP'})", cidr="0.0.0.0/0")
        for port in public_listener_ports(opts)
    ]
    return security_group(
        logical_id,
        f"{what} load balancer: open to clients",
        rules,
        skip_checks(("CKV_AWS_260", "A public push service: clients connect from anywhere.")),
    )


def node_security_group(logical_id: str, description: str, rules: list, opts: Options):
    if opts.ssh:
        rules = [*rules, ingress(22, "SSH from the admin network", cidr=Ref("SshCidr"))]
    return security_group(logical_id, description, rules)


def security_groups(t: Template, opts: Options) -> None:
    t.add_resource(
        security_group(
            "InternalRouterSecurityGroup",
            "Endpoint nodes: may reach the internal router port of the connection nodes",
            [],
            skip_checks(("CKV2_AWS_5", "Attached to the endpoint nodes' launch template.")),
        )
    )
    t.add_resource(
        load_balancer_security_group("ConnectionLoadBalancerSecurityGroup", "WebSocket", opts)
    )
    t.add_resource(
        load_balancer_security_group("EndpointLoadBalancerSecurityGroup", "Endpoint", opts)
    )
    t.add_resource(
        node_security_group(
            "ConnectionNodeSecurityGroup",
            "Connection nodes: WebSocket from their load balancer, router from endpoints",
            [
                ingress(
                    CONNECTION_PORT,
                    "WebSocket from the load balancer",
                    source="ConnectionLoadBalancerSecurityGroup",
                ),
                ingress(ROUTER_PORT, "Internal router", source="InternalRouterSecurityGroup"),
            ],
            opts,
        )
    )
    t.add_resource(
        node_security_group(
            "EndpointNodeSecurityGroup",
            "Endpoint nodes: HTTP from their load balancer",
            [
                ingress(
                    ENDPOINT_PORT,
                    "HTTP from the load balancer",
                    source="EndpointLoadBalancerSecurityGroup",
                )
            ],
            opts,
        )
    )


# --- Load balancers ----------------------------------------------------------------


def load_balancer(t: Template, group: NodeGroup, opts: Options, subnets, security_group: str):
    """An internet-facing ALB, its target group and listeners (HTTPS when TLS)."""
    attributes = [
        elb.LoadBalancerAttributes(
            Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
        ),
        elb.LoadBalancerAttributes(
            Key="idle_timeout.timeout_seconds", Value=WEBSOCKET_IDLE_TIMEOUT
        ),
    ]
    checks = [
        ("CKV_AWS_91", "Access logs need a log bucket the operator chooses; off by default."),
        ("CKV_AWS_150", "Deleting the stack must be able to delete its load balancers."),
        ("CKV2_AWS_28", "A WAF is the operator's choice and costs extra."),
    ]
    if not opts.tls:
        checks.append(("CKV2_AWS_20", "No certificate given: the operator chose plain HTTP."))
    t.add_resource(
        elb.LoadBalancer(
            f"{group.name}LoadBalancer",
            Type="application",
            Scheme="internet-facing",
            Subnets=subnets,
            SecurityGroups=[Ref(security_group)],
            LoadBalancerAttributes=attributes,
            Metadata=skip_checks(*checks),
        )
    )
    t.add_resource(
        elb.TargetGroup(
            f"{group.name}TargetGroup",
            VpcId=Ref("VpcId"),
            Protocol="HTTP",
            Port=group.port,
            TargetType="instance",
            HealthCheckPath=group.health_path,
            HealthCheckIntervalSeconds=15,
            HealthyThresholdCount=2,
            Matcher=elb.Matcher(HttpCode=f"200-{group.healthy_max}"),
            TargetGroupAttributes=[
                elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")
            ],
        )
    )
    forward = [elb.Action(Type="forward", TargetGroupArn=Ref(f"{group.name}TargetGroup"))]
    if opts.tls:
        t.add_resource(
            elb.Listener(
                f"{group.name}HttpsListener",
                LoadBalancerArn=Ref(f"{group.name}LoadBalancer"),
                Port=443,
                Protocol="HTTPS",
                SslPolicy=TLS_POLICY,
                Certificates=[elb.Certificate(CertificateArn=Ref("CertificateArn"))],
                DefaultActions=forward,
            )
        )
        http_actions = [
            elb.Action(
                Type="redirect",
                RedirectConfig=elb.RedirectConfig(
                    Protocol="HTTPS", Port="443", StatusCode="HTTP_301"
                ),
            )
        ]
        http_checks = []
    else:
        http_actions = forward
        http_checks = [
            ("CKV_AWS_2", "No certificate given: the operator chose plain HTTP."),
            ("CKV_AWS_103", "No certificate given: TLS is not offered."),
        ]
    t.add_resource(
        elb.Listener(
            f"{group.name}HttpListener",
            LoadBalancerArn=Ref(f"{group.name}LoadBalancer"),
            Port=80,
            Protocol="HTTP",
            DefaultActions=http_actions,
            **({"Metadata": skip_checks(*http_checks)} if http_checks else {}),
        )
    )


def public_url(opts: Options, logical_id: str, secure: str, plain: str) -> Sub:
    scheme = secure if opts.tls else plain
    return Sub(f"{scheme}://${{{logical_id}.DNSName}}")


# --- Roles -------------------------------------------------------------------------


def node_role(t: Template, opts: Options) -> None:
    """The push nodes' role: their tables, the key's secret, the log stream; SSM for admins."""
    tables = [table_arn(t, "RouterTable", "router"), table_arn(t, "MessageTable", "message")]
    statements = [
        allow(TABLE_ITEM_ACTIONS, tables),
        allow([sm_actions.GetSecretValue], [Ref("CryptoKeySecret")]),
    ]
    if opts.firehose:
        statements.append(
            allow(
                [fh_actions.PutRecord, fh_actions.PutRecordBatch],
                [LOG_STREAM_ARN],
            )
        )
    t.add_resource(
        role(
            "PushNodeRole",
            assume_role_policy("ec2.amazonaws.com"),
            "autopush",
            statements,
            managed=["AmazonSSMManagedInstanceCore"],
        )
    )
    t.add_resource(iam.InstanceProfile("PushNodeInstanceProfile", Roles=[Ref("PushNodeRole")]))


# --- Nodes -------------------------------------------------------------------------

# The boot script every node runs, kept once in the template's Mappings; each
# group's UserData sets the variables it reads, then appends it.
BOOT_SCRIPT = """\
set -euo pipefail
signal() { /opt/aws/bin/cfn-signal -e "$1" --stack "$STACK" --resource "$RESOURCE" --region "$REGION" || true; }
trap 'signal 1' ERR
# Many open connections: raise the kernel's limits.
cat > /etc/sysctl.d/90-push.conf <<'CONF'
fs.file-max = 2097152
fs.nr_open = 2097152
net.core.somaxconn = 65535
net.core.netdev_max_backlog = 65535
net.ipv4.tcp_max_syn_backlog = 65535
net.ipv4.ip_local_port_range = 1024 65535
net.ipv4.tcp_tw_reuse = 1
net.ipv4.tcp_fin_timeout = 15
CONF
sysctl --system >/dev/null
dnf install -y -q docker aws-cfn-bootstrap
systemctl enable --now docker
TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
PRIVATE_IP=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/local-ipv4)
umask 077
# The crypto key goes from Secrets Manager into a root-only file, never into a log.
# A new instance's credentials may take a moment: a few tries, then stop (and
# signal failure) rather than start without a key.
if [ -n "${SECRET_ID:-}" ]; then
  for attempt in 1 2 3 4 5 6; do
    KEY=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ID" --query SecretString --output text) && break
    [ "$attempt" -lt 6 ] || { signal 1; exit 1; }
    sleep 10
  done
fi
{
  echo "AWS_DEFAULT_REGION=$REGION"
  push_env
  if [ -n "${KEY:-}" ]; then echo "CRYPTO_KEY=$KEY"; fi
} > /etc/push.env
docker run -d --name push --restart always --network host --ulimit nofile=1000000:1000000 \\
  --log-driver journald --env-file /etc/push.env "$IMAGE" $COMMAND
# Healthy by the load balancer's own rule: a status from 200 to HEALTHY_MAX.
deadline=$((SECONDS + WAIT_SECONDS))
while [ "$SECONDS" -lt "$deadline" ]; do
  code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$HEALTH" || true)
  if [ "$code" -ge 200 ] && [ "$code" -le "$HEALTHY_MAX" ]; then signal 0; exit 0; fi
  sleep 5
done
signal 1
"""


def user_data(
    group: NodeGroup, command: str, image: str, env: dict, *, secret: bool, variables=None
) -> Base64:
    """Boot script of one group: its settings, then the shared BOOT_SCRIPT.

    Tunes the kernel, installs Docker, runs the service and signals
    CloudFormation once the service answers its health check. The crypto key
    is read from Secrets Manager at boot; it is never in the template.
    """
    settings = {
        "STACK": "${AWS::StackName}",
        "REGION": "${AWS::Region}",
        "RESOURCE": f"{group.name}Nodes",
        "PORT": str(group.port),
        "HEALTH": group.health_path,
        "HEALTHY_MAX": str(group.healthy_max),
        "WAIT_SECONDS": str(group.wait_seconds),
        "IMAGE": image,
        "COMMAND": command,
    }
    if secret:
        settings["SECRET_ID"] = "${CryptoKeySecret}"  # noqa: S105 (the secret's ARN)
        # Not the key: its fingerprint. A new key changes the launch template,
        # so a rolling update replaces every node and all read the same keys.
        settings["KEY_REVISION"] = "${CryptoKeyRevision}"
    lines = ["#!/bin/bash", *(f"{name}={value}" for name, value in settings.items())]
    lines.append("push_env() {")
    lines += [f"  echo {name}={value}" for name, value in env.items()]
    lines.append("}")
    header = Sub("\n".join(lines) + "\n", **(variables or {}))
    return Base64(Join("", [header, FindInMap("Boot", "Script", "Body")]))


def launch_template(
    t: Template, group: NodeGroup, opts: Options, security_groups: list, script, profile: str
) -> None:
    data = {
        "ImageId": Ref("LatestAmiId"),
        "InstanceType": Ref(f"{group.name}InstanceType"),
        "IamInstanceProfile": ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
        "SecurityGroupIds": [Ref(sg) for sg in security_groups],
        "MetadataOptions": ec2.MetadataOptions(HttpTokens="required", HttpEndpoint="enabled"),
        "BlockDeviceMappings": [
            ec2.LaunchTemplateBlockDeviceMapping(
                DeviceName="/dev/xvda",
                Ebs=ec2.EBSBlockDevice(VolumeSize=30, VolumeType="gp3", Encrypted=True),
            )
        ],
        "Monitoring": ec2.Monitoring(Enabled=True),
        "UserData": script,
        "TagSpecifications": [
            ec2.TagSpecifications(
                ResourceType="instance",
                Tags=Tags(Name=Sub("${AWS::StackName}-" + group.option.replace("_", "-"))),
            )
        ],
    }
    if opts.ssh:
        data["KeyName"] = Ref("KeyName")
    t.add_resource(
        ec2.LaunchTemplate(
            f"{group.name}LaunchTemplate", LaunchTemplateData=ec2.LaunchTemplateData(**data)
        )
    )


def auto_scaling_group(t: Template, group: NodeGroup, subnets) -> None:
    """Nodes that signal when healthy, replaced one batch at a time on update."""
    t.add_resource(
        asg.AutoScalingGroup(
            f"{group.name}Nodes",
            VPCZoneIdentifier=subnets,
            LaunchTemplate=asg.LaunchTemplateSpecification(
                LaunchTemplateId=Ref(f"{group.name}LaunchTemplate"),
                Version=GetAtt(f"{group.name}LaunchTemplate", "LatestVersionNumber"),
            ),
            MinSize=Ref(f"{group.name}MinSize"),
            MaxSize=Ref(f"{group.name}MaxSize"),
            DesiredCapacity=Ref(f"{group.name}DesiredCapacity"),
            TargetGroupARNs=[Ref(f"{group.name}TargetGroup")],
            HealthCheckType="ELB",
            HealthCheckGracePeriod=group.wait_seconds + 300,
            CreationPolicy=CreationPolicy(
                ResourceSignal=ResourceSignal(
                    Count=Ref(f"{group.name}DesiredCapacity"), Timeout=group.signal_timeout
                )
            ),
            UpdatePolicy=UpdatePolicy(
                AutoScalingRollingUpdate=AutoScalingRollingUpdate(
                    MinInstancesInService=Ref(f"{group.name}MinSize"),
                    MaxBatchSize=1,
                    PauseTime=group.signal_timeout,
                    WaitOnResourceSignals=True,
                )
            ),
            Tags=[asg.Tag("Service", "autopush", True)],
        )
    )


def autopush_env(opts: Options) -> dict:
    """Settings both autopush programs share (the crypto key is added at boot)."""
    env = {
        "ROUTER_TABLENAME": "${TablePrefix}" + TABLE_SUFFIXES["router"],
        "MESSAGE_TABLENAME": "${TablePrefix}" + TABLE_SUFFIXES["message"],
        "NO_TABLE_ROTATION": "true",
        "ENDPOINT_HOSTNAME": "${EndpointLoadBalancer.DNSName}",
        "ENDPOINT_SCHEME": "https" if opts.tls else "http",
        "ENDPOINT_PORT": "443" if opts.tls else "80",
    }
    if opts.firehose:
        env["STREAM_NAME"] = "${LogStreamName}"
    return env


def push_nodes(t: Template, opts: Options) -> None:
    """Connection and endpoint nodes: separate groups that create in parallel."""
    subnets = Ref("SubnetIds")
    load_balancer(t, CONNECTION, opts, subnets, "ConnectionLoadBalancerSecurityGroup")
    load_balancer(t, ENDPOINT, opts, subnets, "EndpointLoadBalancerSecurityGroup")
    # Connection nodes learn the endpoint URL from the endpoint load balancer,
    # not from an endpoint instance, so neither group waits for the other.
    connection_env = {
        **autopush_env(opts),
        "PORT": str(CONNECTION_PORT),
        "ROUTER_PORT": str(ROUTER_PORT),
        "ROUTER_HOSTNAME": "$PRIVATE_IP",
    }
    endpoint_env = {**autopush_env(opts), "PORT": str(ENDPOINT_PORT)}
    names = {"LogStreamName": LOG_STREAM_NAME} if opts.firehose else None
    launch_template(
        t,
        CONNECTION,
        opts,
        ["ConnectionNodeSecurityGroup"],
        user_data(
            CONNECTION, "autopush", "${AutopushImage}", connection_env, secret=True, variables=names
        ),
        "PushNodeInstanceProfile",
    )
    launch_template(
        t,
        ENDPOINT,
        opts,
        ["EndpointNodeSecurityGroup", "InternalRouterSecurityGroup"],
        user_data(
            ENDPOINT, "autoendpoint", "${AutopushImage}", endpoint_env, secret=True, variables=names
        ),
        "PushNodeInstanceProfile",
    )
    auto_scaling_group(t, CONNECTION, subnets)
    auto_scaling_group(t, ENDPOINT, subnets)


# --- Logs: Firehose to S3 -------------------------------------------------------------

LOG_NAME = "push-logs-${Uuid}"  # bucket and delivery stream, as Fn::Sub text
LOG_BUCKET_NAME = Sub(LOG_NAME, Uuid=STACK_UUID)
# Named ahead too, so the nodes (which only write to it) need not wait for it.
LOG_STREAM_NAME = Sub(LOG_NAME, Uuid=STACK_UUID)
LOG_STREAM_ARN = Sub(
    "arn:${AWS::Partition}:firehose:${AWS::Region}:${AWS::AccountId}:deliverystream/" + LOG_NAME,
    Uuid=STACK_UUID,
)


def log_bucket_arn(path: str = "") -> Sub:
    """The log bucket's ARN from its name: for what the bucket itself waits for."""
    return Sub("arn:${AWS::Partition}:s3:::" + LOG_NAME + path, Uuid=STACK_UUID)


def created_bucket_arn(path: str = "") -> Sub:
    return Sub("${LogBucket.Arn}" + path)


def log_bucket(t: Template, opts: Options) -> None:
    """An encrypted, versioned, private bucket, kept when the stack goes."""
    extra = {}
    if opts.processor:
        extra["NotificationConfiguration"] = s3.NotificationConfiguration(
            LambdaConfigurations=[
                s3.LambdaConfigurations(
                    Event="s3:ObjectCreated:*",
                    Function=GetAtt("ProcessorFunction", "Arn"),
                    Filter=s3.Filter(
                        S3Key=s3.S3Key(Rules=[s3.Rules(Name="prefix", Value=LOG_PREFIX)])
                    ),
                )
            ]
        )
        # S3 checks the notification target when the bucket is configured.
        extra["DependsOn"] = ["ProcessorInvokePermission"]
    t.add_resource(
        s3.Bucket(
            "LogBucket",
            BucketName=LOG_BUCKET_NAME,
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        ),
                        BucketKeyEnabled=True,
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata=skip_checks(
                ("CKV_AWS_18", "Access logging needs a second bucket; the operator can add one."),
                ("CKV_AWS_145", "SSE-S3 encryption; no CMK to manage."),
                ("CKV2_AWS_62", "Only the processor is notified, when log processing is chosen."),
                ("CKV2_AWS_61", "Logs are kept until the operator decides otherwise."),
            ),
            **extra,
        )
    )
    t.add_resource(
        s3.BucketPolicy(
            "LogBucketPolicy",
            Bucket=Ref("LogBucket"),
            PolicyDocument=policy(
                Statement(
                    Sid="DenyInsecureTransport",
                    Effect="Deny",
                    Principal=Principal("*"),
                    Action=[s3_actions.Action("*")],
                    Resource=[created_bucket_arn(), created_bucket_arn("/*")],
                    Condition=Condition(StringEquals("aws:SecureTransport", "false")),
                )
            ),
        )
    )


def log_delivery_stream(t: Template) -> None:
    """Firehose delivery stream the nodes write their logs to, delivering to the bucket."""
    t.add_resource(
        role(
            "LogDeliveryRole",
            assume_role_policy(
                "firehose.amazonaws.com",
                Condition(StringEquals("sts:ExternalId", AccountId)),
            ),
            "deliver-logs",
            [
                allow(
                    [
                        s3_actions.AbortMultipartUpload,
                        s3_actions.GetBucketLocation,
                        s3_actions.ListBucket,
                        s3_actions.ListBucketMultipartUploads,
                    ],
                    [created_bucket_arn()],
                ),
                allow(
                    [s3_actions.PutObject, s3_actions.GetObject],
                    [
                        created_bucket_arn("/" + LOG_PREFIX + "*"),
                        created_bucket_arn("/" + ERROR_PREFIX + "*"),
                    ],
                ),
            ],
        )
    )
    t.add_resource(
        firehose.DeliveryStream(
            "LogDeliveryStream",
            DeliveryStreamName=LOG_STREAM_NAME,
            DeliveryStreamType="DirectPut",
            DeliveryStreamEncryptionConfigurationInput=firehose.DeliveryStreamEncryptionConfigurationInput(
                KeyType="AWS_OWNED_CMK"
            ),
            ExtendedS3DestinationConfiguration=firehose.ExtendedS3DestinationConfiguration(
                BucketARN=GetAtt("LogBucket", "Arn"),
                RoleARN=GetAtt("LogDeliveryRole", "Arn"),
                Prefix=LOG_PREFIX,
                ErrorOutputPrefix=ERROR_PREFIX,
                BufferingHints=firehose.BufferingHints(IntervalInSeconds=300, SizeInMBs=5),
                CompressionFormat="UNCOMPRESSED",
            ),
        )
    )


# --- Log processing: Lambda, Redis, Messages API --------------------------------------

REDIS_NAME = "push-redis-${Id}"
REDIS_CLUSTER_ID = Sub(REDIS_NAME, Id=STACK_UUID_SHORT)
REDIS_CLUSTER_ARN = Sub(
    "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:cluster:" + REDIS_NAME,
    Id=STACK_UUID_SHORT,
)


def lambda_log_group(t: Template, logical_id: str) -> None:
    t.add_resource(
        logs.LogGroup(
            logical_id,
            RetentionInDays=90,
            Metadata=skip_checks(
                ("CKV_AWS_158", "CloudWatch Logs' own encryption; no CMK to manage.")
            ),
        )
    )


def lambda_checks(*extra: tuple[str, str]) -> dict:
    return skip_checks(
        (
            "CKV_AWS_115",
            "Reserved concurrency would fail in accounts with a low concurrency limit.",
        ),
        ("CKV_AWS_116", "Triggered by S3 and CloudFormation, which retry and report failures."),
        *extra,
    )


def redis(t: Template) -> None:
    """Redis in the private subnets, open only to the processor and the Messages API."""
    t.add_resource(
        security_group(
            "ProcessorSecurityGroup",
            "Push processor Lambda",
            [],
            skip_checks(("CKV2_AWS_5", "Attached to the processor Lambda's VPC configuration.")),
        )
    )
    t.add_resource(
        security_group(
            "RedisSecurityGroup",
            "Redis: only from the processor and the Messages API",
            [
                ingress(REDIS_PORT, "Redis from the processor", source="ProcessorSecurityGroup"),
                ingress(
                    REDIS_PORT, "Redis from the Messages API", source="MessagesApiNodeSecurityGroup"
                ),
            ],
        )
    )
    t.add_resource(
        elasticache.SubnetGroup(
            "RedisSubnetGroup",
            Description="Private subnets of the push Redis",
            SubnetIds=Ref("PrivateSubnetIds"),
        )
    )
    t.add_resource(
        elasticache.CacheCluster(
            "Redis",
            ClusterName=REDIS_CLUSTER_ID,
            Engine="redis",
            CacheNodeType=Ref("RedisNodeType"),
            NumCacheNodes=1,
            CacheSubnetGroupName=Ref("RedisSubnetGroup"),
            VpcSecurityGroupIds=[Ref("RedisSecurityGroup")],
        )
    )


def processor(t: Template) -> None:
    """The push-processor Lambda, triggered by new log objects in the bucket."""
    lambda_log_group(t, "ProcessorLogGroup")
    t.add_resource(
        role(
            "ProcessorRole",
            assume_role_policy("lambda.amazonaws.com"),
            "process-logs",
            [
                allow([s3_actions.GetObject], [log_bucket_arn("/*")]),
                allow([s3_actions.ListBucket], [log_bucket_arn()]),
                allow([ec_actions.DescribeCacheClusters], [REDIS_CLUSTER_ARN]),
                allow(TABLE_ITEM_ACTIONS, [table_arn(t, "PushMessagesTable", "push_messages")]),
            ],
            managed=["service-role/AWSLambdaVPCAccessExecutionRole"],
        )
    )
    t.add_resource(
        awslambda.Function(
            "ProcessorFunction",
            Description="Push processor: turns push logs into Push Messages API data",
            Runtime=LAMBDA_RUNTIME,
            Handler="lambda.handler",
            Code=awslambda.Code(S3Bucket=Ref("ProcessorCodeBucket"), S3Key=Ref("ProcessorCodeKey")),
            Role=GetAtt("ProcessorRole", "Arn"),
            MemorySize=512,
            Timeout=300,
            VpcConfig=awslambda.VPCConfig(
                SubnetIds=Ref("PrivateSubnetIds"),
                SecurityGroupIds=[Ref("ProcessorSecurityGroup")],
            ),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref("ProcessorLogGroup")),
            TracingConfig=awslambda.TracingConfig(Mode="PassThrough"),
            Metadata=lambda_checks(
                (
                    "CKV_AWS_50",
                    "X-Ray tracing is left to the operator (extra cost and permissions).",
                ),
            ),
        )
    )
    t.add_resource(
        awslambda.Permission(
            "ProcessorInvokePermission",
            Action="lambda:InvokeFunction",
            FunctionName=Ref("ProcessorFunction"),
            Principal="s3.amazonaws.com",
            SourceAccount=AccountId,
            SourceArn=log_bucket_arn(),
        )
    )


SETTINGS_WRITER_CODE = """\
import json

import boto3
import cfnresponse


def handler(event, context):
    props = event["ResourceProperties"]
    status = cfnresponse.SUCCESS
    try:
        # The bucket and this object outlive the stack: nothing to do on Delete.
        if event["RequestType"] in ("Create", "Update"):
            boto3.client("s3").put_object(
                Bucket=props["Bucket"],
                Key=props["Key"],
                Body=json.dumps(props["Settings"]).encode(),
                ContentType="application/json",
            )
    except Exception as exc:
        print("could not write the settings object:", exc)
        status = cfnresponse.FAILED
    cfnresponse.send(event, context, status, {}, props["Bucket"] + "/" + props["Key"])
"""


def processor_settings(t: Template) -> None:
    """The processor's settings object, written by the stack (code inside the template)."""
    lambda_log_group(t, "SettingsWriterLogGroup")
    t.add_resource(
        role(
            "SettingsWriterRole",
            assume_role_policy("lambda.amazonaws.com"),
            "write-settings",
            [
                allow([s3_actions.PutObject], [created_bucket_arn("/" + SETTINGS_KEY)]),
                allow(
                    [logs_actions.CreateLogStream, logs_actions.PutLogEvents],
                    [GetAtt("SettingsWriterLogGroup", "Arn")],
                ),
            ],
        )
    )
    t.add_resource(
        awslambda.Function(
            "SettingsWriterFunction",
            Description="Writes the push processor's settings object into the log bucket",
            Runtime=LAMBDA_RUNTIME,
            Handler="index.handler",
            Code=awslambda.Code(ZipFile=SETTINGS_WRITER_CODE),
            Role=GetAtt("SettingsWriterRole", "Arn"),
            Timeout=60,
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref("SettingsWriterLogGroup")),
            Metadata=lambda_checks(
                ("CKV_AWS_117", "Needs only S3 and the CloudFormation response URL, not the VPC."),
                ("CKV_AWS_50", "Runs once per stack operation; tracing adds nothing."),
            ),
        )
    )
    t.add_resource(
        CustomResource(
            "ProcessorSettings",
            ServiceToken=GetAtt("SettingsWriterFunction", "Arn"),
            Bucket=Ref("LogBucket"),
            Key=SETTINGS_KEY,
            Settings={"redis_name": REDIS_CLUSTER_ID, "file_type": "json"},
        )
    )


def messages_api(t: Template, opts: Options) -> None:
    """Push Messages API nodes next to Redis, behind their own public load balancer."""
    t.add_resource(
        load_balancer_security_group("MessagesApiLoadBalancerSecurityGroup", "Messages API", opts)
    )
    t.add_resource(
        node_security_group(
            "MessagesApiNodeSecurityGroup",
            "Messages API nodes: HTTP from their load balancer",
            [
                ingress(
                    MESSAGES_API_PORT,
                    "HTTP from the load balancer",
                    source="MessagesApiLoadBalancerSecurityGroup",
                )
            ],
            opts,
        )
    )
    t.add_resource(
        role(
            "MessagesApiRole",
            assume_role_policy("ec2.amazonaws.com"),
            "messages-api",
            [
                allow([ec_actions.DescribeCacheClusters], [REDIS_CLUSTER_ARN]),
                allow(TABLE_ITEM_ACTIONS, [table_arn(t, "PushMessagesTable", "push_messages")]),
            ],
            managed=["AmazonSSMManagedInstanceCore"],
        )
    )
    t.add_resource(
        iam.InstanceProfile("MessagesApiInstanceProfile", Roles=[Ref("MessagesApiRole")])
    )
    load_balancer(t, MESSAGES_API, opts, Ref("SubnetIds"), "MessagesApiLoadBalancerSecurityGroup")
    env = {
        "PORT": str(MESSAGES_API_PORT),
        "REDIS_ELASTICACHE": "${RedisClusterId}",
        "PUSH_MESSAGES_TABLE": (
            "${PushMessagesTable}"
            if "PushMessagesTable" in t.resources
            else "${TablePrefix}" + TABLE_SUFFIXES["push_messages"]
        ),
    }
    # The cluster id is known before Redis exists, so the nodes need not wait for it.
    script = user_data(
        MESSAGES_API,
        "",
        "${MessagesApiImage}",
        env,
        secret=False,
        variables={"RedisClusterId": REDIS_CLUSTER_ID},
    )
    launch_template(
        t,
        MESSAGES_API,
        opts,
        ["MessagesApiNodeSecurityGroup"],
        script,
        "MessagesApiInstanceProfile",
    )
    auto_scaling_group(t, MESSAGES_API, [Ref("MessagesApiSubnetId")])


# --- Outputs ---------------------------------------------------------------------------


def outputs(t: Template, opts: Options) -> None:
    values = {
        "WebSocketURL": (
            "URL push clients connect to",
            public_url(opts, "ConnectionLoadBalancer", "wss", "ws"),
        ),
        "EndpointURL": (
            "Base URL of the push endpoints (application servers send here)",
            public_url(opts, "EndpointLoadBalancer", "https", "http"),
        ),
        "RouterTableName": ("DynamoDB router table", table_name("router")),
        "MessageTableName": ("DynamoDB message table", table_name("message")),
        "CryptoKeySecretArn": (
            "Secrets Manager secret holding the crypto key",
            Ref("CryptoKeySecret"),
        ),
        "TablePrefix": (
            "Table prefix: keep it, with the crypto key, to upgrade or redeploy",
            Ref("TablePrefix"),
        ),
    }
    if opts.firehose:
        values["LogBucketName"] = ("S3 bucket receiving the push logs", Ref("LogBucket"))
        values["LogDeliveryStreamName"] = (
            "Firehose stream of the push logs",
            Ref("LogDeliveryStream"),
        )
    if opts.processor:
        values["ProcessorFunctionName"] = ("Push processor Lambda", Ref("ProcessorFunction"))
        values["PushMessagesTableName"] = (
            "DynamoDB Push Messages table",
            table_name("push_messages"),
        )
        values["RedisClusterId"] = ("ElastiCache Redis cluster id", REDIS_CLUSTER_ID)
        values["MessagesApiURL"] = (
            "Push Messages API",
            public_url(opts, "MessagesApiLoadBalancer", "https", "http"),
        )
    for name, (description, value) in values.items():
        t.add_output(Output(name, Description=description, Value=value))


# --- Assembly --------------------------------------------------------------------------


def description(opts: Options) -> str:
    logs_text = {
        "none": "no log processing",
        "firehose": "logs to S3 through Firehose",
        "processor": "logs to S3 through Firehose, push processor, Redis and Push Messages API",
    }[opts.log_processing]
    extras = [text for flag, text in ((opts.tls, "TLS"), (opts.ssh, "SSH")) if flag]
    return f"Mozilla Push (autopush) stack: {logs_text}" + (
        f"; {', '.join(extras)}" if extras else ""
    )


def build_template(opts: Options) -> Template:
    """The complete Push stack for these options."""
    t = Template(Description=description(opts))
    t.set_version("2010-09-09")
    t.add_mapping("Boot", {"Script": {"Body": BOOT_SCRIPT}})
    parameters(t, opts)
    crypto_key_secret(t)
    if not opts.reuse_tables:
        t.add_resource(router_table())
        t.add_resource(message_table())
    security_groups(t, opts)
    if opts.firehose:
        log_bucket(t, opts)
        log_delivery_stream(t)
    if opts.processor:
        if not opts.reuse_tables:
            t.add_resource(push_messages_table())
        redis(t)
        processor(t)
        processor_settings(t)
        messages_api(t, opts)
    node_role(t, opts)
    push_nodes(t, opts)
    outputs(t, opts)
    parameter_groups(t, opts)
    return t
