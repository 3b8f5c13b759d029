"""The push nodes: their role, boot script, launch templates and Auto Scaling groups."""

from __future__ import annotations

from awacs import dynamodb as ddb
from awacs import firehose as fh_actions
from awacs import secretsmanager as sm_actions
from awacs import ssm as ssm_actions
from troposphere import GetAtt, Ref, Sub, Tags, Template, ec2, iam, ssm
from troposphere import autoscaling as asg
from troposphere.policies import (
    AutoScalingRollingUpdate,
    CreationPolicy,
    ResourceSignal,
    UpdatePolicy,
)

from pushstack.options import TABLE_SUFFIXES, Options
from pushstack.template.boot import user_data
from pushstack.template.common import (
    CONNECTION,
    CONNECTION_PORT,
    ENDPOINT,
    ENDPOINT_HOSTNAME_PARAMETER,
    ENDPOINT_PORT,
    ROUTER_PORT,
    TABLE_ITEM_ACTIONS,
    NodeGroup,
    allow,
    arn,
    assume_role_policy,
    role,
    skip_checks,
)
from pushstack.template.logs import LOG_STREAM_ARN, LOG_STREAM_NAME
from pushstack.template.network import dns_record, load_balancer
from pushstack.template.tables import TABLE_IDS, table_arn


def node_role(t: Template, opts: Options) -> None:
    """The push nodes' role: their tables, the key's secret, the log stream; SSM for admins."""
    tables = [table_arn("router"), table_arn("message")]
    statements = [
        allow(TABLE_ITEM_ACTIONS, tables),
        # autopush looks its message table up with ListTables when it starts (and
        # exits without it). ListTables has no resource-level permissions: "*" is
        # the only resource it takes, and it reveals table names, not their items.
        allow([ddb.ListTables], ["*"]),
        allow([sm_actions.GetSecretValue], [Ref("CryptoKeySecret")]),
    ]
    if not opts.endpoint_hostname:
        statements.append(
            allow(
                [ssm_actions.GetParameter], [arn("ssm", "parameter" + ENDPOINT_HOSTNAME_PARAMETER)]
            )
        )
    if opts.firehose:
        statements.append(
            allow([fh_actions.PutRecord, fh_actions.PutRecordBatch], [LOG_STREAM_ARN])
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


def launch_template(
    t: Template, group: NodeGroup, opts: Options, security_groups: list, script, profile: str
) -> None:
    data = {
        "ImageId": Ref("LatestAmiId"),
        "InstanceType": Ref(f"{group.name}InstanceType"),
        "IamInstanceProfile": ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
        # Said here, not left to the subnet's default: a node pulls its image and
        # reaches AWS from a public subnet without auto-assigned public IPs too.
        "NetworkInterfaces": [
            ec2.NetworkInterfaces(
                DeviceIndex=0,
                AssociatePublicIpAddress=True,
                Groups=[Ref(sg) for sg in security_groups],
                DeleteOnTermination=True,
            )
        ],
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
            f"{group.name}LaunchTemplate",
            LaunchTemplateData=ec2.LaunchTemplateData(**data),
            Metadata=skip_checks(
                (
                    "CKV_AWS_88",
                    "Nodes pull their image and reach AWS from public subnets; their "
                    "security groups admit only their load balancer (and SSH when asked).",
                )
            ),
        )
    )


def auto_scaling_group(t: Template, group: NodeGroup, subnets, depends_on=()) -> None:
    """Nodes that signal when healthy, replaced one batch at a time on update."""
    extra = {"DependsOn": list(depends_on)} if depends_on else {}
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
            **extra,
        )
    )


def autopush_env(opts: Options) -> dict:
    """Settings both autopush programs share (the crypto key is added at boot)."""
    env = {
        "ROUTER_TABLENAME": "${TablePrefix}" + TABLE_SUFFIXES["router"],
        "MESSAGE_TABLENAME": "${TablePrefix}" + TABLE_SUFFIXES["message"],
        "NO_TABLE_ROTATION": "true",
        # The given host name, or the load balancer's name, read at boot.
        "ENDPOINT_HOSTNAME": "${EndpointHostname}"
        if opts.endpoint_hostname
        else "$ENDPOINT_HOSTNAME",
        "ENDPOINT_SCHEME": "https" if opts.tls else "http",
        "ENDPOINT_PORT": "443" if opts.tls else "80",
    }
    if opts.firehose:
        env["STREAM_NAME"] = "${LogStreamName}"
    return env


def endpoint_hostname_parameter(t: Template) -> None:
    """The endpoint load balancer's name, where booting nodes wait for it."""
    t.add_resource(
        ssm.Parameter(
            "EndpointHostnameParameter",
            Name=Sub(ENDPOINT_HOSTNAME_PARAMETER),
            Type="String",
            Value=GetAtt("EndpointLoadBalancer", "DNSName"),
            Description="Host name of the push endpoints, read by the push nodes at boot",
        )
    )


def push_nodes(t: Template, opts: Options) -> None:
    """Connection and endpoint nodes: separate groups that create in parallel.

    Neither waits for a load balancer: the endpoint host name is given, or the
    nodes read the endpoint load balancer's name at boot, while it is created.
    """
    subnets = Ref("SubnetIds")
    load_balancer(t, CONNECTION, opts, subnets, "ConnectionLoadBalancerSecurityGroup")
    load_balancer(t, ENDPOINT, opts, subnets, "EndpointLoadBalancerSecurityGroup")
    dns_record(t, opts, "websocket_hostname", "ConnectionLoadBalancer")
    dns_record(t, opts, "endpoint_hostname", "EndpointLoadBalancer")
    boot_settings = {}
    if not opts.endpoint_hostname:
        endpoint_hostname_parameter(t)
        boot_settings["ENDPOINT_HOSTNAME_PARAMETER"] = ENDPOINT_HOSTNAME_PARAMETER
    connection_env = {
        **autopush_env(opts),
        "PORT": str(CONNECTION_PORT),
        "ROUTER_PORT": str(ROUTER_PORT),
        "ROUTER_HOSTNAME": "$PRIVATE_IP",
    }
    endpoint_env = {**autopush_env(opts), "PORT": str(ENDPOINT_PORT)}
    if opts.processor:
        # autopush logs the deliveries the processor counts at debug level, and
        # sends Firehose only what its level lets through.
        endpoint_env["LOG_LEVEL"] = "debug"
    names = {"LogStreamName": LOG_STREAM_NAME} if opts.firehose else None
    for group, command, env, security_groups in (
        (CONNECTION, "autopush", connection_env, ["ConnectionNodeSecurityGroup"]),
        (
            ENDPOINT,
            "autoendpoint",
            endpoint_env,
            ["EndpointNodeSecurityGroup", "InternalRouterSecurityGroup"],
        ),
    ):
        script = user_data(
            group,
            command,
            "${AutopushImage}",
            env,
            secret=True,
            variables=names,
            settings=boot_settings,
        )
        launch_template(t, group, opts, security_groups, script, "PushNodeInstanceProfile")
        # autopush needs its tables; its Firehose sender dies on its first failed
        # write: the nodes start once both exist.
        waits = [name for name in TABLE_IDS if name in t.resources]
        if opts.firehose:
            waits.append("LogDeliveryStream")
        auto_scaling_group(t, group, subnets, depends_on=waits)
