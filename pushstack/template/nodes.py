"""The push nodes: their role, boot script, launch templates and Auto Scaling groups."""

from __future__ import annotations

from awacs import dynamodb as ddb
from awacs import elasticache as ec_actions
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
    RS_CONNECTION,
    RS_ENDPOINT,
    TABLE_ITEM_ACTIONS,
    NodeGroup,
    allow,
    arn,
    assume_role_policy,
    role,
    session_manager_statements,
    skip_checks,
)
from pushstack.template.images import (
    MIRROR,
    PULL_POLICY,
    built_image,
    node_pull_statements,
)
from pushstack.template.logs import LOG_STREAM_ARN, LOG_STREAM_NAME
from pushstack.template.network import dns_record, load_balancer
from pushstack.template.store import STORE_ARN, STORE_GROUP_ID
from pushstack.template.tables import TABLE_IDS, table_arn


def node_role(t: Template, opts: Options) -> None:
    """The push nodes' role: their store (tables, or the address of autopush-rs's store),
    the keys' secrets, the log stream, the images; Session Manager for admins."""
    if opts.rs:
        statements = [
            allow([sm_actions.GetSecretValue], [Ref("CryptoKeySecret"), Ref("AuthKeySecret")]),
            allow([ec_actions.DescribeReplicationGroups], [STORE_ARN]),
            *node_pull_statements(opts),
        ]
    else:
        tables = [table_arn("router"), table_arn("message")]
        statements = [
            allow(TABLE_ITEM_ACTIONS, tables),
            # autopush looks its message table up with ListTables when it starts (and
            # exits without it). ListTables has no resource-level permissions: "*" is
            # the only resource it takes, and it reveals table names, not their items.
            allow([ddb.ListTables], ["*"]),
            allow([sm_actions.GetSecretValue], [Ref("CryptoKeySecret")]),
            *node_pull_statements(opts),
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
            [*statements, *session_manager_statements()],
            managed=[] if opts.rs else [PULL_POLICY],
        )
    )
    t.add_resource(iam.InstanceProfile("PushNodeInstanceProfile", Roles=[Ref("PushNodeRole")]))


def launch_template(
    t: Template,
    group: NodeGroup,
    opts: Options,
    security_groups: list,
    script,
    profile: str,
    public_ip: bool = True,
) -> None:
    data = {
        "ImageId": Ref("AmiId" if opts.ami_id else "LatestAmiId"),
        "InstanceType": Ref(f"{group.name}InstanceType"),
        "IamInstanceProfile": ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
        # Said here, not left to the subnet's default: a node pulls its image and
        # reaches AWS from a public subnet without auto-assigned public IPs too.
        "NetworkInterfaces": [
            ec2.NetworkInterfaces(
                DeviceIndex=0,
                AssociatePublicIpAddress=public_ip,
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
            **(
                {
                    "Metadata": skip_checks(
                        (
                            "CKV_AWS_88",
                            "Nodes reach AWS; only their load balancer (and SSH) gets in.",
                        )
                    )
                }
                if public_ip
                else {}
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
            Tags=[asg.Tag("Service", "autopush", True), asg.Tag("Engine", Ref("Engine"), True)],
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
    connection, endpoint = (RS_CONNECTION, RS_ENDPOINT) if opts.rs else (CONNECTION, ENDPOINT)
    load_balancer(t, connection, opts, subnets, "ConnectionLoadBalancerSecurityGroup")
    load_balancer(t, endpoint, opts, subnets, "EndpointLoadBalancerSecurityGroup")
    dns_record(t, opts, "websocket_hostname", "ConnectionLoadBalancer")
    dns_record(t, opts, "endpoint_hostname", "EndpointLoadBalancer")
    boot_settings = {}
    if not opts.endpoint_hostname:
        endpoint_hostname_parameter(t)
        boot_settings["ENDPOINT_HOSTNAME_PARAMETER"] = ENDPOINT_HOSTNAME_PARAMETER
    if opts.rs:
        rs_nodes(t, opts, subnets, boot_settings)
    else:
        legacy_nodes(t, opts, subnets, boot_settings)


# Both groups sit in the InternalRouter group: the connection nodes admit it on the
# router port, which endpoint nodes call (PUT /push/<uaid>, /notif/<uaid>) and
# connection nodes call on each other (autopush 1.57.0: DELETE /notif/<uaid>/...
# to a client's previous node; autopush-rs: PUT /notif/<uaid>).
NODE_GROUPS = {
    "Connection": ["ConnectionNodeSecurityGroup", "InternalRouterSecurityGroup"],
    "Endpoint": ["EndpointNodeSecurityGroup", "InternalRouterSecurityGroup"],
}


def legacy_nodes(t: Template, opts: Options, subnets, boot_settings: dict) -> None:
    """autopush 1.57.0's connection and endpoint nodes, on the DynamoDB tables."""
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
    for group, command, env in (
        (CONNECTION, "autopush", connection_env),
        (ENDPOINT, "autoendpoint", endpoint_env),
    ):
        script = user_data(
            group,
            command,
            "${AutopushImage}",
            env,
            secret=True,
            variables=names,
            settings={**boot_settings, "MIRROR": MIRROR},
        )
        launch_template(t, group, opts, NODE_GROUPS[group.name], script, "PushNodeInstanceProfile")
        # autopush needs its tables; its Firehose sender dies on its first failed
        # write: the nodes start once both exist.
        waits = [name for name in TABLE_IDS if name in t.resources]
        if opts.firehose:
            waits.append("LogDeliveryStream")
        auto_scaling_group(t, group, subnets, depends_on=waits)


def rs_env(opts: Options) -> tuple[dict, dict]:
    """autoconnect's and autoendpoint's settings (autopush-rs 1.83.1's Settings structs:
    autoconnect-settings/src/lib.rs, autoendpoint/src/settings.rs); keys added at boot."""
    hostname = "${EndpointHostname}" if opts.endpoint_hostname else "$ENDPOINT_HOSTNAME"
    store = "redis://$STORE_HOST:$STORE_PORT"
    connection = {
        "AUTOCONNECT__PORT": str(CONNECTION_PORT),
        "AUTOCONNECT__ROUTER_PORT": str(ROUTER_PORT),
        # The address endpoint and connection nodes call this node's router on.
        "AUTOCONNECT__ROUTER_HOSTNAME": "$PRIVATE_IP",
        "AUTOCONNECT__ENDPOINT_SCHEME": "https" if opts.tls else "http",
        "AUTOCONNECT__ENDPOINT_HOSTNAME": hostname,
        "AUTOCONNECT__ENDPOINT_PORT": "443" if opts.tls else "80",
        "AUTOCONNECT__DB_DSN": store,
        # No Sentry project: errors go to the log instead.
        "AUTOCONNECT__DISABLE_SENTRY": "true",
    }
    endpoint = {
        # Inside the node: the load balancer reaches it on all interfaces.
        "AUTOEND__HOST": "0.0.0.0",  # noqa: S104
        "AUTOEND__PORT": str(ENDPOINT_PORT),
        "AUTOEND__ENDPOINT_URL": ("https://" if opts.tls else "http://") + hostname,
        "AUTOEND__DB_DSN": store,
        "AUTOEND__DISABLE_SENTRY": "true",
    }
    return connection, endpoint


def rs_nodes(t: Template, opts: Options, subnets, boot_settings: dict) -> None:
    """autoconnect and autoendpoint nodes on the Valkey store, from the built or given images."""
    connection_env, endpoint_env = rs_env(opts)
    settings = {**boot_settings, "STORE_GROUP_ID": "${StoreGroupId}"}
    variables = {"StoreGroupId": STORE_GROUP_ID}
    if opts.builds_images:
        images = {program: built_image(program) for program in ("autoconnect", "autoendpoint")}
    else:
        images = {"autoconnect": "${AutoconnectImage}", "autoendpoint": "${AutoendpointImage}"}
    for group, program, env, keys in (
        (RS_CONNECTION, "autoconnect", connection_env, {"KEY_ENV": "AUTOCONNECT__CRYPTO_KEY"}),
        (
            RS_ENDPOINT,
            "autoendpoint",
            endpoint_env,
            {"KEY_ENV": "AUTOEND__CRYPTO_KEYS", "AUTH_ENV": "AUTOEND__AUTH_KEYS"},
        ),
    ):
        script = user_data(
            group,
            "",  # the image's entry point runs the program
            images[program],
            env,
            secret=True,
            variables=variables,
            settings={**settings, **keys},
            auth="AUTH_ENV" in keys,
        )
        launch_template(t, group, opts, NODE_GROUPS[group.name], script, "PushNodeInstanceProfile")
        # The images must exist before a node pulls them; the store before a node
        # asks its address (CloudFormation then waits, not the nodes' signal timeout).
        waits = ["PushStore", *(["ImageBuild"] if opts.builds_images else [])]
        auto_scaling_group(t, group, subnets, depends_on=waits)
