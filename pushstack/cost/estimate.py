"""A monthly cost estimate of a rendered CloudFormation template.

It walks the template's resources, not the options, so a resource type that a
new template piece adds is priced as soon as this module knows the type, and
is listed as "not priced" (never silently dropped) until then. Amounts are
list prices from the dated snapshot times what the template fixes (instance
types, node counts, desired capacity) and the stated usage assumptions
(``Assumptions``) for what only traffic decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from pushstack.cost.offers import ELASTICACHE_ITEM
from pushstack.cost.prices import Snapshot, snapshot


@dataclass(frozen=True)
class Assumptions:
    """Usage the template cannot know, stated next to every estimate."""

    hours_per_month: float = 730
    dynamodb_writes_million: float = 10  # per table, per month
    dynamodb_reads_million: float = 30
    dynamodb_storage_gb: float = 1
    data_out_gb: float = 100  # the nodes' answers to the internet
    load_balancer_lcu: float = 1  # average capacity units in use each hour
    log_gb: float = 10  # log records through Firehose into S3, per month
    log_bucket_gb: float = 10  # stored in the log bucket
    lambda_invocations: float = 10_000  # per function, per month
    lambda_seconds: float = 1  # average run time of one invocation
    cloudwatch_logs_gb: float = 0.5  # per log group, per month
    nat_gb: float = 10
    build_minutes: float = 30  # one image build
    builds_a_month: float = 0  # builds run at the first create and at each new release only
    image_gb: float = 1  # per container repository
    queue_requests_million: float = 1

    def described(self) -> list[str]:
        """The assumptions in words, as the page and the command line print them."""
        a = self
        return [
            f"Every resource runs all month: {a.hours_per_month:g} hours; on-demand prices, "
            "no free tier, savings plans or taxes counted.",
            f"Node groups run at their desired capacity; each load balancer uses "
            f"{a.load_balancer_lcu:g} capacity unit an hour on average.",
            f"Each DynamoDB table: {a.dynamodb_writes_million:g} million writes and "
            f"{a.dynamodb_reads_million:g} million reads a month, {a.dynamodb_storage_gb:g} GB stored.",
            f"{a.data_out_gb:g} GB a month sent to the internet.",
            f"Logs: {a.log_gb:g} GB a month through Firehose, {a.log_bucket_gb:g} GB kept in the "
            f"log bucket, {a.cloudwatch_logs_gb:g} GB a month per CloudWatch log group.",
            f"Each Lambda function: {a.lambda_invocations:,.0f} runs a month of "
            f"{a.lambda_seconds:g} s each; one that only serves a custom resource runs only "
            "when the stack changes.",
            f"NAT gateways: {a.nat_gb:g} GB a month; image builds: {a.build_minutes:g} minutes "
            f"each, {a.builds_a_month:g} a month (one runs at the first create and at each new "
            f"release), {a.image_gb:g} GB per image repository; queues: "
            f"{a.queue_requests_million:g} million requests a month.",
        ]

    def with_values(self, values: Mapping[str, float]) -> Assumptions:
        names = {f.name for f in fields(self)}
        return Assumptions(**{**self.__dict__, **{k: v for k, v in values.items() if k in names}})


@dataclass(frozen=True)
class Line:
    """One priced resource (or the stack's data transfer): what it is and its monthly cost."""

    logical_id: str
    resource_type: str
    what: str
    monthly_usd: float


@dataclass(frozen=True)
class NotPriced:
    logical_id: str
    resource_type: str
    reason: str


@dataclass(frozen=True)
class Estimate:
    region: str
    prices_as_of: str
    currency: str
    has_prices: bool
    lines: tuple[Line, ...] = ()
    not_priced: tuple[NotPriced, ...] = ()
    free: tuple[str, ...] = ()  # logical ids of resources with no charge of their own
    assumptions: tuple[str, ...] = ()
    message: str = ""  # why there is no figure (a region without prices)

    @property
    def total(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    def as_dict(self) -> dict:
        return {
            "region": self.region,
            "prices_as_of": self.prices_as_of,
            "currency": self.currency,
            "has_prices": self.has_prices,
            "total": self.total,
            "lines": [line.__dict__ for line in self.lines],
            "not_priced": [item.__dict__ for item in self.not_priced],
            "assumptions": list(self.assumptions),
            "message": self.message,
        }


# Resource types that cost nothing of their own (their use is charged elsewhere).
FREE_TYPES = frozenset({
    "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::LaunchTemplate", "AWS::EC2::Subnet", "AWS::EC2::VPC", "AWS::EC2::RouteTable",
    "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::InternetGateway",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::InstanceProfile",
    "AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ElasticLoadBalancingV2::ListenerCertificate",
    "AWS::AutoScaling::ScalingPolicy", "AWS::AutoScaling::LifecycleHook",
    "AWS::SSM::Parameter",  # standard parameters
    "AWS::ElastiCache::SubnetGroup", "AWS::ElastiCache::ParameterGroup",
    "AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig",
    "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::ResourcePolicy", "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::Route53::RecordSet",  # queries are billed to the hosted zone, outside the stack
    "AWS::ECR::RepositoryPolicy", "AWS::ECR::LifecyclePolicy",
    "AWS::CloudFormation::CustomResource", "AWS::CloudFormation::WaitCondition",
    "AWS::CloudFormation::WaitConditionHandle",
})  # fmt: skip


class _Unresolved(Exception):
    """A value CloudFormation computes at deploy time: the estimate cannot read it."""


class _NoPrice(Exception):
    def __init__(self, item: str):
        self.item = item


class _Walker:
    def __init__(self, template: dict, parameters: Mapping[str, str], region: str, prices, a):
        self.resources = template.get("Resources", {})
        self.values = {
            name: spec["Default"]
            for name, spec in template.get("Parameters", {}).items()
            if "Default" in spec
        }
        self.values.update(parameters)
        self.region = region
        self.prices = prices
        self.a = a
        self.service_tokens = {
            ref
            for resource in self.resources.values()
            if resource["Type"] == "AWS::CloudFormation::CustomResource"
            or resource["Type"].startswith("Custom::")
            for ref in [_getatt_target(resource.get("Properties", {}).get("ServiceToken"))]
            if ref
        }

    def value(self, node, default=None):
        """A property's value with Ref to a parameter resolved; anything computed raises."""
        if node is None:
            if default is None:
                raise _Unresolved
            return default
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in self.values:
                return self.values[node["Ref"]]
            raise _Unresolved
        return node

    def usd(self, item: str) -> float:
        price = self.prices.get(self.region, item)
        if price is None:
            raise _NoPrice(item)
        return price.usd


def _getatt_target(node) -> str | None:
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


def _money(x: float) -> str:
    return f"${x:,.2f}"


Priced = tuple[str, float]  # (what it is, in words; monthly USD)


def _instances(w: _Walker, data: dict, count: int, label: str) -> Priced:
    """Instance-hours, root volumes and public addresses of ``count`` like instances."""
    instance_type = w.value(data.get("InstanceType"))
    hours = w.a.hours_per_month
    total = count * hours * w.usd(f"ec2:{instance_type}")
    words = f"{count} × {instance_type}{label}, {hours:g} h"
    gb = 0
    for mapping in data.get("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs") or {}
        size = float(w.value(ebs.get("VolumeSize"), 8))
        volume = w.value(ebs.get("VolumeType"), "gp2")
        total += count * size * w.usd(f"ebs:{volume}")
        gb += size
    if gb:
        words += f", {gb:g} GB disk each"
    public = any(
        interface.get("AssociatePublicIpAddress") is True
        for interface in data.get("NetworkInterfaces", [])
    )
    if public:
        total += count * hours * w.usd("vpc:public-ipv4")
        words += ", a public IPv4 address each"
    return words, total


def _auto_scaling_group(w: _Walker, props: dict) -> Priced:
    # Without a desired capacity a group starts at its minimum size.
    count = int(w.value(props.get("DesiredCapacity") or props.get("MinSize")))
    template = props.get("LaunchTemplate") or props.get("MixedInstancesPolicy", {}).get(
        "LaunchTemplate", {}
    ).get("LaunchTemplateSpecification")
    if not template:
        raise _Unresolved
    ref = template.get("LaunchTemplateId") or template.get("LaunchTemplateName")
    if not (isinstance(ref, dict) and "Ref" in ref and ref["Ref"] in w.resources):
        raise _Unresolved
    data = w.resources[ref["Ref"]].get("Properties", {}).get("LaunchTemplateData", {})
    return _instances(w, data, count, " at desired capacity")


def _instance(w: _Walker, props: dict) -> Priced:
    return _instances(w, props, 1, "")


def _load_balancer(w: _Walker, props: dict) -> Priced:
    kind = w.value(props.get("Type"), "application")
    if kind not in ("application", "network"):
        raise _NoPrice(f"elb:{kind}")
    hours, lcu = w.a.hours_per_month, w.a.load_balancer_lcu
    total = hours * (w.usd(f"elb:{kind}") + lcu * w.usd(f"elb:{kind}-lcu"))
    return f"{kind} load balancer, {hours:g} h, {lcu:g} capacity unit an hour", total


def _nat_gateway(w: _Walker, props: dict) -> Priced:
    a = w.a
    total = a.hours_per_month * w.usd("nat:hour") + a.nat_gb * w.usd("nat:gb")
    return f"NAT gateway, {a.hours_per_month:g} h, {a.nat_gb:g} GB processed", total


def _elastic_ip(w: _Walker, props: dict) -> Priced:
    hours = w.a.hours_per_month
    return f"public IPv4 address, {hours:g} h", hours * w.usd("vpc:public-ipv4")


ENGINE_NAMES = {"redis": "Redis OSS", "valkey": "Valkey"}


def _cache_nodes(w: _Walker, props: dict, nodes: int) -> Priced:
    """Node-hours at the price of the resource's engine (Valkey nodes cost less than Redis
    OSS ones of the same type); a replication group without Engine is Redis OSS."""
    node_type = w.value(props.get("CacheNodeType"))
    engine = str(w.value(props.get("Engine"), "redis")).lower()
    if engine not in ELASTICACHE_ITEM:
        raise _NoPrice(f"elasticache-{engine}:{node_type}")
    hours = w.a.hours_per_month
    total = nodes * hours * w.usd(f"{ELASTICACHE_ITEM[engine]}:{node_type}")
    plural = "s" if nodes != 1 else ""
    words = f"{nodes} × {node_type} cache node{plural} ({ENGINE_NAMES[engine]}), {hours:g} h"
    return words, total


def _cache_cluster(w: _Walker, props: dict) -> Priced:
    return _cache_nodes(w, props, int(w.value(props.get("NumCacheNodes"), 1)))


def _replication_group(w: _Walker, props: dict) -> Priced:
    if "NumCacheClusters" in props:
        nodes = int(w.value(props["NumCacheClusters"]))
    elif "NumNodeGroups" in props or "ReplicasPerNodeGroup" in props:
        nodes = int(w.value(props.get("NumNodeGroups"), 1)) * (
            int(w.value(props.get("ReplicasPerNodeGroup"), 0)) + 1
        )
    elif "NodeGroupConfiguration" in props:
        nodes = sum(
            int(w.value(group.get("ReplicaCount"), 0)) + 1
            for group in props["NodeGroupConfiguration"]
        )
    else:
        nodes = 1
    return _cache_nodes(w, props, nodes)


def _db_instance(w: _Walker, props: dict) -> Priced:
    db_class = w.value(props.get("DBInstanceClass"))
    hours = w.a.hours_per_month
    total = hours * w.usd(f"rds:{db_class}")
    storage = float(w.value(props.get("AllocatedStorage"), 0))
    total += storage * w.usd(f"rds-storage:{w.value(props.get('StorageType'), 'gp2')}")
    return f"{db_class} database, {hours:g} h, {storage:g} GB", total


def _delivery_stream(w: _Walker, props: dict) -> Priced:
    gb = w.a.log_gb
    return f"{gb:g} GB of log records a month", gb * w.usd("firehose:gb")


def _bucket(w: _Walker, props: dict) -> Priced:
    gb = w.a.log_bucket_gb
    puts = w.a.hours_per_month * 12  # Firehose writes an object every 5 minutes at most
    total = gb * w.usd("s3:standard") + puts / 1000 * w.usd("s3:put")
    return f"{gb:g} GB stored, {puts:,.0f} objects written a month", total


def _lambda_function(w: _Walker, props: dict, logical_id: str) -> Priced:
    if logical_id in w.service_tokens:
        return "runs only when the stack is created, updated or deleted", 0.0
    memory = float(w.value(props.get("MemorySize"), 128))
    runs, seconds = w.a.lambda_invocations, w.a.lambda_seconds
    gb_seconds = runs * seconds * memory / 1024
    total = runs / 1e6 * w.usd("lambda:requests") + gb_seconds * w.usd("lambda:gb-second")
    return f"{runs:,.0f} runs of {seconds:g} s at {memory:g} MB", total


def _table(w: _Walker, props: dict) -> Priced:
    if w.value(props.get("BillingMode"), "PROVISIONED") != "PAY_PER_REQUEST":
        raise _NoPrice("dynamodb:provisioned-capacity")
    a = w.a
    total = (
        a.dynamodb_writes_million * w.usd("dynamodb:writes")
        + a.dynamodb_reads_million * w.usd("dynamodb:reads")
        + a.dynamodb_storage_gb * w.usd("dynamodb:storage")
    )
    words = (
        f"on demand: {a.dynamodb_writes_million:g} M writes, {a.dynamodb_reads_million:g} M "
        f"reads, {a.dynamodb_storage_gb:g} GB"
    )
    recovery = props.get("PointInTimeRecoverySpecification") or {}
    if w.value(recovery.get("PointInTimeRecoveryEnabled"), False) in (True, "true"):
        total += a.dynamodb_storage_gb * w.usd("dynamodb:pitr")
        words += ", point-in-time recovery"
    return words, total


def _secret(w: _Walker, props: dict) -> Priced:
    return "one secret", w.usd("secretsmanager:secret")


def _queue(w: _Walker, props: dict) -> Priced:
    n = w.a.queue_requests_million
    return f"{n:g} million requests", n * w.usd("sqs:requests")


def _build_project(w: _Walker, props: dict) -> Priced:
    compute = w.value((props.get("Environment") or {}).get("ComputeType"))
    minutes, builds = w.a.build_minutes, w.a.builds_a_month
    one = minutes * w.usd(f"codebuild:{compute}")
    return (
        f"{builds:g} builds a month: one of {minutes:g} minutes on {compute}, "
        f"${one:.2f}, runs at the first create and at each new release",
        builds * one,
    )


def _repository(w: _Walker, props: dict) -> Priced:
    gb = w.a.image_gb
    return f"{gb:g} GB of images", gb * w.usd("ecr:storage")


def _vpc_endpoint(w: _Walker, props: dict) -> Priced:
    """A gateway endpoint (S3, DynamoDB) costs nothing; an interface endpoint is not priced."""
    if w.value(props.get("VpcEndpointType", "Gateway")) != "Gateway":
        raise _NoPrice("vpc:interface-endpoint")
    return "gateway endpoint (no charge)", 0.0


def _log_group(w: _Walker, props: dict) -> Priced:
    gb = w.a.cloudwatch_logs_gb
    return f"{gb:g} GB of logs a month", gb * (w.usd("logs:ingest") + w.usd("logs:storage"))


PRICERS: dict[str, Callable[..., Priced]] = {
    "AWS::AutoScaling::AutoScalingGroup": _auto_scaling_group,
    "AWS::EC2::Instance": _instance,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::EC2::NatGateway": _nat_gateway,
    "AWS::EC2::EIP": _elastic_ip,
    "AWS::ElastiCache::CacheCluster": _cache_cluster,
    "AWS::ElastiCache::ReplicationGroup": _replication_group,
    "AWS::RDS::DBInstance": _db_instance,
    "AWS::KinesisFirehose::DeliveryStream": _delivery_stream,
    "AWS::S3::Bucket": _bucket,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::DynamoDB::Table": _table,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SQS::Queue": _queue,
    "AWS::CodeBuild::Project": _build_project,
    "AWS::ECR::Repository": _repository,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::EC2::VPCEndpoint": _vpc_endpoint,
}


def _internet_facing(resources: dict) -> bool:
    return any(
        resource["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"
        and resource.get("Properties", {}).get("Scheme", "internet-facing") == "internet-facing"
        for resource in resources.values()
    )


def estimate(
    template: dict,
    parameters: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    assumptions: Assumptions | None = None,
    prices: Snapshot | None = None,
) -> Estimate:
    """The monthly cost of ``template`` (a dict) with ``parameters`` in ``region``."""
    prices = prices or snapshot()
    a = assumptions or Assumptions()
    if region not in prices.regions():
        return Estimate(
            region=region,
            prices_as_of=prices.as_of,
            currency=prices.currency,
            has_prices=False,
            assumptions=tuple(a.described()),
            message=(
                f"No prices for {region} in pushstack's price snapshot of {prices.as_of} "
                f"(it has {', '.join(sorted(prices.regions()))}): run scripts/refresh-prices "
                "where AWS's price list is reachable, or see the AWS Pricing Calculator."
            ),
        )
    w = _Walker(template, parameters or {}, region, prices, a)
    lines, not_priced, free = [], [], []
    for logical_id, resource in w.resources.items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        pricer = PRICERS.get(kind)
        if pricer is None:
            if kind in FREE_TYPES or kind.startswith("Custom::"):
                free.append(logical_id)
            else:
                not_priced.append(
                    NotPriced(logical_id, kind, "pushstack does not price this type yet")
                )
            continue
        try:
            if pricer is _lambda_function:
                what, usd = pricer(w, props, logical_id)
            else:
                what, usd = pricer(w, props)
        except _NoPrice as missing:
            not_priced.append(
                NotPriced(
                    logical_id,
                    kind,
                    f"no price for {missing.item} in {region} in the snapshot of {prices.as_of}",
                )
            )
            continue
        except (_Unresolved, ValueError, TypeError):
            not_priced.append(
                NotPriced(logical_id, kind, "its size is computed when the stack is deployed")
            )
            continue
        lines.append(Line(logical_id, kind, what, round(usd, 2)))
    if _internet_facing(w.resources):
        gb = a.data_out_gb
        lines.append(
            Line(
                "(data transfer)",
                "AWS::DataTransfer",
                f"{gb:g} GB a month out to the internet",
                round(gb * w.usd("transfer:out"), 2),
            )
        )
    return Estimate(
        region=region,
        prices_as_of=prices.as_of,
        currency=prices.currency,
        has_prices=True,
        lines=tuple(lines),
        not_priced=tuple(not_priced),
        free=tuple(free),
        assumptions=tuple(a.described()),
    )


def table(est: Estimate) -> str:
    """The estimate as plain text: what ``pushstack cost`` prints."""
    out = [
        f"Monthly cost estimate in {est.region} (prices as of {est.prices_as_of}, {est.currency})"
    ]
    if not est.has_prices:
        return "\n".join([*out, est.message, ""])
    width = max([len(line.logical_id) for line in est.lines] + [8])
    for line in est.lines:
        out.append(f"  {line.logical_id:<{width}}  {_money(line.monthly_usd):>10}  {line.what}")
    out.append(f"  {'Total':<{width}}  {_money(est.total):>10}  a month")
    if est.not_priced:
        out.append("Not priced (not in the total):")
        out += [f"  {n.logical_id} ({n.resource_type}): {n.reason}" for n in est.not_priced]
    if est.free:
        out.append(
            f"No charge of their own: {len(est.free)} resources (security groups, roles, listeners, ...)"
        )
    out.append("Assumptions:")
    out += [f"  - {text}" for text in est.assumptions]
    return "\n".join(out) + "\n"


def difference(before: Estimate, after: Estimate) -> float:
    return round(after.total - before.total, 2)


__all__ = [
    "Assumptions",
    "Estimate",
    "Line",
    "NotPriced",
    "difference",
    "estimate",
    "table",
]
