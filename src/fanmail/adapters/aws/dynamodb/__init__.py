"""The DynamoDB adapters, one module per table, and the tables as template.yaml declares them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from fanmail.adapters.aws.dynamodb.campaigns import DynamoCampaignStore
from fanmail.adapters.aws.dynamodb.feedback import DynamoFeedbackStore
from fanmail.adapters.aws.dynamodb.imports import TTL_ATTRIBUTE as IMPORTS_TTL
from fanmail.adapters.aws.dynamodb.imports import DynamoImportStore
from fanmail.adapters.aws.dynamodb.ledger import TTL_ATTRIBUTE, DynamoLedger
from fanmail.adapters.aws.dynamodb.signups import TTL_ATTRIBUTE as SIGNUPS_TTL
from fanmail.adapters.aws.dynamodb.signups import DynamoRateLimits, DynamoSignupStore
from fanmail.adapters.aws.dynamodb.subscribers import (
    BY_EMAIL,
    DynamoListStore,
    DynamoSubscriberStore,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "TABLE_INDEXES",
    "TABLE_KEYS",
    "TABLE_TTL",
    "DynamoCampaignStore",
    "DynamoFeedbackStore",
    "DynamoImportStore",
    "DynamoLedger",
    "DynamoListStore",
    "DynamoRateLimits",
    "DynamoSignupStore",
    "DynamoSubscriberStore",
    "create_tables",
]

# Key schemas, mirrored by template.yaml (a test checks that they agree).
TABLE_KEYS: dict[str, list[tuple[str, Literal["HASH", "RANGE"]]]] = {
    "subscribers": [("list_id", "HASH"), ("email", "RANGE")],
    "campaigns": [("campaign_id", "HASH")],
    "ledger": [("campaign_id", "HASH"), ("email", "RANGE")],
    "lists": [("list_id", "HASH")],
    "imports": [("import_id", "HASH"), ("item", "RANGE")],
    "signups": [("list_id", "HASH"), ("email", "RANGE")],
}

# Tables whose items expire (DynamoDB TTL), by the attribute holding the time.
TABLE_TTL = {"ledger": TTL_ATTRIBUTE, "imports": IMPORTS_TTL, "signups": SIGNUPS_TTL}


# Global secondary indexes (keys only), mirrored by template.yaml too.
TABLE_INDEXES: dict[str, dict[str, list[tuple[str, Literal["HASH", "RANGE"]]]]] = {
    "subscribers": {BY_EMAIL: [("email", "HASH"), ("list_id", "RANGE")]},
}


def create_tables(client: DynamoDBClient, names: Mapping[str, str]) -> None:
    """Create the tables (on-demand), as template.yaml declares them; for local mode and tests."""
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
