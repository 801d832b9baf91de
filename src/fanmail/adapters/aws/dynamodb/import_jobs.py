"""Import jobs (import_id, "job") and their rejected rows (import_id, "r#<line>"), removed by
DynamoDB's TTL when the job expires."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb import TABLE_TTL
from fanmail.adapters.aws.dynamodb.by_address import get_items, index_keys
from fanmail.adapters.aws.dynamodb.items import Item, backoff, from_item, refused, to_item, values
from fanmail.domain.erasure import index_form
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.import_jobs import (
    ImportCounts,
    ImportJob,
    ImportOptions,
    ImportStatus,
    Rejected,
)
from fanmail.domain.list_files import Position

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

JOB = "job"
REJECT_PREFIX = "r#"
TTL_ATTRIBUTE = TABLE_TTL["imports"]
BATCH_WRITE_MAX = 25
STATUS = {"#s": "status"}


def _reject_key(line: int) -> str:
    return f"{REJECT_PREFIX}{line:012d}"


def job_item(job: ImportJob) -> Item:
    return to_item(
        {
            "import_id": job.import_id,
            "item": JOB,
            "list_id": job.list_id,
            "status": job.status.value,
            "options": json.dumps(job.options.to_dict()),
            "counts": json.dumps(job.counts.to_dict()),
            "header": json.dumps(job.header) if job.header is not None else None,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "file_name": job.file_name,
            "size": job.size,
            "pos_offset": job.position.offset,
            "pos_line": job.position.line,
            "error": job.error,
            "holder": job.holder,
            "lease_until": job.lease_until,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "notes": json.dumps(list(job.notes)) if job.notes else None,
            TTL_ATTRIBUTE: int(job.expires_at),
        }
    )


def job_from(raw: Mapping[str, Any]) -> ImportJob:
    data = from_item(raw)
    header = json.loads(data["header"]) if data.get("header") else None
    return ImportJob(
        import_id=str(data["import_id"]),
        list_id=str(data["list_id"]),
        options=ImportOptions.from_dict(json.loads(data["options"])),
        status=ImportStatus(str(data["status"])),
        created_at=float(data["created_at"]),
        updated_at=float(data.get("updated_at", 0.0)),
        file_name=str(data.get("file_name", "")),
        size=int(data.get("size", 0)),
        position=Position(int(data.get("pos_offset", 0)), int(data.get("pos_line", 1))),
        header=tuple(header) if header is not None else None,
        counts=ImportCounts.from_dict(json.loads(data.get("counts") or "{}")),
        error=str(data["error"]) if data.get("error") else None,
        holder=str(data.get("holder", "")),
        lease_until=float(data.get("lease_until", 0.0)),
        started_at=float(data["started_at"]) if "started_at" in data else None,
        finished_at=float(data["finished_at"]) if "finished_at" in data else None,
        notes=tuple(str(n) for n in json.loads(data.get("notes") or "[]")),
    )


class DynamoImportStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def _key(self, import_id: str, item: str = JOB) -> Item:
        return to_item({"import_id": import_id, "item": item})

    def create(self, job: ImportJob) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=job_item(job),
                ConditionExpression="attribute_not_exists(import_id)",
            )
        except ClientError as exc:
            refused(exc)
            raise Conflict(f"import {job.import_id!r} already exists") from None

    def get(self, import_id: str) -> ImportJob | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(import_id), ConsistentRead=True
        ).get("Item")
        return job_from(item) if item else None

    def _update(
        self, import_id: str, request: Mapping[str, Any], names: Mapping[str, str] = STATUS
    ) -> ImportJob | None:
        """An update returning the new job, or None if its condition did not hold."""
        try:
            response: Any = self.client.update_item(
                TableName=self.table,
                Key=self._key(import_id),
                ReturnValues="ALL_NEW",
                ExpressionAttributeNames=dict(names),
                **request,
            )
        except ClientError as exc:
            refused(exc)
            return None
        return job_from(response["Attributes"])

    def queue(self, import_id: str, now: float, size: int) -> ImportJob:
        job = self._update(
            import_id,
            {
                "UpdateExpression": "SET #s = :queued, updated_at = :now, #z = :size",
                "ConditionExpression": "#s = :waiting",
                "ExpressionAttributeValues": values(
                    {
                        ":queued": ImportStatus.QUEUED.value,
                        ":waiting": ImportStatus.WAITING_FOR_UPLOAD.value,
                        ":now": now,
                        ":size": size,
                    }
                ),
            },
            {**STATUS, "#z": "size"},  # a reserved word
        )
        if job is not None:
            return job
        found = self.get(import_id)
        if found is None:
            raise NotFound(f"import {import_id!r} not found")
        raise Conflict(f"import {import_id!r} is {found.status.value}", found.status.value)

    def claim(self, import_id: str, holder: str, now: float, until: float) -> ImportJob | None:
        return self._update(
            import_id,
            {
                "UpdateExpression": (
                    "SET #s = :running, holder = :h, lease_until = :until, updated_at = :now, "
                    "started_at = if_not_exists(started_at, :now)"
                ),
                "ConditionExpression": (
                    "#s IN (:queued, :running) AND "
                    "(lease_until < :now OR holder = :h OR holder = :nobody)"
                ),
                "ExpressionAttributeValues": values(
                    {
                        ":running": ImportStatus.RUNNING.value,
                        ":queued": ImportStatus.QUEUED.value,
                        ":h": holder,
                        ":nobody": "",
                        ":until": until,
                        ":now": now,
                    }
                ),
            },
        )

    def advance(self, job: ImportJob, since: ImportJob) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=job_item(job),
                ConditionExpression="holder = :h AND pos_offset = :o AND #s = :running",
                ExpressionAttributeNames=STATUS,
                ExpressionAttributeValues=values(
                    {
                        ":h": since.holder,
                        ":o": since.position.offset,
                        ":running": ImportStatus.RUNNING.value,
                    }
                ),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def add_rejects(self, import_id: str, rejects: Sequence[Rejected], expires: float) -> None:
        requests: list[Any] = [
            {
                "PutRequest": {
                    "Item": to_item(
                        {
                            "import_id": import_id,
                            "item": _reject_key(r.line),
                            "line": r.line,
                            "email": r.email,
                            "address": index_form(r.email) or None,
                            "reason": r.reason,
                            TTL_ATTRIBUTE: int(expires),
                        }
                    )
                }
            }
            for r in rejects
        ]
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            self._batch_write(requests[start : start + BATCH_WRITE_MAX])

    def _batch_write(self, requests: list[Any]) -> None:
        attempt = 0
        while requests:
            response: Any = self.client.batch_write_item(RequestItems={self.table: requests})
            requests = list(response.get("UnprocessedItems", {}).get(self.table, []))
            if requests:
                attempt += 1
                backoff(attempt)

    def rejects(
        self, import_id: str, after_line: int, limit: int
    ) -> tuple[list[Rejected], int | None]:
        response: Any = self.client.query(
            TableName=self.table,
            KeyConditionExpression="import_id = :i AND #k > :after",
            ExpressionAttributeNames={"#k": "item"},
            ExpressionAttributeValues=values(
                {":i": import_id, ":after": _reject_key(max(after_line, 0))}
            ),
            ConsistentRead=True,
            Limit=limit,
        )
        found = [from_item(item) for item in response.get("Items", [])]
        page = [_rejected(r) for r in found if str(r["item"]).startswith(REJECT_PREFIX)]
        more = "LastEvaluatedKey" in response
        return page, page[-1].line if more and page else None

    def rejects_of(self, email: str) -> list[tuple[str, Rejected]]:
        keys = index_keys(self.client, self.table, "address", email)
        found = get_items(self.client, self.table, keys)
        rows = [(str(d["import_id"]), _rejected(d)) for d in found]
        return sorted(rows, key=lambda row: (row[0], row[1].line))

    def forget_reject(self, import_id: str, line: int) -> None:
        self.client.delete_item(
            TableName=self.table, Key=to_item({"import_id": import_id, "item": _reject_key(line)})
        )


def _rejected(data: Mapping[str, Any]) -> Rejected:
    return Rejected(int(data["line"]), str(data.get("email", "")), str(data.get("reason", "")))
