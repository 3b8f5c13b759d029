"""Logs: the Firehose delivery stream and the S3 bucket it delivers to."""

from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Condition, Principal, Statement, StringEquals
from troposphere import AccountId, GetAtt, Ref, Sub, Template, firehose, s3

from pushstack.options import Options
from pushstack.template.common import (
    ERROR_PREFIX,
    LOG_PREFIX,
    STACK_UUID,
    allow,
    assume_role_policy,
    policy,
    role,
    skip_checks,
)

LOG_NAME = "push-logs-${Uuid}"  # bucket and delivery stream, as Fn::Sub text
LOG_BUCKET_NAME = Sub(LOG_NAME, Uuid=STACK_UUID)
# Named ahead too, so the nodes (which only write to it) need not wait for it.
LOG_STREAM_NAME = Sub(LOG_NAME, Uuid=STACK_UUID)
LOG_STREAM_ARN = Sub(
    "arn:${AWS::Partition}:firehose:${AWS::Region}:${AWS::AccountId}:deliverystream/" + LOG_NAME,
    Uuid=STACK_UUID,
)


def log_bucket_arn(path: str = "") -> Sub:
    """The log bucket's ARN from its name: for what the bucket itself waits for."""
    return Sub("arn:${AWS::Partition}:s3:::" + LOG_NAME + path, Uuid=STACK_UUID)


def created_bucket_arn(path: str = "") -> Sub:
    return Sub("${LogBucket.Arn}" + path)


def log_bucket(t: Template, opts: Options) -> None:
    """An encrypted, versioned, private bucket, kept when the stack goes."""
    extra = {}
    if opts.processor:
        extra["NotificationConfiguration"] = s3.NotificationConfiguration(
            LambdaConfigurations=[
                s3.LambdaConfigurations(
                    Event="s3:ObjectCreated:*",
                    Function=GetAtt("ProcessorFunction", "Arn"),
                    Filter=s3.Filter(
                        S3Key=s3.S3Key(Rules=[s3.Rules(Name="prefix", Value=LOG_PREFIX)])
                    ),
                )
            ]
        )
        # S3 checks the notification target when the bucket is configured.
        extra["DependsOn"] = ["ProcessorInvokePermission"]
    t.add_resource(
        s3.Bucket(
            "LogBucket",
            BucketName=LOG_BUCKET_NAME,
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        ),
                        BucketKeyEnabled=True,
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata=skip_checks(
                ("CKV_AWS_18", "Needs a second bucket: the operator's choice."),
                ("CKV_AWS_145", "SSE-S3 encryption; no CMK to manage."),
                ("CKV2_AWS_62", "Only the processor is notified."),
                ("CKV2_AWS_61", "Kept until the operator decides."),
            ),
            **extra,
        )
    )
    t.add_resource(
        s3.BucketPolicy(
            "LogBucketPolicy",
            Bucket=Ref("LogBucket"),
            PolicyDocument=policy(
                Statement(
                    Sid="DenyInsecureTransport",
                    Effect="Deny",
                    Principal=Principal("*"),
                    Action=[s3_actions.Action("*")],
                    Resource=[created_bucket_arn(), created_bucket_arn("/*")],
                    Condition=Condition(StringEquals("aws:SecureTransport", "false")),
                )
            ),
        )
    )


def log_delivery_stream(t: Template) -> None:
    """Firehose delivery stream the nodes write their logs to, delivering to the bucket."""
    t.add_resource(
        role(
            "LogDeliveryRole",
            assume_role_policy(
                "firehose.amazonaws.com",
                Condition(StringEquals("sts:ExternalId", AccountId)),
            ),
            "deliver-logs",
            [
                allow(
                    [
                        s3_actions.AbortMultipartUpload,
                        s3_actions.GetBucketLocation,
                        s3_actions.ListBucket,
                        s3_actions.ListBucketMultipartUploads,
                    ],
                    [created_bucket_arn()],
                ),
                allow(
                    [s3_actions.PutObject, s3_actions.GetObject],
                    [
                        created_bucket_arn("/" + LOG_PREFIX + "*"),
                        created_bucket_arn("/" + ERROR_PREFIX + "*"),
                    ],
                ),
            ],
        )
    )
    t.add_resource(
        firehose.DeliveryStream(
            "LogDeliveryStream",
            DeliveryStreamName=LOG_STREAM_NAME,
            DeliveryStreamType="DirectPut",
            DeliveryStreamEncryptionConfigurationInput=firehose.DeliveryStreamEncryptionConfigurationInput(
                KeyType="AWS_OWNED_CMK"
            ),
            ExtendedS3DestinationConfiguration=firehose.ExtendedS3DestinationConfiguration(
                BucketARN=GetAtt("LogBucket", "Arn"),
                RoleARN=GetAtt("LogDeliveryRole", "Arn"),
                Prefix=LOG_PREFIX,
                ErrorOutputPrefix=ERROR_PREFIX,
                BufferingHints=firehose.BufferingHints(IntervalInSeconds=300, SizeInMBs=5),
                CompressionFormat="UNCOMPRESSED",
            ),
        )
    )
