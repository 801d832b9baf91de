"""A deployed stack's APIs, reached from this machine: `fanmail serve --aws` forwards each request
the dashboard makes to the stack's admin API, signed with your AWS credentials (SigV4, service
`execute-api`: the admin API takes IAM auth only), and public pages to its public API unsigned.

It answers as the local gateway's functions do (API Gateway proxy responses), so the same
gateway and dashboard serve a local stand-in and a deployed stack.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from fanmail.domain.errors import FanmailError, InvokeError

FORWARDED = ("content-type", "accept")
HOP_BY_HOP = {"connection", "transfer-encoding", "content-encoding", "content-length"}


def stack_urls(session: boto3.Session, stack: str) -> tuple[str, str]:
    """The admin and public API URLs a fanmail stack outputs (ApiUrl, PublicUrl)."""
    client: Any = session.client("cloudformation")
    try:
        found = client.describe_stacks(StackName=stack)["Stacks"]
    except client.exceptions.ClientError as exc:
        raise FanmailError(f"stack {stack!r}: {exc.response['Error']['Message']}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found[0].get("Outputs", [])}
    missing = [name for name in ("ApiUrl", "PublicUrl") if name not in outputs]
    if missing:
        raise FanmailError(f"stack {stack!r} has no output {', '.join(missing)}: not fanmail's?")
    return outputs["ApiUrl"], outputs["PublicUrl"]


def wire_path(path: str) -> str:
    """The event's decoded path encoded again for the stack's URL, where it can only extend
    the base URL's path: a `?` or `#` it holds stays in it, a `%2F` (kept encoded) stays one,
    and a path that does not start with `/` (which could extend the host) or holds a `.` or
    `..` segment (which could leave the base URL's path for another stage) is refused."""
    if not path.startswith("/") or {".", ".."} & set(path.split("/")):  # `..` leaves the base
        raise InvokeError("api", "InvalidPath", f"not a path: {path[:80]!r}")
    return "%2F".join(quote(part, safe="/") for part in path.split("%2F"))


class SignedApi:
    def __init__(
        self, session: boto3.Session, admin_url: str, public_url: str, timeout_s: float = 30.0
    ) -> None:
        self.session = session
        self.admin_url = admin_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.timeout_s = timeout_s

    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """`function` is "api" or "public", as the gateway routes; `payload` its proxy event."""
        base = self.admin_url if function == "api" else self.public_url
        query = payload.get("multiValueQueryStringParameters") or {}
        url = base + wire_path(str(payload["path"]))
        url += f"?{urlencode(query, doseq=True)}" if query else ""
        body = payload.get("body")
        data = (
            b""
            if body is None
            else (base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode())
        )
        given = {k.lower(): str(v) for k, v in (payload.get("headers") or {}).items()}
        headers = {k: v for k, v in given.items() if k in FORWARDED}
        request = AWSRequest(method=str(payload["httpMethod"]), url=url, data=data, headers=headers)
        if function == "api":
            credentials = self.session.get_credentials()
            if credentials is None:
                raise InvokeError(function, "NoCredentials", "nothing to sign the request with")
            SigV4Auth(credentials, "execute-api", self.session.region_name).add_auth(request)
        return self._send(function, url, request)

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        raise InvokeError(function, "Unsupported", "a deployed API is called synchronously")

    def _send(self, function: str, url: str, request: AWSRequest) -> dict[str, Any]:
        body = request.body
        prepared = urllib.request.Request(  # noqa: S310 (the stack's https URL)
            url,
            data=body.encode() if isinstance(body, str) else (body or None),
            method=request.method,
            headers=dict(request.headers.items()),
        )
        try:
            with urllib.request.urlopen(prepared, timeout=self.timeout_s) as answer:  # noqa: S310
                status, headers, data = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as exc:
            status, headers, data = exc.code, exc.headers, exc.read()
        except OSError as exc:
            raise InvokeError(function, "Unreachable", f"{url}: {exc}") from None
        return {
            "statusCode": status,
            "headers": {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP},
            "body": base64.b64encode(data).decode("ascii"),
            "isBase64Encoded": True,
        }
