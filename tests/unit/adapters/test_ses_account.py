"""What SesAccountInfo makes of GetAccount's answers: the stand-in's missing call is a sending
account, any other error is surfaced, never read as healthy."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from fanmail.adapters.aws.ses import SesAccountInfo
from fanmail.domain.errors import Unavailable

REGION = "us-east-1"


def account(error: tuple[str, int] | None, *, calls: int = 1) -> tuple[SesAccountInfo, Stubber]:
    client = boto3.client(
        "sesv2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    v1 = boto3.client("ses", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    for _ in range(calls):
        if error is None:
            stub.add_response(
                "get_account",
                {
                    "SendingEnabled": False,
                    "EnforcementStatus": "HEALTHY",
                    "SendQuota": {
                        "Max24HourSend": 50000.0,
                        "MaxSendRate": 14.0,
                        "SentLast24Hours": 10.0,
                    },
                },
            )
        else:
            code, status = error
            stub.add_client_error("get_account", service_error_code=code, http_status_code=status)
    stub.activate()
    return SesAccountInfo(client, v1), stub


@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDeniedException", 403), ("TooManyRequestsException", 429), ("InternalFailure", 500)],
)
def test_an_account_ses_would_not_describe_is_unavailable_not_healthy(
    code: str, status: int
) -> None:
    info, _ = account((code, status), calls=2)
    with pytest.raises(Unavailable, match=f"GetAccount: {code}"):
        info.status()
    with pytest.raises(Unavailable, match=code):
        info.quota()


def test_the_stand_ins_missing_call_is_a_sending_account() -> None:
    info, _ = account(("", 404))
    status = info.status()
    assert status.sending_enabled and status.problem is None


def test_what_getaccount_says_is_read() -> None:
    info, _ = account(None, calls=2)
    assert info.status().problem is not None  # SendingEnabled false
    quota = info.quota()
    assert (quota.max_send_rate, quota.max_24_hour_send, quota.sent_last_24_hours) == (
        14.0,
        50000.0,
        10.0,
    )
