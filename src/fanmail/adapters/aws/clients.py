"""boto3 clients with the configurations fanmail relies on, built by the composition root.

- SES: one attempt per call (fanmail retries throttling itself, paced), and a connection pool at
  least as large as the sending threads (botocore's default of 10 serialises more threads).
- Lambda sync invokes: a read timeout above the child's own timeout and exactly one attempt, so a
  slow child is never invoked twice by botocore (boto3 #883); the application decides on retries.
- DynamoDB: botocore's standard retry mode absorbs throttling, within a bound
  (`DYNAMODB_MAX_ATTEMPTS`): every function plans its work to its deadline, less a margin, and a
  call on a throttled key may back off for up to `dynamodb_worst_backoff_s()` before it answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sesv2 import SESV2Client


def ses_config(threads: int) -> Config:
    return Config(
        max_pool_connections=max(10, threads + 2),
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=15,
    )


def lambda_config(child_timeout_s: float, concurrency: int) -> Config:
    return Config(
        read_timeout=int(child_timeout_s) + 30,
        connect_timeout=5,
        retries={"total_max_attempts": 1},
        max_pool_connections=max(10, concurrency + 2),
        tcp_keepalive=True,
    )


DYNAMODB_MAX_ATTEMPTS = 5
"""In all, the first included. Standard mode waits `random() * 2 ** (attempt - 1)` seconds,
at most 20, between attempts: the eleven of `max_attempts: 10` (it counts retries) could hold
a sender's call for 131 s past its budget's last look (a sender ran 333 s of its 300 in the
simulation); five hold it at most 15 s, inside the functions' time margin (`time_margin_s`).
A throttle that outlasts them reaches the caller: the sender's thread stops and its batch is
handed back, resent safely through the send ledger."""
DYNAMODB_MAX_BACKOFF_S = 20.0


def dynamodb_worst_backoff_s(attempts: int = DYNAMODB_MAX_ATTEMPTS) -> float:
    return sum(min(DYNAMODB_MAX_BACKOFF_S, 2.0 ** (n - 1)) for n in range(1, attempts))


def dynamodb_config(threads: int) -> Config:
    return Config(
        retries={"mode": "standard", "total_max_attempts": DYNAMODB_MAX_ATTEMPTS},
        max_pool_connections=max(10, threads + 2),
    )


def session(region_name: str | None = None) -> boto3.Session:
    """A boto3 session from the environment (credentials, region, AWS_ENDPOINT_URL)."""
    return boto3.Session(region_name=region_name)


def sesv2_client(session: boto3.Session, threads: int) -> SESV2Client:
    return session.client("sesv2", config=ses_config(threads))


def ses_v1_client(session: boto3.Session) -> SESClient:
    return session.client("ses", config=ses_config(1))


def lambda_client(session: boto3.Session, child_timeout_s: float, concurrency: int) -> LambdaClient:
    return session.client("lambda", config=lambda_config(child_timeout_s, concurrency))


def dynamodb_client(session: boto3.Session, threads: int) -> DynamoDBClient:
    return session.client("dynamodb", config=dynamodb_config(threads))


def scheduler_client(session: boto3.Session) -> EventBridgeSchedulerClient:
    return session.client("scheduler", config=Config(retries={"mode": "standard"}))


def s3_client(session: boto3.Session) -> S3Client:
    """Signature v4 (presigned URLs need it in every region) and standard retries."""
    return session.client(
        "s3", config=Config(signature_version="s3v4", retries={"mode": "standard"})
    )
