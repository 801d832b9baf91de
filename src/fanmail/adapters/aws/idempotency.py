"""Idempotency records (notifications' keys) in DynamoDB: powertools' own persistence layer on
fanmail's client, over IdempotencyTable (its default item shape: `id`, `expiration` as TTL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import (
    DynamoDBPersistenceLayer,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def dynamodb_idempotency(client: DynamoDBClient, table: str) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
