"""Shared pieces of the template: ports, names, IAM and checkov helpers."""

from __future__ import annotations

from dataclasses import dataclass

from awacs import dynamodb as ddb
from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere import Select, Split, StackId, Sub, iam

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
# WebSocket connections stay open for hours; ALB allows at most 4000 s idle. Both
# engines ping idle clients well within it (autopush-rs: every 300 s).
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
    boot_health_path: str = ""  # what the boot script waits for, when not health_path

    @property
    def boot_check_path(self) -> str:
        return self.boot_health_path or self.health_path

    @property
    def matcher(self) -> str:
        return "200" if self.healthy_max == 200 else f"200-{self.healthy_max}"

    @property
    def signal_timeout(self) -> str:
        """Boot (packages, image pull) plus the wait for health, as ISO 8601."""
        return f"PT{-(-(self.wait_seconds + 300) // 60)}M"  # whole minutes, rounded up


CONNECTION = NodeGroup("Connection", "connection", CONNECTION_PORT, "/status", 399, 600)
ENDPOINT = NodeGroup("Endpoint", "endpoint", ENDPOINT_PORT, "/status", 399, 600)
# autopush-rs answers /__lbheartbeat__ (and /__heartbeat__, which also asks the
# store) on both programs' ports; 200 only.
RS_CONNECTION = NodeGroup("Connection", "connection", CONNECTION_PORT, "/__lbheartbeat__", 200, 600)
RS_ENDPOINT = NodeGroup("Endpoint", "endpoint", ENDPOINT_PORT, "/__lbheartbeat__", 200, 600)
# push-messages answers /__lbheartbeat__ without Redis (for its load balancer) and
# /__heartbeat__ only with it: a node is up once Redis, created alongside, is (~8 min).
MESSAGES_API = NodeGroup(
    "MessagesApi",
    "messages_api",
    MESSAGES_API_PORT,
    "/__lbheartbeat__",
    200,
    900,
    boot_health_path="/__heartbeat__",
)
# Where the stack writes the endpoint load balancer's name for nodes that cannot
# have it in their user data without waiting for the load balancer (~3 min).
ENDPOINT_HOSTNAME_PARAMETER = "/pushstack/${AWS::StackName}/endpoint-hostname"


def carried(code: str) -> str:
    """Code as the template carries it: without its comment and blank lines, which only
    its readers here need (the largest shape is near the 51,200-byte inline limit)."""
    return "".join(
        line
        for line in code.splitlines(keepends=True)
        if line.strip() and not line.lstrip().startswith("#")
    )


def skip_checks(*checks: tuple[str, str]) -> dict:
    """Metadata telling checkov why a check does not apply to a resource."""
    if not checks:
        return {}
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


def session_manager_statements() -> list[Statement]:
    """What an instance needs for Session Manager, and nothing more: the actions of AWS's
    "Create a custom IAM role for Session Manager" (Systems Manager user guide), without
    the S3 and KMS ones it adds only for session logs in S3 and KMS-encrypted sessions,
    neither of which the stack sets up. No ec2messages action: those carry Run Command,
    not sessions. Not AmazonSSMManagedInstanceCore, which also reads every SSM
    parameter of the account (ssm:GetParameter(s) on "*")."""
    return [
        # The session channels: ssmmessages has no resource-level permissions ("*" only).
        allow(
            [
                Action("ssmmessages", "CreateControlChannel"),
                Action("ssmmessages", "CreateDataChannel"),
                Action("ssmmessages", "OpenControlChannel"),
                Action("ssmmessages", "OpenDataChannel"),
            ],
            ["*"],
        ),
        # The agent registers its instance; scoped to this account's and region's
        # instances (the action's resource type, Service Authorization Reference).
        allow([Action("ssm", "UpdateInstanceInformation")], [arn("ec2", "instance/*")]),
    ]


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> Sub:
    """An ARN in the stack's partition, region and account: nothing written literally."""
    parts = ["arn:${AWS::Partition}", service, "${AWS::Region}" if region else ""]
    parts.append("${AWS::AccountId}" if account else "")
    return Sub(":".join(parts) + ":" + resource)


def managed_policy(name: str) -> Sub:
    return Sub("arn:${AWS::Partition}:iam::aws:policy/" + name)
