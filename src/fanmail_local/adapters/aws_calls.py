"""The AWS calls the local adapters stand in for.

Deployed, each of these is a boto3 call made with the function's role; locally an adapter answers
in process instead (Lambda invokes, the SES simulator's sends, generated signing keys, the memory
scheduler, the SQS poller of an event source mapping). Each reports here the call it replaced --
service, operation and the request's parameters as the deployed adapter would send them, as far
as it knows them -- so the IAM test (tests/iam) holds them to the stack's policies like the calls
that do go through boto3. With nobody listening, a report costs a look at an empty list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Listener = Callable[[str, str, Mapping[str, Any], str | None], None]
"""(service, operation, params, function): `function` names the function whose role makes the
call when it is not the one running (Lambda's SQS poller uses the polled function's role)."""

_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Hear every call a local adapter stands in for; returns what stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def stood_in(
    service: str, operation: str, params: Mapping[str, Any], function: str | None = None
) -> None:
    for listener in list(_listeners):
        listener(service, operation, params, function)
