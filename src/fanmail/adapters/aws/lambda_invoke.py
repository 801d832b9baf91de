"""Lambda invokes of fanmail's own functions by logical name ('sender', 'trigger')."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fanmail.domain.errors import InvokeError

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
