"""Idempotency records in memory: powertools' BasePersistenceLayer with the DynamoDB layer's
conditions (a record is taken over only once expired, or in progress past its in-progress
expiry; a refused put reports the record it met, payload checked), for tests and benchmarks.
Local mode uses powertools' DynamoDB layer on the stand-in."""

from __future__ import annotations

import threading
import time

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)


class MemoryIdempotency(BasePersistenceLayer):
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._records: dict[str, DataRecord] = {}
        self._lock = threading.Lock()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            found = self._records.get(idempotency_key)
        if found is None:
            raise IdempotencyItemNotFoundError
        return found

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._lock:
            old = self._records.get(data_record.idempotency_key)
            if old is None or _free(old, now):
                self._records[data_record.idempotency_key] = data_record
                return
        self._validate_payload(data_payload=data_record, stored_data_record=old)
        raise IdempotencyItemAlreadyExistsError(old_data_record=old)

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            old = self._records.get(data_record.idempotency_key)
            progress = old.in_progress_expiry_timestamp if old else None
            data_record.in_progress_expiry_timestamp = progress  # kept, as UpdateItem keeps it
            self._records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._records.pop(data_record.idempotency_key, None)


def _free(record: DataRecord, now: float) -> bool:
    """The DynamoDB layer's put condition: expired, or in progress past its own expiry."""
    expired = record.expiry_timestamp is not None and record.expiry_timestamp < now
    in_progress_expired = (
        record.status == STATUS_CONSTANTS["INPROGRESS"]
        and record.in_progress_expiry_timestamp is not None
        and record.in_progress_expiry_timestamp < now * 1000
    )
    return expired or in_progress_expired
