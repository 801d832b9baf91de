"""Files in S3: import sources, uploaded by the API or straight from a client through a
presigned PUT URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.domain.errors import NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING = {"NoSuchKey", "404", "NotFound"}


class S3BlobStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def read(self, key: str, start: int, size: int) -> bytes:
        if size <= 0:
            return b""
        try:
            response: Any = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + size - 1}"
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "InvalidRange":  # at or past the end
                return b""
            if code in MISSING:
                raise NotFound(f"no file {key!r}") from None
            raise
        data: bytes = response["Body"].read()
        return data

    def size(self, key: str) -> int | None:
        try:
            response: Any = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in MISSING:
                return None
            raise
        return int(response["ContentLength"])

    def upload_url(self, key: str, expires_s: int) -> str:
        url: str = self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )
        return url

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)
