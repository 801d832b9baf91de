"""The stand-in's resources, as template.yaml declares them: tables, the imports bucket, the
configuration set, a verified sender. Local mode and the tests create them; a deployed stack
gets them from CloudFormation."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fanmail.adapters.aws.dynamodb import TABLE_INDEXES, TABLE_KEYS, TABLE_TTL

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient


def create_tables(client: DynamoDBClient, names: Mapping[str, str]) -> None:
    """Create the tables (on-demand), as template.yaml declares them."""
    for kind, keys in TABLE_KEYS.items():
        indexes = TABLE_INDEXES.get(kind, {})
        attributes = dict.fromkeys(
            [n for n, _ in keys] + [n for index in indexes.values() for n, _ in index]
        )
        request: dict[str, Any] = {
            "TableName": names[kind],
            "KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in keys],
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": "S"} for n in attributes
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": name,
                    "KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in index],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
                for name, index in indexes.items()
            ]
        client.create_table(**request)
        if kind in TABLE_TTL:
            client.update_time_to_live(
                TableName=names[kind],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE_TTL[kind]},
            )


def create_bucket(client: S3Client, bucket: str) -> None:
    client.create_bucket(Bucket=bucket)


def create_configuration_set(v1: SESClient, name: str) -> None:
    """The stand-in checks that a send's configuration set exists."""
    with contextlib.suppress(v1.exceptions.ConfigurationSetAlreadyExistsException):
        v1.create_configuration_set(ConfigurationSet={"Name": name})


LOCAL_SENDER = "news@fanmail.example"
"""The identity the stand-in always verifies: the README's examples send from it."""


def verify_sender_identity(v1: SESClient, address: str) -> None:
    """Start verification of an address identity (moto verifies at once; real SES mails a link)."""
    v1.verify_email_identity(EmailAddress=address)
