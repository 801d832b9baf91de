"""SES through sesv2 (SendEmail with Simple content), with v1 GetSendQuota as a fallback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from fanmail.domain.errors import SendError, SendErrorKind, Unavailable, classify_ses_error
from fanmail.domain.message import sender_address
from fanmail.domain.model import OutgoingEmail
from fanmail.ports import AccountStatus, SendQuota

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sesv2.type_defs import (
        GetAccountResponseTypeDef,
        ListEmailIdentitiesRequestTypeDef,
        MessageTypeDef,
        SendEmailRequestTypeDef,
    )


def not_implemented(exc: ClientError) -> bool:
    """The stand-in's answer to a call it does not implement: HTTP 404 with no AWS error code
    (real sesv2 names every error it returns)."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 and exc.response.get("Error", {}).get("Code") in (None, "", "404")


def translate(exc: ClientError, sender: str | None = None) -> SendError:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", ""))
    return SendError(classify_ses_error(status, code, message, sender), code, message)


class SesMailer:
    def __init__(self, client: SESV2Client) -> None:
        self.client = client

    def send(self, email: OutgoingEmail) -> str:
        simple: MessageTypeDef = {
            "Subject": {"Data": email.subject, "Charset": "UTF-8"},
            "Body": {
                "Html": {"Data": email.html, "Charset": "UTF-8"},
                "Text": {"Data": email.text, "Charset": "UTF-8"},
            },
        }
        if email.headers:
            simple["Headers"] = [{"Name": n, "Value": v} for n, v in email.headers]
        request: SendEmailRequestTypeDef = {
            "FromEmailAddress": email.sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Simple": simple},
        }
        if email.reply_to:
            request["ReplyToAddresses"] = [email.reply_to]
        if email.tags:
            request["EmailTags"] = [{"Name": n, "Value": v} for n, v in email.tags]
        if email.configuration_set:
            request["ConfigurationSetName"] = email.configuration_set
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            raise translate(exc, sender_address(email.sender)) from None
        except BotoCoreError as exc:  # connection reset, read timeout: may be retried
            raise SendError(SendErrorKind.TRANSIENT, type(exc).__name__, str(exc)) from None
        return str(response.get("MessageId", ""))


class SesAccountInfo:
    """Rate, quota and identities from sesv2 GetAccount; SES v1 GetSendQuota only where
    GetAccount is not implemented (the local stand-in: moto answers it with a bare 404)."""

    def __init__(self, v2: SESV2Client, v1: SESClient) -> None:
        self.v2 = v2
        self.v1 = v1

    def _account(self) -> GetAccountResponseTypeDef | None:
        """GetAccount's answer; None where the stand-in lacks the call. Any other error
        (AccessDenied, throttling past botocore's retries, an outage) is raised: an account
        nobody could read is not a healthy one."""
        try:
            return self.v2.get_account()
        except ClientError as exc:
            if not_implemented(exc):
                return None
            error = exc.response.get("Error", {})
            raise Unavailable(
                f"SES did not say what the account may send (sesv2 GetAccount: "
                f"{error.get('Code', 'Unknown')}: {error.get('Message', '')})"
            ) from None
        except BotoCoreError as exc:
            raise Unavailable(f"SES could not be reached (sesv2 GetAccount: {exc})") from None

    def quota(self) -> SendQuota:
        account = self._account()
        if account is None:
            legacy = self.v1.get_send_quota()
            return SendQuota(
                float(legacy["MaxSendRate"]),
                float(legacy["Max24HourSend"]),
                float(legacy["SentLast24Hours"]),
            )
        quota = account["SendQuota"]
        return SendQuota(
            float(quota["MaxSendRate"]),
            float(quota["Max24HourSend"]),
            float(quota["SentLast24Hours"]),
        )

    def status(self) -> AccountStatus:
        account = self._account()
        if account is None:  # the stand-in: it sends whatever it is asked to
            return AccountStatus()
        return AccountStatus(
            sending_enabled=bool(account.get("SendingEnabled", True)),
            enforcement_status=str(account.get("EnforcementStatus", "HEALTHY")),
        )

    def is_verified_sender(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower()
        wanted = {address.lower(), domain}
        request: ListEmailIdentitiesRequestTypeDef = {"PageSize": 1000}
        while True:
            page = self.v2.list_email_identities(**request)
            for identity in page.get("EmailIdentities", []):
                if (
                    identity.get("IdentityName", "").lower() in wanted
                    and identity.get("SendingEnabled", False)
                    and identity.get("VerificationStatus") == "SUCCESS"
                ):
                    return True
            if not page.get("NextToken"):
                return False
            request["NextToken"] = page["NextToken"]
