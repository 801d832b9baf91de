"""Lambda invokes of fanmail's own functions by logical name ('sender', 'trigger'), and the
concurrency Lambda gives the sender."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fanmail.domain.errors import InvokeError
from fanmail.domain.plan import SenderConcurrency

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class LambdaInvoker:
    def __init__(self, client: LambdaClient, function_names: Mapping[str, str]) -> None:
        self.client = client
        self.function_names = dict(function_names)

    def _name(self, function: str) -> str:
        try:
            return self.function_names[function]
        except KeyError:
            raise InvokeError(function, "ResourceNotFoundException", "no such function") from None

    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        name = self._name(function)
        try:
            response = self.client.invoke(
                FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(payload)
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise InvokeError(name, str(error.get("Code")), str(error.get("Message"))) from None
        except BotoCoreError as exc:
            raise InvokeError(name, type(exc).__name__, str(exc)) from None
        body = response["Payload"].read()
        decoded = json.loads(body) if body else {}
        if response.get("FunctionError"):
            raise InvokeError(
                name,
                str(decoded.get("errorType", response["FunctionError"])),
                str(decoded.get("errorMessage", "")),
            )
        return decoded if isinstance(decoded, dict) else {}

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        name = self._name(function)
        try:
            self.client.invoke(
                FunctionName=name, InvocationType="Event", Payload=json.dumps(payload)
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise InvokeError(name, str(error.get("Code")), str(error.get("Message"))) from None


class LambdaConcurrency:
    """The sender's reserved concurrency (GetFunctionConcurrency) and the account's unreserved
    concurrency (GetAccountSettings), read when a run plans its fan-out."""

    def __init__(self, client: LambdaClient, sender_function: str) -> None:
        self.client = client
        self.sender_function = sender_function.split(":", 1)[0]  # the function, not an alias

    def sender_concurrency(self) -> SenderConcurrency:
        try:
            reserved = self.client.get_function_concurrency(FunctionName=self.sender_function)
            account = self.client.get_account_settings()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise InvokeError(
                self.sender_function, str(error.get("Code")), str(error.get("Message"))
            ) from None
        except BotoCoreError as exc:
            raise InvokeError(self.sender_function, type(exc).__name__, str(exc)) from None
        limit = account.get("AccountLimit", {})
        return SenderConcurrency(
            reserved=reserved.get("ReservedConcurrentExecutions"),
            unreserved=int(limit.get("UnreservedConcurrentExecutions", 0)),
        )
