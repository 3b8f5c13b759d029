"""What the form can offer from the account: VPCs, subnets (public or private), key pairs,
issued certificates, public hosted zones."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from pushstack.cloud.errors import CloudError
from pushstack.cloud.views import AccountChoices, Certificate, HostedZone, Subnet, Vpc

Call = Callable[..., dict]
Pages = Callable[..., Iterator[dict]]


def choices(call: Call, pages: Pages) -> AccountChoices:
    """Read the account's choices with ``call(service, operation, **kwargs)`` and
    ``pages(service, operation, key, **kwargs)``.

    VPCs and subnets must be readable; key pairs and certificates that are not
    leave a line in ``problems`` and the rest is still offered.
    """
    vpcs = [
        Vpc(
            vpc_id=item["VpcId"],
            cidr=item.get("CidrBlock", ""),
            name=_name_tag(item),
            is_default=bool(item.get("IsDefault")),
        )
        for item in pages("ec2", "describe_vpcs", "Vpcs")
    ]
    tables = list(pages("ec2", "describe_route_tables", "RouteTables"))
    subnets = [
        Subnet(
            subnet_id=item["SubnetId"],
            vpc_id=item.get("VpcId", ""),
            zone=item.get("AvailabilityZone", ""),
            public=is_public(item, tables),
            cidr=item.get("CidrBlock", ""),
            name=_name_tag(item),
            internet=internet_route(item, tables),
            route_table=(route_table(item, tables) or {}).get("RouteTableId", ""),
        )
        for item in pages("ec2", "describe_subnets", "Subnets")
    ]
    problems = []
    key_pairs: list[str] = []
    certificates: list[Certificate] = []
    try:
        reply = call("ec2", "describe_key_pairs")
        key_pairs = [item["KeyName"] for item in reply.get("KeyPairs") or ()]
    except CloudError as error:
        problems.append(f"The key pairs could not be read: {error.message}")
    try:
        certificates = [
            Certificate(
                arn=item["CertificateArn"],
                domain=item.get("DomainName", ""),
                status=item.get("Status", "ISSUED"),
            )
            for item in pages(
                "acm", "list_certificates", "CertificateSummaryList", CertificateStatuses=["ISSUED"]
            )
        ]
    except CloudError as error:
        problems.append(f"The certificates could not be read: {error.message}")
    zones: list[HostedZone] = []
    try:
        zones = [
            HostedZone(zone_id=item["Id"].rsplit("/", 1)[-1], name=item["Name"].rstrip("."))
            for item in pages("route53", "list_hosted_zones", "HostedZones", page_param="Marker")
            if not (item.get("Config") or {}).get("PrivateZone")
        ]
    except CloudError as error:
        problems.append(f"The hosted zones could not be read: {error.message}")
    return AccountChoices(
        vpcs=tuple(sorted(vpcs, key=lambda v: (not v.is_default, v.name, v.vpc_id))),
        subnets=tuple(sorted(subnets, key=lambda s: (s.vpc_id, not s.public, s.zone, s.subnet_id))),
        key_pairs=tuple(sorted(key_pairs)),
        certificates=tuple(certificates),
        hosted_zones=tuple(sorted(zones, key=lambda z: z.name)),
        problems=tuple(problems),
    )


def _name_tag(item: Mapping) -> str:
    for tag in item.get("Tags") or ():
        if tag.get("Key") == "Name":
            return tag.get("Value", "")
    return ""


def is_public(subnet: Mapping, tables: list[Mapping]) -> bool:
    """Whether the subnet's route table (its own, else the VPC's main one) sends
    0.0.0.0/0 to an internet gateway."""
    return internet_route(subnet, tables) == "internet gateway"


def route_table(subnet: Mapping, tables: list[Mapping]) -> Mapping | None:
    """The subnet's route table: its own, else the VPC's main one (None if unreadable)."""
    own = main = None
    for table in tables:
        for association in table.get("Associations") or ():
            if association.get("SubnetId") == subnet["SubnetId"]:
                own = table
            if association.get("Main") and table.get("VpcId") == subnet.get("VpcId"):
                main = table
    return own or main


def internet_route(subnet: Mapping, tables: list[Mapping]) -> str:
    """Where the subnet's route table (its own, else the VPC's main one) sends 0.0.0.0/0:
    "internet gateway" (a public subnet), "NAT gateway", "other" (an appliance, a
    peering...) or "" (no way out). Without any route table readable, the subnet's
    public-IP default stands in: "internet gateway" or ""."""
    table = route_table(subnet, tables)
    if table is None:
        return "internet gateway" if subnet.get("MapPublicIpOnLaunch") else ""
    for route in table.get("Routes") or ():
        if route.get("DestinationCidrBlock") != "0.0.0.0/0":
            continue
        if route.get("State") == "blackhole":
            continue
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "internet gateway"
        if route.get("NatGatewayId"):
            return "NAT gateway"
        return "other"
    return ""
