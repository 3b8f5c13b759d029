"""Log processing: the processor Lambda, its settings, Redis and the Push Messages API."""

from __future__ import annotations

from awacs import elasticache as ec_actions
from awacs import logs as logs_actions
from awacs import s3 as s3_actions
from troposphere import AccountId, GetAtt, Ref, Sub, Template, awslambda, elasticache, iam, logs
from troposphere.cloudformation import CustomResource

from pushstack.options import TABLE_SUFFIXES, Options
from pushstack.template.boot import user_data
from pushstack.template.common import (
    LAMBDA_RUNTIME,
    MESSAGES_API,
    MESSAGES_API_PORT,
    REDIS_PORT,
    SETTINGS_KEY,
    STACK_UUID_SHORT,
    TABLE_ITEM_ACTIONS,
    allow,
    assume_role_policy,
    role,
    skip_checks,
)
from pushstack.template.logs import created_bucket_arn, log_bucket_arn
from pushstack.template.network import (
    ingress,
    load_balancer,
    load_balancer_security_group,
    node_security_group,
    security_group,
)
from pushstack.template.nodes import auto_scaling_group, launch_template
from pushstack.template.tables import table_arn

REDIS_NAME = "push-redis-${Id}"
REDIS_CLUSTER_ID = Sub(REDIS_NAME, Id=STACK_UUID_SHORT)
REDIS_CLUSTER_ARN = Sub(
    "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:cluster:" + REDIS_NAME,
    Id=STACK_UUID_SHORT,
)


def lambda_log_group(t: Template, logical_id: str) -> None:
    t.add_resource(
        logs.LogGroup(
            logical_id,
            RetentionInDays=90,
            Metadata=skip_checks(
                ("CKV_AWS_158", "CloudWatch Logs' own encryption; no CMK to manage.")
            ),
        )
    )


def lambda_checks(*extra: tuple[str, str]) -> dict:
    return skip_checks(
        (
            "CKV_AWS_115",
            "Reserved concurrency would fail in accounts with a low concurrency limit.",
        ),
        ("CKV_AWS_116", "Triggered by S3 and CloudFormation, which retry and report failures."),
        *extra,
    )


def redis(t: Template) -> None:
    """Redis in the private subnets, open only to the processor and the Messages API."""
    t.add_resource(
        security_group(
            "ProcessorSecurityGroup",
            "Push processor Lambda",
            [],
            skip_checks(("CKV2_AWS_5", "Attached to the processor Lambda's VPC configuration.")),
        )
    )
    t.add_resource(
        security_group(
            "RedisSecurityGroup",
            "Redis: only from the processor and the Messages API",
            [
                ingress(REDIS_PORT, "Redis from the processor", source="ProcessorSecurityGroup"),
                ingress(
                    REDIS_PORT, "Redis from the Messages API", source="MessagesApiNodeSecurityGroup"
                ),
            ],
        )
    )
    t.add_resource(
        elasticache.SubnetGroup(
            "RedisSubnetGroup",
            Description="Private subnets of the push Redis",
            SubnetIds=Ref("PrivateSubnetIds"),
        )
    )
    t.add_resource(
        elasticache.CacheCluster(
            "Redis",
            ClusterName=REDIS_CLUSTER_ID,
            Engine="redis",
            CacheNodeType=Ref("RedisNodeType"),
            NumCacheNodes=1,
            CacheSubnetGroupName=Ref("RedisSubnetGroup"),
            VpcSecurityGroupIds=[Ref("RedisSecurityGroup")],
        )
    )


def processor(t: Template) -> None:
    """The push-processor Lambda, triggered by new log objects in the bucket."""
    lambda_log_group(t, "ProcessorLogGroup")
    t.add_resource(
        role(
            "ProcessorRole",
            assume_role_policy("lambda.amazonaws.com"),
            "process-logs",
            [
                allow([s3_actions.GetObject], [log_bucket_arn("/*")]),
                allow([s3_actions.ListBucket], [log_bucket_arn()]),
                allow([ec_actions.DescribeCacheClusters], [REDIS_CLUSTER_ARN]),
                allow(TABLE_ITEM_ACTIONS, [table_arn(t, "PushMessagesTable", "push_messages")]),
            ],
            managed=["service-role/AWSLambdaVPCAccessExecutionRole"],
        )
    )
    t.add_resource(
        awslambda.Function(
            "ProcessorFunction",
            Description="Push processor: turns push logs into Push Messages API data",
            Runtime=LAMBDA_RUNTIME,
            Handler="lambda.handler",
            Code=awslambda.Code(S3Bucket=Ref("ProcessorCodeBucket"), S3Key=Ref("ProcessorCodeKey")),
            Role=GetAtt("ProcessorRole", "Arn"),
            MemorySize=512,
            Timeout=300,
            VpcConfig=awslambda.VPCConfig(
                SubnetIds=Ref("PrivateSubnetIds"),
                SecurityGroupIds=[Ref("ProcessorSecurityGroup")],
            ),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref("ProcessorLogGroup")),
            TracingConfig=awslambda.TracingConfig(Mode="PassThrough"),
            Metadata=lambda_checks(
                (
                    "CKV_AWS_50",
                    "X-Ray tracing is left to the operator (extra cost and permissions).",
                ),
            ),
        )
    )
    t.add_resource(
        awslambda.Permission(
            "ProcessorInvokePermission",
            Action="lambda:InvokeFunction",
            FunctionName=Ref("ProcessorFunction"),
            Principal="s3.amazonaws.com",
            SourceAccount=AccountId,
            SourceArn=log_bucket_arn(),
        )
    )


SETTINGS_WRITER_CODE = """\
import json

import boto3
import cfnresponse


def handler(event, context):
    props = event["ResourceProperties"]
    status = cfnresponse.SUCCESS
    try:
        # The bucket and this object outlive the stack: nothing to do on Delete.
        if event["RequestType"] in ("Create", "Update"):
            boto3.client("s3").put_object(
                Bucket=props["Bucket"],
                Key=props["Key"],
                Body=json.dumps(props["Settings"]).encode(),
                ContentType="application/json",
            )
    except Exception as exc:
        print("could not write the settings object:", exc)
        status = cfnresponse.FAILED
    cfnresponse.send(event, context, status, {}, props["Bucket"] + "/" + props["Key"])
"""


def processor_settings(t: Template) -> None:
    """The processor's settings object, written by the stack (code inside the template)."""
    lambda_log_group(t, "SettingsWriterLogGroup")
    t.add_resource(
        role(
            "SettingsWriterRole",
            assume_role_policy("lambda.amazonaws.com"),
            "write-settings",
            [
                allow([s3_actions.PutObject], [created_bucket_arn("/" + SETTINGS_KEY)]),
                allow(
                    [logs_actions.CreateLogStream, logs_actions.PutLogEvents],
                    [GetAtt("SettingsWriterLogGroup", "Arn")],
                ),
            ],
        )
    )
    t.add_resource(
        awslambda.Function(
            "SettingsWriterFunction",
            Description="Writes the push processor's settings object into the log bucket",
            Runtime=LAMBDA_RUNTIME,
            Handler="index.handler",
            Code=awslambda.Code(ZipFile=SETTINGS_WRITER_CODE),
            Role=GetAtt("SettingsWriterRole", "Arn"),
            Timeout=60,
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref("SettingsWriterLogGroup")),
            Metadata=lambda_checks(
                ("CKV_AWS_117", "Needs only S3 and the CloudFormation response URL, not the VPC."),
                ("CKV_AWS_50", "Runs once per stack operation; tracing adds nothing."),
            ),
        )
    )
    t.add_resource(
        CustomResource(
            "ProcessorSettings",
            ServiceToken=GetAtt("SettingsWriterFunction", "Arn"),
            Bucket=Ref("LogBucket"),
            Key=SETTINGS_KEY,
            Settings={"redis_name": REDIS_CLUSTER_ID, "file_type": "json"},
        )
    )


def messages_api(t: Template, opts: Options) -> None:
    """Push Messages API nodes next to Redis, behind their own public load balancer."""
    t.add_resource(
        load_balancer_security_group("MessagesApiLoadBalancerSecurityGroup", "Messages API", opts)
    )
    t.add_resource(
        node_security_group(
            "MessagesApiNodeSecurityGroup",
            "Messages API nodes: HTTP from their load balancer",
            [
                ingress(
                    MESSAGES_API_PORT,
                    "HTTP from the load balancer",
                    source="MessagesApiLoadBalancerSecurityGroup",
                )
            ],
            opts,
        )
    )
    t.add_resource(
        role(
            "MessagesApiRole",
            assume_role_policy("ec2.amazonaws.com"),
            "messages-api",
            [
                allow([ec_actions.DescribeCacheClusters], [REDIS_CLUSTER_ARN]),
                allow(TABLE_ITEM_ACTIONS, [table_arn(t, "PushMessagesTable", "push_messages")]),
            ],
            managed=["AmazonSSMManagedInstanceCore"],
        )
    )
    t.add_resource(
        iam.InstanceProfile("MessagesApiInstanceProfile", Roles=[Ref("MessagesApiRole")])
    )
    load_balancer(t, MESSAGES_API, opts, Ref("SubnetIds"), "MessagesApiLoadBalancerSecurityGroup")
    env = {
        "PORT": str(MESSAGES_API_PORT),
        "REDIS_ELASTICACHE": "${RedisClusterId}",
        "PUSH_MESSAGES_TABLE": (
            "${PushMessagesTable}"
            if "PushMessagesTable" in t.resources
            else "${TablePrefix}" + TABLE_SUFFIXES["push_messages"]
        ),
    }
    # The cluster id is known before Redis exists, so the nodes need not wait for it.
    script = user_data(
        MESSAGES_API,
        "",
        "${MessagesApiImage}",
        env,
        secret=False,
        variables={"RedisClusterId": REDIS_CLUSTER_ID},
    )
    launch_template(
        t,
        MESSAGES_API,
        opts,
        ["MessagesApiNodeSecurityGroup"],
        script,
        "MessagesApiInstanceProfile",
    )
    auto_scaling_group(t, MESSAGES_API, [Ref("MessagesApiSubnetId")])
