"""Powertools objects shared by the handlers, and the time budget of an invocation."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit

from fanmail.domain.outcomes import DeliveryCounts, Outcome

if TYPE_CHECKING:
    from fanmail.bootstrap import App

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "fanmail"
"""The stack's name when deployed: metrics carry it as their `service` dimension, so two stacks
in one account keep their alarms and dashboards apart."""
logger = Logger(service=SERVICE)


class HttpResponse(TypedDict):
    """What a Lambda behind API Gateway's proxy integration answers."""

    statusCode: int
    headers: NotRequired[dict[str, str]]
    multiValueHeaders: NotRequired[dict[str, list[str]]]
    body: NotRequired[str]
    isBase64Encoded: NotRequired[bool]


metrics = Metrics(namespace="fanmail", service=SERVICE)


def start_run(app: App, context: Any, **log_keys: str) -> float:
    """The sender's and the trigger's start of a run: this invocation's log keys only (a warm
    container's thread keeps the last one's), what start-up built frozen once (no collection
    walks it again), and the deadline."""
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(**log_keys)
    if not gc.get_freeze_count():
        gc.freeze()
    return app.deadline(context)


def emit_counts(counts: DeliveryCounts) -> None:
    """EMF metrics for one invocation; only the Lambda entry points call it (log_metrics flushes
    them), not the in-process runs of local mode."""
    for outcome, name in METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[outcome])
    metrics.add_metric(name="SesThrottled", unit=MetricUnit.Count, value=counts.throttled)


METRICS = {
    Outcome.SENT: "EmailsSent",
    Outcome.FAILED: "EmailsFailed",
    Outcome.SUPPRESSED: "EmailsSuppressed",
    Outcome.INVALID: "EmailsInvalid",
}
"""The outcomes emitted as EMF metrics, by the names the stack's alarms and dashboard use."""


class Resolvers:
    """The resolver of each App, answering one request at a time in this process.

    powertools keeps the request it is answering on its router *class* (`BaseRouter.
    current_event`), not on the resolver: one per process, as a Lambda environment runs one
    invocation at a time. Local mode answers HTTP requests concurrently in one process, so two
    resolvers side by side read each other's request (a browser's sign-up form got the JSON
    answer meant for the dashboard's fetch that ran beside it). Every resolver of the process
    takes one lock: free in Lambda, where nothing else runs beside an invocation; in local mode
    the admin API and the public pages answer one request at a time (each takes milliseconds;
    none waits on another function).
    """

    _one_request_at_a_time = threading.Lock()

    def __init__(self, build: Callable[[App], APIGatewayRestResolver]) -> None:
        self.build = build
        self._built: weakref.WeakKeyDictionary[App, APIGatewayRestResolver]
        self._built = weakref.WeakKeyDictionary()

    def resolve(self, app: App, event: Any, context: Any) -> HttpResponse:
        with Resolvers._one_request_at_a_time:
            resolver = self._built.get(app)
            if resolver is None:
                resolver = self._built[app] = self.build(app)
            # powertools types its proxy response as a plain dict; it has this shape
            return cast("HttpResponse", resolver.resolve(event, context))
