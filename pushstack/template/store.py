"""autopush-rs's store: ElastiCache for Valkey, reached only by the push nodes.

autopush-rs 1.83.1 keeps subscriptions and waiting messages in Redis (its
``redis`` feature; DynamoDB support left in 1.72.0). Its Redis client is
compiled without TLS (autopush-common's ``redis`` dependency has the ``aio``
and ``tokio-comp`` features only), so a ``rediss://`` address fails: the
store is encrypted at rest and closed by its security group, not encrypted
in transit. ElastiCache's AUTH needs TLS, so there is none either.
"""

from __future__ import annotations

from troposphere import Ref, Sub, Template, ec2, elasticache, secretsmanager

from pushstack.options import AUTOPUSH_RS_VERSION, Options
from pushstack.template.common import REDIS_PORT, STACK_UUID_SHORT, skip_checks
from pushstack.template.network import security_group

STORE_NAME = "push-store-${Id}"
STORE_GROUP_ID = Sub(STORE_NAME, Id=STACK_UUID_SHORT)
STORE_ARN = Sub(
    "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:replicationgroup:"
    + STORE_NAME,
    Id=STACK_UUID_SHORT,
)
STORE_ENGINE_VERSION = "8.0"
# The store's clients: every push node (autoconnect and autoendpoint both read it).
STORE_CLIENTS = (
    ("StoreFromConnectionNodes", "ConnectionNodeSecurityGroup", "the connection nodes"),
    ("StoreFromEndpointNodes", "EndpointNodeSecurityGroup", "the endpoint nodes"),
)
# What a delete keeps, like the tables: the data and what it needs to be reused.
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def push_store(t: Template, opts: Options) -> None:
    """The store in the push nodes' subnets (private addresses only), kept on delete."""
    t.add_resource(
        security_group(
            "StoreSecurityGroup",
            "autopush-rs store: only from the push nodes",
            [],
            skip_checks(("CKV2_AWS_5", "Attached to the store's replication group.")),
        )
    )
    t.resources["StoreSecurityGroup"].resource.update(RETAIN)
    # The rules apart from the group: they go with the stack, the group stays
    # with the retained store.
    for logical_id, client, what in STORE_CLIENTS:
        t.add_resource(
            ec2.SecurityGroupIngress(
                logical_id,
                GroupId=Ref("StoreSecurityGroup"),
                IpProtocol="tcp",
                FromPort=REDIS_PORT,
                ToPort=REDIS_PORT,
                SourceSecurityGroupId=Ref(client),
                Description=f"Store from {what}",
            )
        )
    t.add_resource(
        elasticache.SubnetGroup(
            "StoreSubnetGroup",
            Description="Subnets of the autopush-rs store",
            SubnetIds=Ref("SubnetIds"),
            **RETAIN,
        )
    )
    replica = not opts.store_single_node
    t.add_resource(
        elasticache.ReplicationGroup(
            "PushStore",
            ReplicationGroupId=STORE_GROUP_ID,
            ReplicationGroupDescription="autopush-rs subscriptions and waiting messages",
            Engine="valkey",
            EngineVersion=STORE_ENGINE_VERSION,
            CacheNodeType=Ref("StoreNodeType"),
            NumCacheClusters=2 if replica else 1,
            AutomaticFailoverEnabled=replica,
            MultiAZEnabled=replica,
            CacheSubnetGroupName=Ref("StoreSubnetGroup"),
            SecurityGroupIds=[Ref("StoreSecurityGroup")],
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=False,
            AutoMinorVersionUpgrade=True,
            # A daily snapshot, kept a week: the store holds every subscription.
            SnapshotRetentionLimit=7,
            SnapshotWindow="03:00-04:00",
            PreferredMaintenanceWindow="sun:05:00-sun:06:00",
            Metadata=skip_checks(
                (
                    "CKV_AWS_30",
                    "autopush-rs's Redis client has no TLS (1.83.1): rediss:// fails.",
                ),
                ("CKV_AWS_31", "ElastiCache AUTH needs TLS, which autopush-rs cannot use."),
                ("CKV_AWS_191", "AWS managed key; no CMK to manage."),
            ),
            **RETAIN,
        )
    )


def auth_key_secret(t: Template) -> None:
    """autoendpoint's auth key (signs clients' channel-management tokens), made by
    Secrets Manager: it never exists outside it."""
    t.add_resource(
        secretsmanager.Secret(
            "AuthKeySecret",
            Description=Sub("autopush-rs auth key of stack ${AWS::StackName}"),
            GenerateSecretString=secretsmanager.GenerateSecretString(
                PasswordLength=64, ExcludePunctuation=True
            ),
            # Tokens already given to clients stay valid across redeployments.
            **RETAIN,
            Metadata=skip_checks(
                ("CKV_AWS_149", "AWS managed key; no CMK to manage."),
                ("CKV2_AWS_57", "A new auth key invalidates every client's tokens."),
            ),
        )
    )


def redis_note(opts: Options) -> str:
    """What protects the stack's Redis (autopush-rs's store, or the Messages API's), in
    words for the preview: where a client cannot use TLS or AUTH, it says so."""
    if opts.rs:
        return (
            "The store (Valkey) is encrypted at rest but not in transit, and has no AUTH "
            f"token: autopush-rs {AUTOPUSH_RS_VERSION}'s Redis client is built without TLS, "
            "and ElastiCache accepts an AUTH token only with TLS. Only the push nodes' "
            "security groups can reach it."
        )
    if opts.processor:
        return (
            "Redis is encrypted at rest but not in transit, and has no AUTH token: the "
            "Messages API (push-messages 0.7) connects with a host and port only, with "
            "neither TLS nor a password, and ElastiCache accepts an AUTH token only with "
            "TLS. Only the processor's and the Messages API nodes' security groups can "
            "reach it; whoever runs code on those nodes or in the processor can read and "
            "change what it holds (registered keys, message lists)."
        )
    return ""
