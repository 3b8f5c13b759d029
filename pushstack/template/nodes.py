"""The push nodes: their role, boot script, launch templates and Auto Scaling groups."""

from __future__ import annotations

from awacs import firehose as fh_actions
from awacs import secretsmanager as sm_actions
from troposphere import GetAtt, Ref, Sub, Tags, Template, ec2, iam
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
    ENDPOINT_PORT,
    ROUTER_PORT,
    TABLE_ITEM_ACTIONS,
    NodeGroup,
    allow,
    assume_role_policy,
    role,
)
from pushstack.template.logs import LOG_STREAM_ARN, LOG_STREAM_NAME
from pushstack.template.network import load_balancer
from pushstack.template.tables import table_arn


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
