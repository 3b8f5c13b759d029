"""Each option as a ``Spec``: how it is asked for, checked and passed to CloudFormation,
with the constants its constraints are made of. ``SPECS`` holds them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _required(spec: Spec) -> str:
    return f"Required: {spec.allowed}."
