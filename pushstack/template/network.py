"""Security groups and load balancers."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template, ec2, route53
from troposphere import elasticloadbalancingv2 as elb

from pushstack.options import SPECS, Options
from pushstack.template.common import (
    CONNECTION_PORT,
    ENDPOINT_PORT,
    ROUTER_PORT,
    TLS_POLICY,
    WEBSOCKET_IDLE_TIMEOUT,
    NodeGroup,
    skip_checks,
)


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


def load_balancer_security_group(
    logical_id: str, what: str, opts: Options, *, cidr="0.0.0.0/0", why: str = ""
):
    """Clients to the listener ports: from anywhere, unless a network is named."""
    rules = [
        ingress(port, f"{what} clients ({'HTTPS' if port == 443 else 'HTTP'})", cidr=cidr)
        for port in public_listener_ports(opts)
    ]
    checks = (("CKV_AWS_260", why),) if cidr == "0.0.0.0/0" else ()
    return security_group(
        logical_id, f"{what} load balancer: open to its clients", rules, skip_checks(*checks)
    )


def node_security_group(logical_id: str, description: str, rules: list, opts: Options):
    if opts.ssh:
        rules = [*rules, ingress(22, "SSH from the admin network", cidr=Ref("SshCidr"))]
    return security_group(logical_id, description, rules)


def security_groups(t: Template, opts: Options) -> None:
    t.add_resource(
        security_group(
            "InternalRouterSecurityGroup",
            # Unchanged since the first release: a new GroupDescription replaces the group.
            # Both node groups carry it now (connection nodes call each other too).
            "Endpoint nodes: may reach the internal router port of the connection nodes",
            [],
            skip_checks(("CKV2_AWS_5", "Attached to the push nodes' launch templates.")),
        )
    )
    public = "A public service: clients connect from anywhere."
    t.add_resource(
        load_balancer_security_group(
            "ConnectionLoadBalancerSecurityGroup", "WebSocket", opts, why=public
        )
    )
    t.add_resource(
        load_balancer_security_group(
            "EndpointLoadBalancerSecurityGroup", "Endpoint", opts, why=public
        )
    )
    t.add_resource(
        node_security_group(
            "ConnectionNodeSecurityGroup",
            # (GroupDescription kept as first released: changing it replaces the group.)
            "Connection nodes: WebSocket from their load balancer, router from endpoints",
            [
                ingress(
                    CONNECTION_PORT,
                    "WebSocket from the load balancer",
                    source="ConnectionLoadBalancerSecurityGroup",
                ),
                ingress(
                    ROUTER_PORT,
                    "Internal router, from endpoint and connection nodes",
                    source="InternalRouterSecurityGroup",
                ),
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


def load_balancer(
    t: Template,
    group: NodeGroup,
    opts: Options,
    subnets,
    security_group: str,
    *,
    internal: bool = False,
):
    """An ALB, its target group and listeners (HTTPS when TLS); internet-facing by default."""
    attributes = [
        elb.LoadBalancerAttributes(
            Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
        ),
        elb.LoadBalancerAttributes(
            Key="idle_timeout.timeout_seconds", Value=WEBSOCKET_IDLE_TIMEOUT
        ),
    ]
    checks = [
        ("CKV_AWS_91", "Access logs need a bucket the operator chooses."),
        ("CKV_AWS_150", "A stack delete must delete it."),
        ("CKV2_AWS_28", "A WAF is the operator's choice."),
    ]
    if not opts.tls:
        checks.append(("CKV2_AWS_20", "No certificate given: the operator chose plain HTTP."))
    t.add_resource(
        elb.LoadBalancer(
            f"{group.name}LoadBalancer",
            Type="application",
            Scheme="internal" if internal else "internet-facing",
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
            Matcher=elb.Matcher(HttpCode=group.matcher),
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


def host_name(opts: Options, option: str, load_balancer: str) -> str:
    """The name clients use, as Fn::Sub text: the given host name, or the load balancer's."""
    if getattr(opts, option):
        return "${" + SPECS[option].parameter + "}"
    return "${" + load_balancer + ".DNSName}"


def public_url(opts: Options, option: str, load_balancer: str, secure: str, plain: str) -> Sub:
    scheme = secure if opts.tls else plain
    return Sub(f"{scheme}://{host_name(opts, option, load_balancer)}")


def dns_record(t: Template, opts: Options, option: str, load_balancer: str) -> None:
    """An alias record of a host name to its load balancer, in the given hosted zone."""
    if not (opts.dns_records and getattr(opts, option)):
        return
    t.add_resource(
        route53.RecordSetType(
            f"{SPECS[option].parameter}Record",
            HostedZoneId=Ref("HostedZoneId"),
            Name=Ref(SPECS[option].parameter),
            Type="A",
            AliasTarget=route53.AliasTarget(
                HostedZoneId=GetAtt(load_balancer, "CanonicalHostedZoneID"),
                DNSName=GetAtt(load_balancer, "DNSName"),
                EvaluateTargetHealth=False,
            ),
        )
    )
