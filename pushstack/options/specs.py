"""One validated description of a deployment: the single home of every constraint.

The CLI, the web form and the template's Parameters all read the specs in
``SPECS``; nothing else writes a pattern, a range or a list of choices.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.fernet import Fernet

LOG_PROCESSING_CHOICES = ("none", "firehose", "processor")
RS = "autopush-rs"
LEGACY = "autopush-legacy"
ENGINE_CHOICES = (RS, LEGACY)
# The autopush-rs release the stack builds: its tag, and the commit the tag named
# when pushstack was checked against it (the build refuses a moved tag).
AUTOPUSH_RS_VERSION = "1.83.1"
AUTOPUSH_RS_COMMIT = "4ebe2624c02bee0a268146eba1077d29bf7ebcb2"
# Offered regions without CodeBuild (cfn-lint's resource data): no build there.
NO_CODEBUILD_REGIONS = ("ca-west-1",)

# Instance and cache node types offered everywhere; each must exist in every
# commercial region, which the cfn-lint test over all regions checks.
INSTANCE_TYPES = (
    "t3.micro",
    "t3.small",
    "t3.medium",
    "t3.large",
    "t3.xlarge",
    "m5.large",
    "m5.xlarge",
    "c5.large",
    "c5.xlarge",
    "c5.2xlarge",
)
# vCPUs of each instance type (EC2's figures): what counts against the account's
# "Running On-Demand Standard instances" vCPU quota.
INSTANCE_VCPUS = {
    "t3.micro": 2,
    "t3.small": 2,
    "t3.medium": 2,
    "t3.large": 2,
    "t3.xlarge": 4,
    "m5.large": 2,
    "m5.xlarge": 4,
    "c5.large": 2,
    "c5.xlarge": 4,
    "c5.2xlarge": 8,
}
CACHE_NODE_TYPES = ("cache.t3.micro", "cache.t3.small", "cache.t3.medium", "cache.m5.large")

REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "sa-east-1",
)

# Suffixes appended to the table prefix; the longest decides the prefix length.
TABLE_SUFFIXES = {"router": "_router", "message": "_message"}
TABLE_NAME_MAX = 255

# A Fernet key is 32 bytes in URL-safe base64: 43 characters and "=". The 43rd
# character carries the last 4 bits of the key (its 2 low bits are zero), so it
# is one of 16 letters.
FERNET_KEY_PATTERN = r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]="

# A CloudFormation parameter value holds at most 4,096 bytes: lists given as one
# comma-separated parameter must fit.
PARAMETER_VALUE_MAX = 4096
# A key and its comma: how many keys one parameter holds.
CRYPTO_KEYS_MAX = (PARAMETER_VALUE_MAX + 1) // 45
# The hint of list options; the command line, which takes commas only, replaces it.
LIST_HINT = "One per line or comma-separated."


@dataclass(frozen=True)
class Spec:
    """How one option is asked for, checked and passed to CloudFormation."""

    name: str
    label: str
    help: str
    kind: str = "text"  # text | int | choice | list | bool | secret
    parameter: str | None = None  # CloudFormation parameter name, if any
    pattern: str | None = None  # full-match regex, for text and each list item
    allowed: str = ""  # what is allowed, in words, for messages
    min_length: int | None = None
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    choices: tuple[str, ...] = ()
    min_items: int | None = None
    max_items: int | None = None  # most items of a list (or keys of the secret)
    max_items_why: str = ""  # why, in words, for the message
    default: object = None
    required: bool = False  # needed to deploy (a template alone never needs it)
    only_for: str | None = None  # log_processing value this option belongs to
    only_engine: str | None = None  # engine this option belongs to
    flag: str | None = None  # CLI flag, when it differs from --name
    parameter_help: str | None = None  # the parameter's description, when it differs from help
    empty_allowed: bool = False  # the parameter takes "" (the template then picks a value)

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def parameter_pattern(self) -> str | None:
        """The pattern as CloudFormation's AllowedPattern (anchored, and for lists, whole-list)."""
        if self.pattern is None:
            return None
        if self.kind in ("list", "secret"):  # comma-separated lists
            return f"^{self.pattern}(,{self.pattern})*$"
        if self.empty_allowed:
            return f"^({self.pattern})?$"
        return f"^{self.pattern}$"


def _size_specs(group: str, label: str, only_for: str | None = None) -> list[Spec]:
    """Instance type and min/max/desired node counts of one node group."""
    nodes = label[0].lower() + label[1:]  # "Messages API nodes" -> "messages API nodes"
    return [
        Spec(
            f"{group}_instance_type",
            f"{label} instance type",
            f"EC2 instance type of the {nodes}.",
            kind="choice",
            parameter=f"{_camel(group)}InstanceType",
            choices=INSTANCE_TYPES,
            default="t3.small",
            only_for=only_for,
        ),
        Spec(
            f"{group}_min_size",
            f"{label} minimum",
            f"Fewest {nodes} the group keeps running.",
            kind="int",
            parameter=f"{_camel(group)}MinSize",
            min_value=1,
            max_value=100,
            default=1,
            only_for=only_for,
        ),
        Spec(
            f"{group}_max_size",
            f"{label} maximum",
            f"Most {nodes} the group may scale to.",
            kind="int",
            parameter=f"{_camel(group)}MaxSize",
            min_value=1,
            max_value=100,
            default=4,
            only_for=only_for,
        ),
        Spec(
            f"{group}_desired_capacity",
            f"{label} desired",
            f"{label} started at creation; between the minimum and the maximum.",
            parameter_help=f"{label} started at creation.",
            kind="int",
            parameter=f"{_camel(group)}DesiredCapacity",
            min_value=1,
            max_value=100,
            default=2,
            only_for=only_for,
        ),
    ]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


SUBNET_PATTERN = r"subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?"
S3_BUCKET_PATTERN = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# A DNS name of two labels or more; each label of letters, digits and inner hyphens.
HOSTNAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
# An IPv4 network of /8 or narrower. Not the whole internet, nor most of it:
# 0.0.0.0/1 and 128.0.0.0/1 together are /0, and a /7 spans two class-A blocks,
# wider than any one organisation's network; /8 is the largest block ever
# assigned to one holder.
CIDR_PATTERN = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}/(?:[89]|[12][0-9]|3[0-2])"
CIDR_ALLOWED = (
    "an IPv4 network such as 203.0.113.0/24, /8 or narrower: not the whole internet "
    "(nor half of it, 0.0.0.0/1)"
)
# Lambda takes at most 16 subnets; a load balancer one per availability zone, and
# no region has more than 6.
PRIVATE_SUBNETS_MAX = 16
PUBLIC_SUBNETS_MAX = 6
ROUTE_TABLES_MAX = PRIVATE_SUBNETS_MAX + 1


def _hostname_spec(
    name: str, label: str, what: str, example: str, only_for: str | None = None
) -> Spec:
    return Spec(
        name,
        label,
        f"Host name of {what}, such as {example}. The stack's URLs use it instead of "
        "the load balancer's own name: point it at the load balancer in your DNS, or "
        "give the hosted zone. Needed with a TLS certificate, which must cover it.",
        # Shorter in the template, which is near CloudFormation's inline size limit.
        parameter_help=f"Host name in URLs, e.g. {example} (else the load balancer's).",
        parameter=_camel(name),
        pattern=HOSTNAME_PATTERN,
        allowed="a DNS name such as push.example.com, at most 253 characters",
        max_length=253,
        only_for=only_for,
    )


def _processor_code_key_default() -> str | None:
    """The key of the zip pushstack builds, which names its content."""
    from pushstack.processor_zip import ProcessorZipError, zip_key  # builds the zip: only here

    try:
        return zip_key()
    except (ProcessorZipError, OSError):
        return None  # not run from a checkout: the key must be given


IMAGE_PATTERN = r"[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?"


def _engine_image_specs() -> list[Spec]:
    """autopush-rs's two images, when the operator already has them (else the stack builds them)."""
    return [
        Spec(
            f"{program}_image",
            f"{program} image",
            f"Container image of autopush-rs's {program} that you already have, such as "
            f"123456789012.dkr.ecr.us-east-1.amazonaws.com/autopush:{program}-"
            f"{AUTOPUSH_RS_VERSION}. Leave both images empty and the stack builds them "
            "in your account (about 25 minutes, once).",
            parameter_help=f"autopush-rs's {program} image (built with the redis feature).",
            parameter=f"{program.capitalize()}Image",
            pattern=IMAGE_PATTERN,
            allowed="a container image reference such as "
            f"registry.example.com/autopush/{program}:{AUTOPUSH_RS_VERSION}",
            max_length=255,
            only_engine=RS,
        )
        for program in ("autoconnect", "autoendpoint")
    ]


_SPEC_LIST = [
    Spec(
        "stack_name",
        "Stack name",
        "Name of the CloudFormation stack; shown in the AWS console.",
        pattern=r"[A-Za-z][A-Za-z0-9-]*",
        allowed="letters, digits and hyphens, starting with a letter, at most 128 characters",
        max_length=128,
        default="autopush",
    ),
    Spec(
        "region",
        "Region",
        "AWS region the stack is created in.",
        kind="choice",
        choices=REGIONS,
        default="us-east-1",
    ),
    Spec(
        "engine",
        "Push engine",
        "Which push server the nodes run.",
        kind="choice",
        choices=ENGINE_CHOICES,
        default=RS,
        parameter="Engine",
        parameter_help="The push server (fixed by the template's shape).",
    ),
    Spec(
        "crypto_key",
        "Crypto key",
        "Fernet key that encrypts endpoint URLs. Keep it: an upgrade or a "
        "redeployment needs the same key to read existing subscriptions. "
        "Several keys, comma-separated and newest first, rotate keys. "
        "Generated when left empty.",
        kind="secret",
        parameter="CryptoKey",
        pattern=FERNET_KEY_PATTERN,
        allowed="one or more Fernet keys (44 characters of URL-safe base64 ending in '='), "
        "comma-separated, newest first",
        max_items=CRYPTO_KEYS_MAX,
        max_items_why="a CloudFormation parameter value holds at most 4,096 bytes",
        parameter_help="Fernet key(s), comma-separated, newest first. Keep it: upgrades need it.",
    ),
    Spec(
        "table_prefix",
        "DynamoDB table prefix",
        "Prefix of the DynamoDB table names. Reuse the prefix of an earlier "
        "deployment to keep its subscriptions. Generated when left empty.",
        parameter="TablePrefix",
        parameter_help="Prefix of the DynamoDB table names (+ _router, _message); an earlier "
        "deployment's keeps its subscriptions.",
        pattern=r"[A-Za-z0-9_.-]+",
        allowed="letters, digits, '_', '-' and '.', 3 to "
        f"{TABLE_NAME_MAX - max(len(s) for s in TABLE_SUFFIXES.values())} characters",
        min_length=3,
        max_length=TABLE_NAME_MAX - max(len(s) for s in TABLE_SUFFIXES.values()),
        only_engine=LEGACY,
    ),
    Spec(
        "reuse_tables",
        "Reuse existing tables",
        "Use the tables of an earlier deployment (same prefix, same crypto key, "
        "same log processing) instead of creating them. The stack then neither "
        "creates nor retains them.",
        kind="bool",
        default=False,
        only_engine=LEGACY,
    ),
    Spec(
        "vpc_id",
        "VPC",
        "VPC the stack runs in.",
        parameter="VpcId",
        pattern=r"vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?",
        allowed="a VPC id such as vpc-0123456789abcdef0",
        required=True,
    ),
    Spec(
        "subnet_ids",
        "Subnets for the push nodes",
        "Public subnets, in at least two availability zones, for the load "
        "balancers and the push nodes, with a "
        "route to the internet, as nodes fetch packages and images at boot (the "
        "nodes get a public IP). " + LIST_HINT,
        parameter_help="Public subnets, in two zones or more, of the load balancers and nodes.",
        kind="list",
        parameter="SubnetIds",
        pattern=SUBNET_PATTERN,
        allowed="subnet ids such as subnet-0123456789abcdef0",
        min_items=2,
        max_items=PUBLIC_SUBNETS_MAX,
        max_items_why="a load balancer takes one subnet per availability zone, "
        f"and no region has more than {PUBLIC_SUBNETS_MAX}",
        required=True,
    ),
    Spec(
        "log_processing",
        "Log processing",
        "What happens to the push nodes' logs.",
        kind="choice",
        choices=LOG_PROCESSING_CHOICES,
        default="none",
    ),
    Spec(
        "private_subnet_ids",
        "Private subnets",
        "Private subnets for the processor Lambda and Redis. The processor reads its "
        "settings and the logs from S3, and needs no other AWS service: the stack adds "
        "an S3 gateway endpoint to these subnets' route tables (below), unless the VPC "
        "has one. " + LIST_HINT,
        parameter_help="Private subnets of the processor Lambda and Redis.",
        kind="list",
        parameter="PrivateSubnetIds",
        pattern=SUBNET_PATTERN,
        allowed="subnet ids such as subnet-0123456789abcdef0",
        min_items=1,
        max_items=PRIVATE_SUBNETS_MAX,
        max_items_why=f"a Lambda function takes at most {PRIVATE_SUBNETS_MAX} subnets",
        required=True,
        only_for="processor",
    ),
    Spec(
        "private_route_table_ids",
        "Private route tables",
        "Route tables of the private subnets and of the Messages API subnet: the stack "
        "adds an S3 gateway endpoint to them (free; S3 traffic of every subnet using "
        "them then goes through it). In the VPC console, each subnet's Route table tab "
        "names it; a subnet with none listed uses the VPC's main route table. "
        "Not needed when the VPC already has an S3 endpoint. " + LIST_HINT,
        parameter_help="The private subnets' route tables; the stack adds an S3 endpoint.",
        kind="list",
        parameter="PrivateRouteTableIds",
        pattern=r"rtb-[0-9a-f]{8}(?:[0-9a-f]{9})?",
        allowed="route table ids such as rtb-0123456789abcdef0",
        min_items=1,
        max_items=ROUTE_TABLES_MAX,
        max_items_why="one for each private subnet and the Messages API subnet",
        required=True,
        only_for="processor",
    ),
    Spec(
        "existing_s3_endpoint",
        "S3 endpoint exists already",
        "The private subnets' route tables already have an S3 gateway endpoint: the "
        "stack creates none (a second one on the same route table fails).",
        kind="bool",
        default=False,
        only_for="processor",
    ),
    Spec(
        "messages_api_cidr",
        "Messages API network",
        "Network (CIDR) allowed to reach the Push Messages API, which has no "
        "authentication. Leave empty to keep it internal: its load balancer then "
        "has private addresses only, reachable from the VPC and networks routed to it.",
        parameter_help="The one network allowed to reach the Messages API (no authentication).",
        parameter="MessagesApiCidr",
        pattern=CIDR_PATTERN,
        allowed=CIDR_ALLOWED,
        only_for="processor",
    ),
    Spec(
        "messages_api_subnet_id",
        "Messages API subnet",
        "Subnet of the Push Messages API nodes: in the VPC, in an availability "
        "zone of the push nodes' subnets (its load balancer is there), able to "
        "reach Redis and, for the first copy of its image from Docker Hub, the internet "
        "(a NAT gateway). Once copied, VPC endpoints for ECR (ecr.api, ecr.dkr), "
        "CloudFormation and ElastiCache, with the S3 endpoint on its route table, "
        "would do instead.",
        parameter_help="Messages API nodes' subnet: reaches Redis and the internet.",
        parameter="MessagesApiSubnetId",
        pattern=SUBNET_PATTERN,
        allowed="a subnet id such as subnet-0123456789abcdef0",
        required=True,
        only_for="processor",
    ),
    Spec(
        "processor_code_bucket",
        "Processor code bucket",
        "S3 bucket, in the stack's region, holding the processor Lambda's zip. "
        "Leave empty for pushstack's artifacts bucket (pushstack-artifacts-<account>-"
        "<region>), where the wizard uploads the zip it builds.",
        parameter_help="Empty: pushstack-artifacts-<account>-<region>.",
        parameter="ProcessorCodeBucket",
        pattern=S3_BUCKET_PATTERN,
        allowed="an S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-'",
        empty_allowed=True,
        only_for="processor",
    ),
    Spec(
        "processor_code_key",
        "Processor code key",
        "Key of the processor Lambda's zip in that bucket. The default names the "
        "zip this pushstack builds (pushstack processor-zip).",
        parameter_help="Key of the processor Lambda's zip in that bucket.",
        parameter="ProcessorCodeKey",
        pattern=r"[A-Za-z0-9!_.*'()/-]+\.zip",
        allowed="an S3 key ending in .zip, made of letters, digits and !_.*'()/-",
        max_length=1024,
        default=_processor_code_key_default(),
        only_for="processor",
    ),
    *_size_specs("connection", "Connection nodes"),
    *_size_specs("endpoint", "Endpoint nodes"),
    *_size_specs("messages_api", "Messages API nodes", only_for="processor"),
    Spec(
        "redis_node_type",
        "Redis node type",
        "ElastiCache node type of the Redis cluster.",
        kind="choice",
        parameter="RedisNodeType",
        choices=CACHE_NODE_TYPES,
        default="cache.t3.micro",
        only_for="processor",
    ),
    Spec(
        "autopush_image",
        "Autopush image",
        "Container image of autopush, run by connection and endpoint nodes.",
        parameter="AutopushImage",
        pattern=IMAGE_PATTERN,
        allowed="a container image reference such as mozilla/autopush:1.57.0",
        max_length=255,
        default="mozilla/autopush:1.57.0",
        only_engine=LEGACY,
    ),
    *_engine_image_specs(),
    Spec(
        "store_node_type",
        "Push store node type",
        "ElastiCache (Valkey) node type of the store where autopush-rs keeps "
        "subscriptions and waiting messages.",
        kind="choice",
        parameter="StoreNodeType",
        choices=CACHE_NODE_TYPES,
        default="cache.t3.small",
        only_engine=RS,
    ),
    Spec(
        "store_single_node",
        "Push store without replica",
        "One store node only, for trials: half the store's cost, but if its node fails "
        "the service stops until ElastiCache replaces it, and changes since the last "
        "daily snapshot are lost. Without this, a replica in a second availability zone "
        "takes over on its own.",
        kind="bool",
        default=False,
        only_engine=RS,
    ),
    Spec(
        "messages_api_image",
        "Messages API image",
        "Container image of the Push Messages API.",
        parameter="MessagesApiImage",
        pattern=IMAGE_PATTERN,
        allowed="a container image reference such as mozilla/push-messages:0.7",
        max_length=255,
        default="mozilla/push-messages:0.7",
        only_for="processor",
    ),
    Spec(
        "certificate_arn",
        "TLS certificate (ACM ARN)",
        "ACM certificate for the load balancers. With one, clients use wss:// "
        "and https://; without, plain ws:// and http://.",
        parameter_help="ACM certificate of the load balancers (wss:// and https://).",
        parameter="CertificateArn",
        pattern=r"arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}",
        allowed="an ACM certificate ARN, as the ACM console shows it (ending in :certificate/<id>)",
    ),
    _hostname_spec(
        "endpoint_hostname", "Endpoint host name", "the push endpoints", "updates.example.com"
    ),
    _hostname_spec(
        "websocket_hostname", "WebSocket host name", "the WebSocket service", "push.example.com"
    ),
    _hostname_spec(
        "messages_api_hostname",
        "Messages API host name",
        "the Messages API",
        "messages.example.com",
        "processor",
    ),
    Spec(
        "hosted_zone_id",
        "Route 53 hosted zone",
        "Public hosted zone id (such as Z0123456789ABCDEFGHIJ) in which the stack "
        "creates alias records for the host names above. Leave empty to create "
        "the DNS records yourself.",
        parameter_help="Public hosted zone of the host names' alias records.",
        parameter="HostedZoneId",
        pattern=r"Z[A-Z0-9]{1,31}",
        allowed="a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ",
    ),
    Spec(
        "ami_id",
        "Pinned AMI",
        "Amazon Linux 2023 AMI id the nodes run, such as ami-0123456789abcdef0. Leave "
        "empty to follow the current one: then any update made after Amazon publishes a "
        "new AMI replaces every node, one at a time, and their clients reconnect. Pinned, "
        "nodes are replaced only when you change this id.",
        parameter_help="AMI id of the nodes (pinned); an x86_64 Amazon Linux 2023 AMI.",
        parameter="AmiId",
        pattern=r"ami-[0-9a-f]{8}(?:[0-9a-f]{9})?",
        allowed="an AMI id such as ami-0123456789abcdef0",
    ),
    Spec(
        "key_name",
        "SSH key pair",
        "EC2 key pair for SSH to the nodes. Leave empty to use Session Manager only.",
        parameter="KeyName",
        pattern=r"[ -~]+",
        allowed="an EC2 key pair name (printable ASCII, at most 255 characters)",
        max_length=255,
    ),
    Spec(
        "ssh_cidr",
        "SSH admin network",
        "Network (CIDR) allowed to SSH to the nodes; needed with a key pair.",
        parameter="SshCidr",
        # Nothing wider than /8: the template's AllowedPattern refuses it too.
        pattern=CIDR_PATTERN,
        allowed=CIDR_ALLOWED,
    ),
]

SPECS: dict[str, Spec] = {spec.name: spec for spec in _SPEC_LIST}

HOSTNAME_OPTIONS = ("endpoint_hostname", "websocket_hostname", "messages_api_hostname")
# Options whose parameter exists only when they are given.
OPTIONAL_SHAPES = (*HOSTNAME_OPTIONS, "hosted_zone_id", "messages_api_cidr", "ami_id")

# Not asked for: derived from the crypto key (Options.crypto_key_revision).
CRYPTO_KEY_REVISION = Spec(
    "crypto_key_revision",
    "Crypto key revision",
    "Fingerprint of the crypto key (not the key); the wizard and the command "
    "line compute it. By hand: any 12 hexadecimal digits, changed whenever the "
    "key changes. A new value replaces the nodes, so that all of them read the new key.",
    parameter_help="Crypto key fingerprint (not the key); a new one replaces the nodes.",
    parameter="CryptoKeyRevision",
    pattern=r"[0-9a-f]{12}",
    allowed="12 hexadecimal digits, as the wizard and the command line compute them",
)


class OptionsError(ValueError):
    """Bad options: ``errors`` maps each bad option name to what is allowed."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in self.errors.items()))


def _default(name: str) -> object:
    return SPECS[name].default


@dataclass(frozen=True)
class Options:
    """A deployment, every value checked against its spec."""

    stack_name: str = _default("stack_name")
    region: str = _default("region")
    crypto_key: str = field(default="", repr=False)
    table_prefix: str = _default("table_prefix")
    reuse_tables: bool = _default("reuse_tables")
    vpc_id: str | None = _default("vpc_id")
    subnet_ids: tuple[str, ...] = ()
    log_processing: str = _default("log_processing")
    engine: str = _default("engine")
    private_subnet_ids: tuple[str, ...] = ()
    private_route_table_ids: tuple[str, ...] = ()
    existing_s3_endpoint: bool = _default("existing_s3_endpoint")
    messages_api_cidr: str | None = _default("messages_api_cidr")
    messages_api_subnet_id: str | None = _default("messages_api_subnet_id")
    processor_code_bucket: str | None = _default("processor_code_bucket")
    processor_code_key: str = _default("processor_code_key")
    connection_instance_type: str = _default("connection_instance_type")
    connection_min_size: int = _default("connection_min_size")
    connection_max_size: int = _default("connection_max_size")
    connection_desired_capacity: int = _default("connection_desired_capacity")
    endpoint_instance_type: str = _default("endpoint_instance_type")
    endpoint_min_size: int = _default("endpoint_min_size")
    endpoint_max_size: int = _default("endpoint_max_size")
    endpoint_desired_capacity: int = _default("endpoint_desired_capacity")
    messages_api_instance_type: str = _default("messages_api_instance_type")
    messages_api_min_size: int = _default("messages_api_min_size")
    messages_api_max_size: int = _default("messages_api_max_size")
    messages_api_desired_capacity: int = _default("messages_api_desired_capacity")
    redis_node_type: str = _default("redis_node_type")
    autoconnect_image: str | None = _default("autoconnect_image")
    autoendpoint_image: str | None = _default("autoendpoint_image")
    store_node_type: str = _default("store_node_type")
    store_single_node: bool = _default("store_single_node")
    autopush_image: str = _default("autopush_image")
    messages_api_image: str = _default("messages_api_image")
    certificate_arn: str | None = _default("certificate_arn")
    endpoint_hostname: str | None = _default("endpoint_hostname")
    websocket_hostname: str | None = _default("websocket_hostname")
    messages_api_hostname: str | None = _default("messages_api_hostname")
    hosted_zone_id: str | None = _default("hosted_zone_id")
    ami_id: str | None = _default("ami_id")
    key_name: str | None = _default("key_name")
    ssh_cidr: str | None = _default("ssh_cidr")

    @property
    def firehose(self) -> bool:
        return self.log_processing in ("firehose", "processor")

    @property
    def rs(self) -> bool:
        return self.engine == RS

    @property
    def builds_images(self) -> bool:
        """Whether the stack builds autopush-rs's images (none were given)."""
        return self.rs and not (self.autoconnect_image and self.autoendpoint_image)

    @property
    def processor(self) -> bool:
        return self.log_processing == "processor"

    @property
    def s3_endpoint(self) -> bool:
        """Whether the stack adds an S3 gateway endpoint to the private route tables."""
        return self.processor and not self.existing_s3_endpoint

    @property
    def tls(self) -> bool:
        return bool(self.certificate_arn)

    @property
    def ssh(self) -> bool:
        return bool(self.key_name)

    @property
    def messages_api_public(self) -> bool:
        """Whether the Messages API's load balancer faces the internet (for one network)."""
        return self.processor and bool(self.messages_api_cidr)

    @property
    def dns_records(self) -> bool:
        """Whether the stack creates the host names' records in a hosted zone."""
        return bool(self.hosted_zone_id)

    def vcpus(self, size: str = "desired_capacity") -> int:
        """vCPUs the node groups run at one size (desired_capacity or max_size)."""
        groups = ["connection", "endpoint"] + (["messages_api"] if self.processor else [])
        return sum(
            INSTANCE_VCPUS[getattr(self, f"{group}_instance_type")]
            * getattr(self, f"{group}_{size}")
            for group in groups
        )

    @property
    def crypto_key_revision(self) -> str:
        """A fingerprint of the key list that reveals nothing of the keys."""
        return hashlib.sha256(self.crypto_key.encode()).hexdigest()[:12] if self.crypto_key else ""

    @property
    def crypto_keys(self) -> list[str]:
        return self.crypto_key.split(",") if self.crypto_key else []

    def table_name(self, table: str) -> str:
        return self.table_prefix + TABLE_SUFFIXES[table]

    def applies(self, name: str) -> bool:
        """Whether an option matters for this deployment's shape."""
        spec = SPECS[name]
        if spec.only_for and spec.only_for != self.log_processing:
            return False
        if spec.only_engine and spec.only_engine != self.engine:
            return False
        if name in ("autoconnect_image", "autoendpoint_image"):
            return not self.builds_images
        if name == "certificate_arn":
            return self.tls
        if name in ("key_name", "ssh_cidr"):
            return self.ssh
        if name == "private_route_table_ids":
            return not self.existing_s3_endpoint
        if name in OPTIONAL_SHAPES:  # each changes what the template creates when given
            return bool(getattr(self, name))
        return True

    def missing_for_deploy(self) -> dict[str, str]:
        """Options a deployment needs that are still empty, with what to give."""
        return {
            name: _required(spec)
            for name, spec in SPECS.items()
            if spec.required and self.applies(name) and not getattr(self, name)
        }

    def non_secret_values(self) -> dict[str, object]:
        """Every option but the crypto key, for share links and logs."""
        values = dataclasses.asdict(self)
        values.pop("crypto_key")
        return values


def generate_crypto_key() -> str:
    return Fernet.generate_key().decode("ascii")


def generate_table_prefix() -> str:
    return "autopush_" + secrets.token_hex(4)


def _is_fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32
    except (binascii.Error, ValueError):
        return False


def split_list(raw: object) -> tuple[str, ...]:
    """Items of a list option given as a list, or text split on commas and line breaks."""
    if isinstance(raw, list | tuple):
        items = [str(item) for item in raw]
    else:
        items = re.split(r"[,\s]+", str(raw or ""))
    return tuple(item.strip() for item in items if item.strip())


def parse_value(spec: Spec, raw: object) -> object:
    """One option's value from what the user gave; ``ValueError`` says what is allowed."""
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw or "").strip().lower()
        if text in ("1", "true", "yes", "on", "y"):
            return True
        if text in ("", "0", "false", "no", "off", "n"):
            return False
        raise ValueError("Must be yes or no.")
    if spec.kind == "list":
        items = split_list(raw)
        _check_count(spec, len(items), "items")
        for item in items:
            if not re.fullmatch(spec.pattern, item):
                raise ValueError(f"'{_shorten(item)}' is not valid: give {spec.allowed}.")
        if len(set(items)) != len(items):
            what = "route table" if items[0].startswith("rtb-") else "subnet"
            raise ValueError(f"Each {what} may be listed only once.")
        if items and spec.min_items and len(items) < spec.min_items:
            raise ValueError(f"Give at least {spec.min_items}, in different availability zones.")
        return items
    text = "" if raw is None else str(raw).strip()
    if spec.kind == "int":
        if not text:
            return spec.default
        try:
            number = int(text)
        except ValueError:
            raise ValueError(
                f"Must be a whole number from {spec.min_value} to {spec.max_value}."
            ) from None
        if not spec.min_value <= number <= spec.max_value:
            raise ValueError(f"Must be from {spec.min_value} to {spec.max_value}.")
        return number
    if not text:
        return spec.default
    if spec.kind == "choice":
        if text not in spec.choices:
            raise ValueError(f"Must be one of: {', '.join(spec.choices)}.")
        return text
    if spec.kind == "secret":
        text = re.sub(r"\s+", "", text)
        keys = text.split(",")
        _check_count(spec, len(keys), "keys")
        if not all(re.fullmatch(spec.pattern, key) and _is_fernet_key(key) for key in keys):
            # Never quote the value back: it is a secret.
            raise ValueError(f"Not a valid key list: give {spec.allowed}.")
        if len(set(keys)) != len(keys):
            raise ValueError("The same key is listed twice.")
        return text
    if spec.min_length and len(text) < spec.min_length:
        raise ValueError(f"Too short: give {spec.allowed}.")
    if spec.max_length and len(text) > spec.max_length:
        raise ValueError(f"Too long: give {spec.allowed}.")
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise ValueError(f"'{_shorten(text)}' is not valid: give {spec.allowed}.")
    return text


def _check_count(spec: Spec, count: int, what: str) -> None:
    """Refuse more items than the stack takes, before looking at each one."""
    if spec.max_items and count > spec.max_items:
        raise ValueError(
            f"Too many {what} ({count}): give at most {spec.max_items}, as {spec.max_items_why}."
        )


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cross_checks(values: dict[str, object]) -> dict[str, str]:
    """Rules that tie several options together; keyed by the option to fix."""
    errors: dict[str, str] = {}
    for group in ("connection", "endpoint", "messages_api"):
        low = values.get(f"{group}_min_size")
        high = values.get(f"{group}_max_size")
        want = values.get(f"{group}_desired_capacity")
        if None in (low, high, want):
            continue
        if low >= high:
            # A rolling update keeps the minimum in service while it adds a new
            # node, which CloudFormation allows only below the maximum.
            errors[f"{group}_max_size"] = (
                "Must be above the minimum, so that updates can replace nodes one at a time."
            )
        elif not low <= want <= high:
            errors[f"{group}_desired_capacity"] = "Must be between the minimum and the maximum."
    if values.get("engine") == RS and values.get("log_processing") in ("firehose", "processor"):
        # autopush-rs logs JSON lines to its standard output; it has no Firehose
        # sender and logs none of the deliveries the processor counts.
        errors["log_processing"] = (
            "autopush-rs cannot feed this: it writes its logs to the nodes' journal, not "
            "to Firehose, and does not log the deliveries the processor counts. Choose "
            '"none", or the autopush-legacy engine.'
        )
    if values.get("engine") == RS:
        images = [n for n in ("autoconnect_image", "autoendpoint_image") if values.get(n)]
        if not images and values.get("region") in NO_CODEBUILD_REGIONS:
            errors["autoconnect_image"] = (
                f"CodeBuild, which builds the images, is not offered in {values['region']}: "
                "give both images (built by a stack in another region, for instance)."
            )
        if len(images) == 1:
            other = ({"autoconnect_image", "autoendpoint_image"} - set(images)).pop()
            errors[other] = (
                "Give both images, or neither (the stack then builds both from "
                f"autopush-rs {AUTOPUSH_RS_VERSION})."
            )
    if values.get("key_name") and not values.get("ssh_cidr"):
        errors["ssh_cidr"] = "Give the admin network allowed to SSH with this key pair."
    if values.get("ssh_cidr") and not values.get("key_name"):
        errors["key_name"] = "Give the key pair to use with the SSH admin network."
    certificate = values.get("certificate_arn")
    if certificate and values.get("region") and certificate.split(":")[3] != values["region"]:
        # A load balancer takes only a certificate of its own region.
        errors["certificate_arn"] = (
            f"This certificate is in {certificate.split(':')[3]}; the stack is in "
            f"{values['region']}: give a certificate of {values['region']} (or request one there in ACM)."
        )
    for name in ("ssh_cidr", "messages_api_cidr"):
        cidr = values.get(name)
        if cidr and name not in errors:
            try:
                network = ipaddress.IPv4Network(cidr, strict=False)
            except ValueError:
                errors[name] = f"Not an IPv4 network: give {SPECS[name].allowed}."
            else:
                if str(network.network_address) != cidr.split("/")[0]:
                    errors[name] = f"Not a network address: host bits are set (try {network})."
    processor = values.get("log_processing") == "processor"
    names = [n for n in HOSTNAME_OPTIONS if processor or not SPECS[n].only_for]
    for reason, why in (
        ("certificate_arn", "Give the host name the TLS certificate covers: clients check it."),
        ("hosted_zone_id", "Give the host name to create in the hosted zone."),
    ):
        if values.get(reason):
            for name in names:
                if not values.get(name):
                    errors.setdefault(name, why)
    return errors


def _required(spec: Spec) -> str:
    return f"Required: {spec.allowed}."


def from_input(
    data: Mapping[str, object], *, fill_secrets: bool = True, require_deploy: bool = False
) -> Options:
    """Options from user input (form, CLI, query string), all errors at once.

    Empty crypto key and table prefix are generated when ``fill_secrets``.
    With ``require_deploy``, the options a deployment needs (VPC, subnets, ...)
    must be given too. Raises ``OptionsError`` naming every bad option.
    """
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    try:
        log_processing = parse_value(SPECS["log_processing"], data.get("log_processing"))
    except ValueError:
        log_processing = None
    try:
        engine = parse_value(SPECS["engine"], data.get("engine"))
    except ValueError:
        engine = None
    for name, spec in SPECS.items():
        if spec.only_for and spec.only_for != log_processing:
            continue  # belongs to another log-processing choice: ignored, as the form hides it
        if spec.only_engine and engine and spec.only_engine != engine:
            continue  # belongs to the other engine: ignored
        raw = data.get(name)
        try:
            value = parse_value(spec, raw)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if value is not None:
            values[name] = value
    for name, message in _cross_checks(values).items():
        errors.setdefault(name, message)
    if require_deploy:
        for name, spec in SPECS.items():
            if spec.only_engine not in (None, engine):
                continue
            if name == "private_route_table_ids" and values.get("existing_s3_endpoint"):
                continue  # no endpoint to add
            if spec.required and spec.only_for in (None, log_processing) and not values.get(name):
                errors.setdefault(name, _required(spec))
    if values.get("reuse_tables"):
        # Reused tables are only readable with the prefix and key that wrote them,
        # so check before generating new ones.
        for name, what in (("table_prefix", "prefix"), ("crypto_key", "crypto key")):
            if name not in values:
                errors.setdefault(
                    name, f"Give the {what} of the earlier deployment whose tables you reuse."
                )
    if errors:
        raise OptionsError(errors)
    if fill_secrets:
        values.setdefault("crypto_key", generate_crypto_key())
        values.setdefault("table_prefix", generate_table_prefix())
    return Options(**values)
