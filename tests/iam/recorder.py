"""Recording every AWS call a function's handler makes in the local-mode tests.

Two sources: a botocore `before-parameter-build` handler, installed in every boto3 session from
the start of the test run (it also sees the parameters of a presigned URL), and the reports of
the local adapters that stand in for an AWS call (fanmail_local.adapters.aws_calls). A call
counts for the function whose handler runs on its thread (the in-process invoker says which:
the API gateway stand-in, the event source mapping and the schedule ticker all invoke through
it); a handler's worker threads run in its context, as they share its Lambda environment.
Calls made outside any handler (a test's own set-up, the CLI's operator) are not a function's
and are only counted.

Cheap by design: a call is reduced to the names it acts on and kept once per distinct (function,
environment, operation, names); the mapping to IAM and the evaluation happen once, at the end.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import botocore.handlers

from fanmail_local.adapters import aws_calls
from fanmail_local.adapters.invoker import running_function
from tests.iam.calls import Call, frozen, names_of

Environment = tuple[tuple[str, str], ...]


class CallRecorder:
    def __init__(self, thread: int | None = None) -> None:
        self.thread = thread
        """Hear only this thread's calls (None: every thread's)."""
        self.calls: set[Call] = set()
        self.environments: dict[Environment, str] = {}
        self.unattributed = 0
        self._lock = threading.Lock()
        self._by_identity: dict[int, tuple[Environment, str]] = {}

    def record(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        function: str | None = None,
        presigned: bool = False,
    ) -> None:
        environment: Environment = ()
        if self.thread is not None and threading.get_ident() != self.thread:
            return
        if function is not None:
            name = function
        else:
            running = running_function()
            if running is None:
                self.unattributed += 1
                return
            name, environment = running.name, running.environment
        known = self._by_identity.get(id(environment))
        if known is not None and known[0] is environment:  # the usual case: no tuple hashing
            key = known[1]
        else:
            with self._lock:
                key = self.environments.setdefault(environment, f"e{len(self.environments)}")
                self._by_identity[id(environment)] = (environment, key)
        names = names_of(service, operation, params)
        self.calls.add(Call(name, key, service, operation, names, presigned))

    def export(self) -> dict[str, Any]:
        """JSON for the pytest-xdist controller (`merge` reads it)."""
        return {
            "calls": sorted(list(c) for c in self.calls),
            "environments": {key: dict(env) for env, key in self.environments.items()},
            "unattributed": self.unattributed,
        }


def merge(exports: Iterable[Mapping[str, Any]]) -> tuple[set[Call], dict[str, dict[str, str]]]:
    """The calls of several recorders, their environment ids made unique."""
    calls: set[Call] = set()
    environments: dict[str, dict[str, str]] = {}
    for number, export in enumerate(exports):
        for key, environment in export["environments"].items():
            environments[f"{number}.{key}"] = environment
        for raw in export["calls"]:
            call = Call(*raw)
            names = frozen(call.names)
            calls.add(call._replace(environment=f"{number}.{call.environment}", names=names))
    return calls, environments


_active: list[CallRecorder] = []
_installed = False


def _from_botocore(params: Mapping[str, Any], model: Any, context: Any, **_: Any) -> None:
    if _active:
        service = model.service_model.service_name
        presigned = bool(context and context.get("is_presign_request"))
        for recorder in list(_active):
            recorder.record(service, model.name, params, presigned=presigned)


def _from_stand_in(
    service: str, operation: str, params: Mapping[str, Any], function: str | None
) -> None:
    for recorder in list(_active):
        recorder.record(service, operation, params, function)


def _submit_in_context(
    submit: Callable[..., Future[Any]],
) -> Callable[..., Future[Any]]:
    def in_context(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *a: Any, **k: Any) -> Any:
        return submit(self, contextvars.copy_context().run, fn, *a, **k)

    return in_context


def install() -> None:
    """Once per process, before any boto3 session is made."""
    global _installed
    if _installed:
        return
    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _from_botocore))
    aws_calls.listen(_from_stand_in)
    ThreadPoolExecutor.submit = _submit_in_context(ThreadPoolExecutor.submit)  # type: ignore[method-assign]
    _installed = True


def start(recorder: CallRecorder) -> None:
    install()
    _active.append(recorder)


def stop(recorder: CallRecorder) -> None:
    _active.remove(recorder)


@contextmanager
def recording(this_thread_only: bool = False) -> Iterator[CallRecorder]:
    """Record what runs inside, and only here: the session's recorder hears none of it (a test
    of the IAM test makes calls no function of the stack would). `this_thread_only`: not even
    a poller an earlier test left running on this worker."""
    recorder = CallRecorder(threading.get_ident() if this_thread_only else None)
    others = list(_active)
    _active[:] = [recorder]
    install()
    try:
        yield recorder
    finally:
        _active[:] = others
