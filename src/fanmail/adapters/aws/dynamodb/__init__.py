"""The DynamoDB adapters, one module per table, and the tables as template.yaml declares them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from fanmail.adapters.aws.dynamodb.campaigns import DynamoCampaignStore
from fanmail.adapters.aws.dynamodb.ledger import TTL_ATTRIBUTE, DynamoLedger
from fanmail.adapters.aws.dynamodb.subscribers import DynamoListStore, DynamoSubscriberStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "TABLE_KEYS",
    "DynamoCampaignStore",
    "DynamoLedger",
    "DynamoListStore",
    "DynamoSubscriberStore",
    "create_tables",
]

# Key schemas, mirrored by template.yaml (a test checks that they agree).
TABLE_KEYS: dict[str, list[tuple[str, Literal["HASH", "RANGE"]]]] = {
    "subscribers": [("list_id", "HASH"), ("email", "RANGE")],
    "campaigns": [("campaign_id", "HASH")],
    "ledger": [("campaign_id", "HASH"), ("email", "RANGE")],
    "lists": [("list_id", "HASH")],
}


def create_tables(client: DynamoDBClient, names: Mapping[str, str]) -> None:
    """Create the tables (on-demand), as template.yaml declares them; for local mode and tests."""
    for kind, keys in TABLE_KEYS.items():
        client.create_table(
            TableName=names[kind],
            KeySchema=[{"AttributeName": n, "KeyType": t} for n, t in keys],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        if kind == "ledger":
            client.update_time_to_live(
                TableName=names[kind],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
