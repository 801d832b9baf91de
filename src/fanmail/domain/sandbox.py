"""Bounds on what a template may cost: Jinja's sandbox keeps templates away from Python's
internals, not from burning CPU or memory. A campaign's template renders once per recipient,
so a template that takes seconds (nested loops) or builds huge strings (`'x' * 50000000`)
must be refused when the campaign is created, and stopped -- as that recipient's failure, not
a crashed sender -- if subscriber data makes it blow up later.

- Time: a render may take RENDER_SECONDS of CPU (a normal one takes far less); a watchdog thread
  stops one that runs longer, even a loop that outputs nothing (see _Watchdog). It cannot stop one
  call into C, so no single call may be handed more than the size bound:
- Size: every value is measured (`measure`: about the characters it prints as, nested values
  and shared references counted each time) before anything turns it into text or multiplies
  it: `*` and `+`, every filter, every call (str methods with the size they can grow to:
  replace, join, format, translate, expandtabs, widths), `%`, `~`, `{{ }}` itself, list, tuple
  and dict literals, namespace attributes, and every buffer Jinja joins (macros, blocks,
  `{% set %}` blocks). Each is at most MAX_OUTPUT_CHARS; integers at most MAX_INT_BITS.
- Data only: a template prints text, numbers, lists and mappings. A function, a class, a
  generator or any other object would print Python's internals (heap addresses included), so
  printing one is refused; `lipsum` is not offered, and built-in lists and dicts cannot be
  changed in place (`append`, `update`: namespace() is for state).
"""

from __future__ import annotations

import ctypes
import functools
import gc
import itertools
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from markupsafe import Markup

RENDER_SECONDS = 0.5
MAX_OUTPUT_CHARS = 1_000_000
MAX_EXPONENT = 64
MAX_INT_BITS = 10_000
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d*))?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")
_PLAIN = frozenset({str, Markup, int, float, bool, type(None)})
T = TypeVar("T")


class TooCostly(SecurityError):
    """A template operation over the time or size bound, or printing what is not data."""


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise TooCostly(f"{what} would be {size:,} long, over the limit of {MAX_OUTPUT_CHARS:,}")


def measure(value: Any, what: str, *, printed: bool = False) -> int:
    """About how many characters `value` prints as: strings by length, numbers by digits,
    lists, tuples, sets and mappings by their items (a value referenced twice counts twice).
    TooCostly past MAX_OUTPUT_CHARS, or (`printed`) for anything that is not data. The walk
    stops at the bound, so it costs at most that many steps."""
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is Markup:
            total += len(item)
        elif kind is int:
            total += item.bit_length() // 3 + 2
        elif kind in _PLAIN or kind is range:
            total += 24
        elif kind in (list, tuple, set, frozenset):
            total += 2 + 4 * len(item)  # separators and quotes
            pending.extend(item)
        elif isinstance(item, Mapping):
            total += 2 + 8 * len(item)
            pending.extend(itertools.chain.from_iterable(item.items()))
        elif isinstance(item, Namespace):
            pending.append(dict(item._Namespace__attrs))
        elif isinstance(item, Undefined):
            continue  # printing it raises Jinja's own error
        elif printed:
            raise TooCostly(
                f"{what}: a {kind.__name__} is not data (it would print Python's internals): "
                "a template prints text, numbers, lists and mappings"
            )
        else:
            total += 24
        _check_size(total, what)
    return total


def _measured(value: Any, what: str, *, printed: bool = False) -> Any:
    kind = type(value)
    if kind is str or kind is Markup:
        _check_size(len(value), what)
    elif kind not in _PLAIN:
        measure(value, what, printed=printed)
    return value


def _check_widths(numbers: Iterator[str], what: str) -> None:
    for number in numbers:
        if number and int(number) > MAX_OUTPUT_CHARS:
            raise TooCostly(f"{what}: a width of {int(number):,} is over {MAX_OUTPUT_CHARS:,}")


def check_printf(template: str, arguments: Any = ()) -> None:
    """Widths, and the size `template % arguments` can reach (each conversion may print the
    largest argument)."""
    conversions = 0
    for match in _PRINTF_WIDTH.finditer(template):
        _check_widths(iter(match.groups(default="")), "a %-format")
        conversions += 1
    if conversions and arguments != ():
        _check_size(
            len(template) + conversions * measure(arguments, "a %-format", printed=True),
            "a %-format",
        )


def check_format(template: str, arguments: Iterable[Any] = ()) -> None:
    """Widths, and the size `template.format(...)` can reach (each field may print the
    largest argument)."""
    try:
        specs = [
            spec or ""
            for _, field, spec, _ in string.Formatter().parse(template)
            if field is not None
        ]
    except ValueError:
        return  # str.format raises its own error for it
    for spec in specs:
        _check_widths(iter(_NUMBER.findall(spec)), "a format")
    largest = max((measure(a, "a format", printed=True) for a in arguments), default=0)
    _check_size(len(template) + len(specs) * largest, "a format")


class BoundedNamespace(Namespace):
    """`namespace()` whose attributes cannot grow past the size bound (a loop that doubles
    `ns.text` would otherwise take all memory within 30 iterations)."""

    def __setitem__(self, name: str, value: Any) -> None:
        _measured(value, f"namespace attribute {name!r}")
        super().__setitem__(name, value)


def _str_method_size(text: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The most a str method can return, for the ones that can grow a string."""
    given = (*args, *kwargs.values())
    if method == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        times = text.count(old) if old else len(text) + 1
        return len(text) + times * max(0, len(new) - len(old))
    if method == "join" and given:
        items = list(given[0]) if isinstance(given[0], Iterable) else []
        return measure(items, "str.join") + len(text) * len(items)
    if method == "expandtabs":
        size = given[0] if given and isinstance(given[0], int) else 8
        return len(text) + text.count("\t") * max(0, size)
    if method == "translate" and given and isinstance(given[0], Mapping):
        longest = max((measure(v, "str.translate") for v in given[0].values()), default=1)
        return len(text) * max(1, longest)
    if method in ("format", "format_map"):
        check_format(text, given)
    return 0


def _call_size(callee: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Arguments within the bounds (widths, sizes), and what a str method can grow to."""
    if not args and not kwargs:
        return
    for argument in (*args, *kwargs.values()):
        kind = type(argument)
        if kind is int:
            _check_widths(iter((str(argument),)), "a call")
        elif kind not in _PLAIN:
            measure(argument, "a call's argument")
    bound_to = getattr(getattr(callee, "__wrapped__", callee), "__self__", None)
    if isinstance(bound_to, str):
        method = getattr(callee, "__name__", "")
        _check_size(_str_method_size(bound_to, method, args, kwargs), f"str.{method}")


def _lines(text: Any) -> int:
    return str(text).count("\n") + 1 if type(text) in (str, Markup) else 1


def _filter_growth(name: str, value: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The most a filter that can multiply its input returns (0: no more than it reads)."""
    option = dict(zip(_FILTER_OPTIONS.get(name, ()), rest, strict=False)) | kwargs
    if name == "join":
        items = value if isinstance(value, list | tuple | range | str) else ()
        return len(str(option.get("d", ""))) * len(items)
    if name == "replace" and "old" in option and "new" in option:
        return _str_method_size(str(value), "replace", (option["old"], option["new"]), {})
    if name == "indent":
        width = option.get("width", 4)
        return _lines(value) * (width if type(width) is int else len(str(width)))
    if name == "wordwrap":
        width = max(1, int(option.get("width", 79)))
        return (len(str(value)) // width + 1) * (len(str(option.get("wrapstring") or "\n")) + 1)
    if name in ("batch", "slice") and option.get("fill_with") is not None:
        count = option.get("linecount", option.get("slices", 1))
        return int(count) * measure(option["fill_with"], f"| {name}")
    indent = option.get("indent")
    if name == "tojson" and type(indent) is int:
        return measure(value, "| tojson") * (indent + 1)
    if name == "urlize":
        extra = sum(len(str(option.get(k) or "")) for k in ("target", "rel"))
        return (len(str(value).split()) + 1) * extra
    if name == "sum" and type(option.get("start", 0)) not in (int, float):
        raise TooCostly("| sum adds numbers (join text with | join)")
    if name == "format" and isinstance(value, str):
        check_printf(value, (*rest, *kwargs.values()))
    return 0


_FILTER_OPTIONS = {
    "join": ("d", "attribute"),
    "replace": ("old", "new", "count"),
    "indent": ("width", "first", "blank"),
    "wordwrap": ("width", "break_long_words", "wrapstring", "break_on_hyphens"),
    "batch": ("linecount", "fill_with"),
    "slice": ("slices", "fill_with"),
    "tojson": ("indent",),
    "urlize": ("trim_url_limit", "nofollow", "target", "rel", "extra_schemes"),
    "sum": ("attribute", "start"),
}
"""The positional parameters after the value, of the filters `_filter_growth` reads."""
PRINTING_FILTERS = frozenset(
    {
        "string",
        "e",
        "escape",
        "forceescape",
        "safe",
        "upper",
        "lower",
        "title",
        "capitalize",
        "trim",
        "center",
        "indent",
        "wordwrap",
        "truncate",
        "striptags",
        "urlize",
        "replace",
        "format",
        "join",
        "tojson",
        "pprint",
        "urlencode",
        "xmlattr",
        "wordcount",
        "money",
        "format_date",
        "initials",
        "nl2br",
    }
)
"""Filters that turn their value into text: an iterator is read first, then measured as it
will print."""


UNBOUNDED_FILTERS = frozenset(
    {
        "default",
        "d",
        "length",
        "count",
        "first",
        "last",
        "int",
        "float",
        "abs",
        "round",
        "attr",
        "random",
        "min",
        "max",
        "reverse",
        "select",
        "reject",
        "selectattr",
        "rejectattr",
        "map",
        "list",
        "unique",
        "sort",
        "dictsort",
        "items",
        "groupby",
        "filesizeformat",
    }
)
"""Filters that return no more than they are given and print nothing: they need no check (the
values they are given were measured where they were made), and they are most of a template's
filter calls (`default` above all)."""


def _bounded_filter(name: str, filter_: Callable[..., Any]) -> Callable[..., Any]:
    if name in UNBOUNDED_FILTERS:
        return filter_
    takes_context = hasattr(filter_, "jinja_pass_arg")  # @pass_environment, @pass_eval_context
    printing = name in PRINTING_FILTERS
    grows = name in _FILTER_OPTIONS or name == "format"
    what = f"| {name}"

    @functools.wraps(filter_)  # keeps jinja_pass_arg: Jinja still passes the context first
    def bounded(*args: Any, **kwargs: Any) -> Any:
        head, (value, *rest) = (args[:1], args[1:]) if takes_context else ((), args)
        if type(value) not in _PLAIN:
            if printing and isinstance(value, Iterator):
                value = list(value)  # read here, where the watchdog can stop it
            measure(value, what, printed=printing)
        _call_size(filter_, tuple(rest), kwargs)
        if grows:
            _check_size(_filter_growth(name, value, tuple(rest), kwargs), what)
        return filter_(*head, value, *rest, **kwargs)

    return bounded


def _printed_output(value: Any) -> Any:
    """`{{ value }}`: data, within the size bound (the environment's finalize)."""
    if type(value) not in _PLAIN:
        measure(value, "the output", printed=True)
    return value


class OutputBuffer(list[str]):
    """Where a macro, a call block, a filter block or `{% set %}...{% endset %}` collects its
    output: counted as it grows (a loop appending one large value would otherwise hold
    hundreds of megabytes before the time limit stops it)."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def append(self, piece: str) -> None:
        self.size += len(piece)
        _check_size(self.size, "a block's output")
        super().append(piece)

    def extend(self, pieces: Iterable[str]) -> None:
        for piece in pieces:
            self.append(piece)


def _bounded_concat(pieces: Iterable[str]) -> str:
    """Every buffer Jinja joins (a macro's output, a block, `{% set %}...{% endset %}`)."""
    parts = list(pieces)
    _check_size(sum(map(len, parts)), "a block's output")
    return "".join(parts)


class _BoundedCodeGenerator(CodeGenerator):
    """Literals and `~` pass their values through the environment's checks first: a list of
    one large value written a thousand times is a literal, and `~` prints (and joins) in C."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        """Only plain values are printed at compile time; anything else prints when the
        template runs, through the checks (a function folded here would print its address)."""
        if type(node.as_const(frame.eval_ctx)) not in _PLAIN:
            raise nodes.Impossible()
        return str(super()._output_child_to_const(node, frame, finalize))

    def _wrapped(self, check: str, visit: Callable[[], None]) -> None:
        self.write(f"environment.{check}(")
        visit()
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._wrapped("sized", lambda: super(_BoundedCodeGenerator, self).visit_List(node, frame))

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._wrapped("sized", lambda: super(_BoundedCodeGenerator, self).visit_Dict(node, frame))

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "store":  # a loop's or an assignment's targets
            super().visit_Tuple(node, frame)
            return
        self._wrapped("sized", lambda: super(_BoundedCodeGenerator, self).visit_Tuple(node, frame))

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """Jinja's own, with each operand checked as it will print."""
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        else:
            join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        self.write(f"{join}(environment.joinable((")
        for operand in node.nodes:
            self.visit(operand, frame)
            self.write(", ")
        self.write(")))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BoundedCodeGenerator
    concat = staticmethod(_bounded_concat)
    output_buffer = OutputBuffer

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.finalize = _printed_output
        self.globals["namespace"] = BoundedNamespace
        self.globals.pop("lipsum", None)
        self.add_filters(dict(self.filters))

    def add_filters(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        """Filters, each bounded (see `_bounded_filter`)."""
        self.filters.update({name: _bounded_filter(name, f) for name, f in filters.items()})

    def sized(self, value: T) -> T:
        """A literal's value, within the size bound."""
        measure(value, "a literal")
        return value

    def joinable(self, operands: tuple[Any, ...]) -> tuple[Any, ...]:
        """`a ~ b ~ ...`: data, and within the size bound together."""
        total = sum(measure(o, "a ~ operand", printed=True) for o in operands)
        _check_size(total, "a joined value")
        return operands

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _check_size(_measured_size(left) + _measured_size(right), "a joined value")
        elif operator == "**" and isinstance(right, int) and isinstance(left, int | float):
            bits = left.bit_length() if isinstance(left, int) else 64
            if abs(right) > MAX_EXPONENT or bits * abs(right) > MAX_INT_BITS:
                raise TooCostly(f"a power of {right} is over the bound")
        elif operator == "%" and isinstance(left, str):
            check_printf(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _call_size(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _measured_size(value: Any) -> int:
    return measure(value, "a joined value") if isinstance(value, str | list | tuple) else 0


def _check_product(left: Any, right: Any) -> None:
    if type(left) is int and type(right) is int:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TooCostly(f"a product of over {MAX_INT_BITS:,} bits")
        return
    times, sized = (right, left) if isinstance(right, int) else (left, right)
    if isinstance(times, int) and isinstance(sized, str | list | tuple):
        _check_size(measure(sized, "a repeated value") * max(0, times), "a repeated value")


class _Watchdog:
    """One daemon thread that raises TooCostly inside a render still running past its
    budget (CPython's PyThreadState_SetAsyncExc: delivered at the next bytecode, so a Python
    loop stops wherever it is). A render costs one dict entry; nothing traces its lines.

    The budget is the render thread's own CPU time, where the platform can read another
    thread's (Linux, through its CPU-time clock): a render is pure computation, and on a busy
    machine (a Lambda sharing a vCPU, a laptop compiling) wall time also counts the time other
    threads ran, which made an ordinary template fail now and then. Nor does the garbage
    collector's time count (`_Collections`): a collection runs in whichever thread allocates
    past its threshold and walks every object of the process. Wall time, at `WALL_FACTOR`
    times the budget, stays as a backstop (and is the budget where no thread clock exists)."""

    TICK_S = 0.05
    WALL_FACTOR = 20

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[int, _Watched] = {}  # thread id -> its render
        self.fired: set[int] = set()
        self.renders = itertools.count()
        self.thread: threading.Thread | None = None

    def watch(self, seconds: float) -> int:
        render = next(self.renders)
        ident = threading.get_ident()
        watched = _Watched.start(render, ident, seconds, self.WALL_FACTOR)
        with self.lock:
            self.running[ident] = watched
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
            with self.lock:
                for ident, watched in self.running.items():
                    if watched.render not in self.fired and watched.over():
                        self.fired.add(watched.render)
                        _set_async_exc(ident, TooCostly)


class _Collections:
    """Each thread's CPU time in the garbage collector (gc.callbacks): so far, and since when
    it is collecting (None when not), one tuple per thread so another thread reads both at
    once. A gen-2 collection of a large heap takes a good part of a second."""

    def __init__(self) -> None:
        self.threads: dict[int, tuple[float, float | None]] = {}

    def __call__(self, phase: str, info: Mapping[str, Any]) -> None:
        ident, now = threading.get_ident(), time.thread_time()
        spent, since = self.threads.get(ident, (0.0, None))
        if phase == "start":
            self.threads[ident] = (spent, now)
        else:
            self.threads[ident] = (spent + now - (now if since is None else since), None)

    def spent(self, ident: int, cpu_now: float) -> float:
        """`ident`'s collector time at its CPU time `cpu_now`, a collection under way included."""
        spent, since = self.threads.get(ident, (0.0, None))
        return spent + (cpu_now - since if since is not None else 0.0)


_collections = _Collections()
gc.callbacks.append(_collections)


class _Watched:
    """A render under watch: its thread's CPU-time clock (None where there is none), the CPU
    time it may reach (the collector's not counted), and the wall-clock backstop."""

    __slots__ = ("cpu_clock", "cpu_until", "ident", "render", "wall_until")

    def __init__(
        self, render: int, ident: int, cpu_clock: int | None, cpu_until: float, wall_until: float
    ) -> None:
        self.render = render
        self.ident = ident
        self.cpu_clock = cpu_clock
        self.cpu_until = cpu_until
        self.wall_until = wall_until

    @classmethod
    def start(cls, render: int, ident: int, seconds: float, wall_factor: float) -> _Watched:
        try:
            clock = time.pthread_getcpuclockid(ident)
            cpu = time.clock_gettime(clock)
        except (AttributeError, OSError):  # no per-thread CPU clock here: wall time it is
            return cls(render, ident, None, 0.0, time.monotonic() + seconds)
        until = cpu - _collections.spent(ident, cpu) + seconds
        return cls(render, ident, clock, until, time.monotonic() + seconds * wall_factor)

    def over(self) -> bool:
        if time.monotonic() > self.wall_until:
            return True
        if self.cpu_clock is None:
            return False
        try:
            cpu = time.clock_gettime(self.cpu_clock)
        except OSError:  # the thread is gone: nothing left to stop
            return False
        return cpu - _collections.spent(self.ident, cpu) > self.cpu_until


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
        ticket = _watchdog.watch(self.seconds)
        try:
            try:
                return render()
            finally:
                _watchdog.done(ticket)
        except TooCostly as exc:
            if exc.args and exc.args[0]:
                raise
            raise TooCostly(
                f"rendering took longer than {self.seconds} s of CPU (a loop too large?)"
            ) from None


_PIECES_AT_A_TIME = 64


def render_bounded(
    template: jinja2.Template, variables: dict[str, Any], globals_: dict[str, Any]
) -> str:
    """The template's output, at most MAX_OUTPUT_CHARS (TooCostly past it): counted as the
    template produces it, a few pieces at a time (what `Template.render` does, plus the count;
    counting each piece in Python would cost a fifth of a render).

    `variables` already holds the template's globals (`globals_`, flattened) under its own
    names, merged once by the caller for every part of a message: `Template.render` merges
    them into a new dict per part, walking the ChainMap Jinja keeps them in, twice."""
    pieces: list[str] = []
    size = 0
    env = template.environment
    try:
        context = env.context_class(env, variables, template.name, template.blocks, globals_)
        produced = template.root_render_func(context)
        while chunk := list(itertools.islice(produced, _PIECES_AT_A_TIME)):
            size += sum(map(len, chunk))
            if size > MAX_OUTPUT_CHARS:
                raise TooCostly(f"the output is over the limit of {MAX_OUTPUT_CHARS:,} characters")
            pieces += chunk
    except Exception:
        template.environment.handle_exception()  # the traceback as template lines
    return "".join(pieces)
