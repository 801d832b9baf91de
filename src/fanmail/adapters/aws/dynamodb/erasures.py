"""The erasure list (`a#<digest>`: its latest erasure, when) and the erasure jobs
(`r#<erasure id>`, also their receipts), one table keyed by `id`; the jobs are listed newest
first through the `receipts` index (`kind`, `id`: erasure ids sort by time). No item holds
an address."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb import RECEIPTS
from fanmail.adapters.aws.dynamodb.by_address import get_items
from fanmail.adapters.aws.dynamodb.items import refused, to_item, values
from fanmail.domain.erasure import ErasureJob

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

JOB_KIND = "erasure"


class DynamoErasureList:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def holder(self, digest: str) -> str | None:
        response: Any = self.client.get_item(
            TableName=self.table, Key=to_item({"id": f"a#{digest}"}), ConsistentRead=True
        )
        item = response.get("Item")
        return str(item["erasure_id"]["S"]) if item else None

    def claim(self, digest: str, erasure_id: str, previous: str | None, at: float) -> bool:
        item = to_item({"id": f"a#{digest}", "erasure_id": erasure_id, "at": at})
        # the digest's entry names the erasure it expects (or there is none yet): a second
        # start that read the same entry loses the race
        condition = "attribute_not_exists(id) OR erasure_id = :previous"
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values({":previous": previous or ""}),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def erased(self, digests: Sequence[str]) -> set[str]:
        keys = [to_item({"id": f"a#{d}"}) for d in dict.fromkeys(digests)]
        return {str(i["id"])[2:] for i in get_items(self.client, self.table, keys)}

    def save_job(self, job: ErasureJob) -> bool:
        document = json.dumps(job.to_record())
        item = to_item(
            {"id": f"r#{job.erasure_id}", "kind": JOB_KIND, "version": job.version, "job": document}
        )
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(id) OR version = :read",
                ExpressionAttributeValues=values({":read": job.version - 1}),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def job(self, erasure_id: str) -> ErasureJob | None:
        response: Any = self.client.get_item(
            TableName=self.table, Key=to_item({"id": f"r#{erasure_id}"}), ConsistentRead=True
        )
        item = response.get("Item")
        return ErasureJob.from_record(json.loads(item["job"]["S"])) if item else None

    def jobs(self, before: str | None, limit: int) -> tuple[list[ErasureJob], str | None]:
        request: Any = {
            "TableName": self.table,
            "IndexName": RECEIPTS,
            "KeyConditionExpression": "kind = :kind"
            + (" AND id < :before" if before is not None else ""),
            "ExpressionAttributeValues": values(
                {":kind": JOB_KIND, **({":before": f"r#{before}"} if before else {})}
            ),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        response: Any = self.client.query(**request)
        keys = [{"id": key["id"]} for key in response.get("Items", [])]
        found = {
            str(i["id"]): ErasureJob.from_record(json.loads(i["job"]))
            for i in get_items(self.client, self.table, keys)
        }
        page = [found[str(k["id"]["S"])] for k in keys if str(k["id"]["S"]) in found]
        more = response.get("LastEvaluatedKey")
        return page, (page[-1].erasure_id if more and page else None)
