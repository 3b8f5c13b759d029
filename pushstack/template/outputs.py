"""The stack's Outputs: everything a user needs next."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Template

from pushstack.options import Options
from pushstack.template.network import public_url
from pushstack.template.processor import REDIS_GROUP_ID
from pushstack.template.store import STORE_GROUP_ID
from pushstack.template.tables import table_name


def outputs(t: Template, opts: Options) -> None:
    values = {
        "WebSocketURL": (
            "URL push clients connect to",
            public_url(opts, "websocket_hostname", "ConnectionLoadBalancer", "wss", "ws"),
        ),
        "EndpointURL": (
            "Base URL of the push endpoints (for application servers)",
            public_url(opts, "endpoint_hostname", "EndpointLoadBalancer", "https", "http"),
        ),
        "CryptoKeySecretArn": (
            "Secrets Manager secret holding the crypto key",
            Ref("CryptoKeySecret"),
        ),
    }
    if opts.rs:
        values["StoreId"] = ("ElastiCache (Valkey) store of autopush-rs", STORE_GROUP_ID)
        if opts.builds_images:
            values["ImageRepositoryURI"] = (
                "ECR repository of the autopush-rs images the stack built",
                GetAtt("ImageRepository", "RepositoryUri"),
            )
    else:
        values["RouterTableName"] = ("DynamoDB router table", table_name("router"))
        values["MessageTableName"] = ("DynamoDB message table", table_name("message"))
        values["TablePrefix"] = (
            "Table prefix: keep it, with the crypto key, to upgrade or redeploy",
            Ref("TablePrefix"),
        )
    if opts.firehose:
        values["LogBucketName"] = ("S3 bucket receiving the push logs", Ref("LogBucket"))
        values["LogDeliveryStreamName"] = (
            "Firehose stream of the push logs",
            Ref("LogDeliveryStream"),
        )
    if opts.processor:
        values["ProcessorFunctionName"] = ("Push processor Lambda", Ref("ProcessorFunction"))
        values["RedisGroupId"] = ("ElastiCache Redis replication group id", REDIS_GROUP_ID)
        values["ProcessorFailureQueueURL"] = (
            "Queue of the log events the processor failed on",
            Ref("ProcessorFailureQueue"),
        )
        values["MessagesApiURL"] = (
            "Push Messages API"
            + ("" if opts.messages_api_public else " (internal: reachable from the VPC)"),
            public_url(opts, "messages_api_hostname", "MessagesApiLoadBalancer", "https", "http"),
        )
    for name, (description, value) in values.items():
        t.add_output(Output(name, Description=description, Value=value))
