"""Bounds on what a template may cost: Jinja's sandbox keeps templates away from Python's
internals, not from burning CPU or memory. A campaign's template renders once per recipient,
so a template that takes seconds (nested loops) or builds huge strings (`'x' * 50000000`)
must be refused when the campaign is created, and stopped -- as that recipient's failure, not
a crashed sender -- if subscriber data makes it blow up later.

- Time: a render may take RENDER_SECONDS (a normal one takes ~0.1 ms); a watchdog thread stops
  one that runs longer, even a loop that outputs nothing (see _Watchdog).
- Size: each part's output is at most MAX_OUTPUT_CHARS. Operations that multiply sizes (`*`,
  `+`, `**`, `%` and format widths, string methods and filters with a width or count, and
  `namespace` attributes built up in loops) are refused before they allocate past it.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import re
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

RENDER_SECONDS = 0.5
MAX_OUTPUT_CHARS = 1_000_000
MAX_EXPONENT = 64
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d*))?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")
T = TypeVar("T")


class TooCostly(SecurityError):
    """A template operation over the time or size bound."""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise TooCostly(f"{what} would be {size:,} long, over the limit of {MAX_OUTPUT_CHARS:,}")


def _check_widths(numbers: Iterator[str], what: str) -> None:
    for number in numbers:
        if number and int(number) > MAX_OUTPUT_CHARS:
            raise TooCostly(f"{what}: a width of {int(number):,} is over {MAX_OUTPUT_CHARS:,}")


def check_printf(template: str) -> None:
    for match in _PRINTF_WIDTH.finditer(template):
        _check_widths(iter(match.groups(default="")), "a %-format")


def check_format(template: str) -> None:
    try:
        specs = [spec or "" for _, _, spec, _ in string.Formatter().parse(template)]
    except ValueError:
        return  # str.format raises its own error for it
    for spec in specs:
        _check_widths(iter(_NUMBER.findall(spec)), "a format")


class BoundedNamespace(Namespace):
    """`namespace()` whose attributes cannot grow past the size bound (a loop that doubles
    `ns.text` would otherwise take all memory within 30 iterations)."""

    def __setitem__(self, name: str, value: Any) -> None:
        _check_size(_size(value), f"namespace attribute {name!r}")
        super().__setitem__(name, value)


def _bounded_filter(name: str, filter_: Callable[..., Any]) -> Callable[..., Any]:
    takes_context = hasattr(filter_, "jinja_pass_arg")  # @pass_environment, @pass_eval_context

    @functools.wraps(filter_)  # keeps jinja_pass_arg: Jinja still passes the context first
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value, *rest = args[1:] if takes_context else args
        _check_widths(
            (str(a) for a in (*rest, *kwargs.values()) if isinstance(a, int)), f"| {name}"
        )
        if name == "format" and isinstance(value, str):
            check_printf(value)
        if name == "join" and rest and isinstance(rest[0], str):
            items = value if isinstance(value, list | tuple | range | str) else ()
            _check_size(len(rest[0]) * len(items), "| join")
        if name == "replace" and len(rest) >= 2:
            text, old, new = str(value), str(rest[0]), str(rest[1])
            grows = len(new) - len(old)
            if grows > 0 and old:
                _check_size(len(text) + text.count(old) * grows, "| replace")
        return filter_(*args, **kwargs)

    return bounded


SIZED_FILTERS = ("center", "indent", "wordwrap", "format", "replace", "truncate", "join")


class BoundedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["namespace"] = BoundedNamespace
        for name in SIZED_FILTERS:
            self.filters[name] = _bounded_filter(name, self.filters[name])

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            times = right if isinstance(right, int) else left if isinstance(left, int) else 1
            sized = left if _size(left) else right
            _check_size(_size(sized) * max(0, int(times)), "a repeated value")
        elif operator == "+":
            _check_size(_size(left) + _size(right), "a joined value")
        elif operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise TooCostly(f"an exponent of {right} is over {MAX_EXPONENT}")
        elif operator == "%" and isinstance(left, str):
            check_printf(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_widths((str(a) for a in (*args, *kwargs.values()) if isinstance(a, int)), "a call")
        bound_to = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(bound_to, str):
            check_format(bound_to)
        return super().call(__context, __obj, *args, **kwargs)


class _Watchdog:
    """One daemon thread that raises TooCostly inside a render still running past its
    deadline (CPython's PyThreadState_SetAsyncExc: delivered at the next bytecode, so a Python
    loop stops wherever it is). A render costs one dict entry; nothing traces its lines."""

    TICK_S = 0.05

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[int, tuple[int, float]] = {}  # thread id -> (render, deadline)
        self.fired: set[int] = set()
        self.renders = itertools.count()
        self.thread: threading.Thread | None = None

    def watch(self, deadline: float) -> int:
        render = next(self.renders)
        with self.lock:
            self.running[threading.get_ident()] = (render, deadline)
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="render-watchdog")
                self.thread.daemon = True
                self.thread.start()
        return render

    def done(self, render: int) -> None:
        """The render ended: from here on nothing is raised in this thread."""
        ident = threading.get_ident()
        with self.lock:
            self.running.pop(ident, None)
            if render in self.fired:
                self.fired.discard(render)
                _set_async_exc(ident, None)  # not delivered yet: withdraw it

    def _loop(self) -> None:
        while True:
            time.sleep(self.TICK_S)
            now = time.monotonic()
            with self.lock:
                for ident, (render, deadline) in self.running.items():
                    if now > deadline and render not in self.fired:
                        self.fired.add(render)
                        _set_async_exc(ident, TooCostly)


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else None
    )


_watchdog = _Watchdog()


class RenderClock:
    """Runs a render with a time limit (see _Watchdog)."""

    def __init__(self, seconds: float = RENDER_SECONDS) -> None:
        self.seconds = seconds

    def run(self, render: Callable[[], T]) -> T:
        ticket = _watchdog.watch(time.monotonic() + self.seconds)
        try:
            try:
                return render()
            finally:
                _watchdog.done(ticket)
        except TooCostly as exc:
            if exc.args and exc.args[0]:
                raise
            raise TooCostly(
                f"rendering took longer than {self.seconds} s (a loop too large?)"
            ) from None


_PIECES_AT_A_TIME = 64


def render_bounded(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """The template's output, at most MAX_OUTPUT_CHARS (TooCostly past it): counted as the
    template produces it, a few pieces at a time (what `Template.render` does, plus the count;
    counting each piece in Python would cost a fifth of a render)."""
    pieces: list[str] = []
    size = 0
    try:
        produced = template.root_render_func(template.new_context(dict(context)))
        while chunk := list(itertools.islice(produced, _PIECES_AT_A_TIME)):
            size += sum(map(len, chunk))
            if size > MAX_OUTPUT_CHARS:
                raise TooCostly(f"the output is over the limit of {MAX_OUTPUT_CHARS:,} characters")
            pieces += chunk
    except Exception:
        template.environment.handle_exception()  # the traceback as template lines
    return "".join(pieces)
