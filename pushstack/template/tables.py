"""The crypto key's secret and the DynamoDB tables autopush reads and writes."""

from __future__ import annotations

from troposphere import Ref, Sub, Template, secretsmanager
from troposphere import dynamodb as ddb_res

from pushstack.options import TABLE_SUFFIXES
from pushstack.template.common import arn, skip_checks


def crypto_key_secret(t: Template) -> secretsmanager.Secret:
    return t.add_resource(
        secretsmanager.Secret(
            "CryptoKeySecret",
            Description=Sub("Autopush crypto key of stack ${AWS::StackName}"),
            SecretString=Ref("CryptoKey"),
            # Like the tables it unlocks, the key outlives the stack.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata=skip_checks(
                ("CKV_AWS_149", "AWS managed key; no CMK to manage."),
                ("CKV2_AWS_57", "Rotated by a redeploy with a new key."),
            ),
        )
    )


def table_name(table: str) -> Sub:
    return Sub("${TablePrefix}" + TABLE_SUFFIXES[table])


def table(logical_id: str, table: str, keys: list[tuple[str, str]]) -> ddb_res.Table:
    """An on-demand, encrypted, recoverable table with TTL on ``expiry``, kept when the stack goes."""
    return ddb_res.Table(
        logical_id,
        TableName=table_name(table),
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            ddb_res.AttributeDefinition(AttributeName=name, AttributeType="S") for name, _ in keys
        ],
        KeySchema=[ddb_res.KeySchema(AttributeName=name, KeyType=kind) for name, kind in keys],
        TimeToLiveSpecification=ddb_res.TimeToLiveSpecification(
            AttributeName="expiry", Enabled=True
        ),
        SSESpecification=ddb_res.SSESpecification(SSEEnabled=True),
        PointInTimeRecoverySpecification=ddb_res.PointInTimeRecoverySpecification(
            PointInTimeRecoveryEnabled=True
        ),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
        Metadata=skip_checks(("CKV_AWS_119", "AWS managed key; no CMK to manage.")),
    )


def router_table() -> ddb_res.Table:
    return table("RouterTable", "router", [("uaid", "HASH")])


def message_table() -> ddb_res.Table:
    return table("MessageTable", "message", [("uaid", "HASH"), ("chidmessageid", "RANGE")])


def table_arn(table: str) -> Sub:
    """A table's ARN built from its name, created or reused alike.

    Built rather than read from the table, so that the nodes' role (and the
    instance profile, which takes minutes) need not wait for the tables; the
    node groups wait for them instead (``TABLE_IDS``).
    """
    return arn("dynamodb", "table/${TablePrefix}" + TABLE_SUFFIXES[table])


TABLE_IDS = ("RouterTable", "MessageTable")
