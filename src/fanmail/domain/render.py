"""Jinja rendering of a campaign's subject, HTML and text parts, in a sandbox.

A template is a folder under `templates/`: `subject.txt.j2`, `body.html.j2` and optionally
`body.txt.j2` (without it, the text part is derived from the HTML). Only `.html*` files are
autoescaped; every environment is a `SandboxedEnvironment` with `StrictUndefined`, so a missing
variable is an error (templates use `| default(...)` where a value is optional).
"""

from __future__ import annotations

import re
import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from typing import Any

import jinja2
import jinja2.meta
from markupsafe import Markup, escape

from fanmail.domain.errors import TemplateProblem
from fanmail.domain.sandbox import BoundedEnvironment, RenderClock, render_bounded

SUBJECT_FILE = "subject.txt.j2"
OVERRIDE = "(campaign subject)"
HTML_FILE = "body.html.j2"
TEXT_FILE = "body.txt.j2"
SUBJECT_MAX_CHARS = 255
SYSTEM = frozenset({"confirm"})
"""Templates of the mails fanmail sends itself; a campaign cannot use them."""
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    html: str
    text: str


def money(value: Any, currency: str = "EUR") -> str:
    """`{{ total | money("USD") }}` -> "1,234.50 USD"; text that is not a number passes as is."""
    try:
        return f"{float(value):,.2f} {currency}"
    except (TypeError, ValueError):
        return str(value)


def format_date(value: Any, fmt: str = "%-d %B %Y") -> str:
    """`{{ renewal | format_date }}` for an ISO date or datetime ("2026-12-01" -> 1 December
    2026); anything else passes as is."""
    try:
        return datetime.fromisoformat(str(value)).strftime(fmt)
    except ValueError:
        return str(value)


def initials(value: Any) -> str:
    """`{{ "Ada Lovelace" | initials }}` -> "AL"."""
    return "".join(part[0].upper() for part in str(value).split() if part)


def nl2br(value: Any) -> Markup:
    """Line breaks of (escaped) text as <br>, for multi-line attributes in HTML."""
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


FILTERS = {"money": money, "format_date": format_date, "initials": initials, "nl2br": nl2br}


def make_environment(loader: jinja2.BaseLoader) -> BoundedEnvironment:
    environment = BoundedEnvironment(
        loader=loader,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "html.j2"),
            disabled_extensions=("txt", "txt.j2"),
            default_for_string=False,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates do not change under a running function; without this every render of a
        # template that extends or imports another stats its files (bench/render.py shows it).
        auto_reload=False,
    )
    environment.add_filters(FILTERS)
    return environment


def one_line(value: str) -> str:
    """Fold every run of whitespace (CR and LF included) into one space: no header injection."""
    return _WHITESPACE.sub(" ", value).strip()


_HIDDEN = re.compile(  # each span stops at the next opening: linear, unclosed tags or not
    r"<(style|script|head|title)\b(?:(?!<\1\b).)*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_LINK = re.compile(
    r"<a\b[^>]*?href=[\"']([^\"']*)[\"'][^>]*>((?:(?!<a\b).)*?)</a\s*>", re.I | re.DOTALL
)
_BLOCK = re.compile(r"</?(p|div|br|tr|h[1-6]|li|table|hr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """A plain-text alternative for templates that ship only HTML: blocks become lines, links
    become "text <href>", other tags go. Regular expressions rather than an HTML parser: it runs
    once per email, and html.parser costs several times more for a template's HTML."""
    text = _HIDDEN.sub("", html)
    text = _LINK.sub(lambda m: f"{m.group(2)} \x00{m.group(1)}\x01", text)
    text = _BLOCK.sub("\n", text)
    text = unescape(_TAG.sub("", text)).replace("\x00", "<").replace("\x01", ">")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


def _template_line(exc: BaseException) -> tuple[str | None, int | None]:
    """The template file and line a render error came from (Jinja rewrites tracebacks so)."""
    found: tuple[str | None, int | None] = (None, None)
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".j2", OVERRIDE)) or filename == "<template>":
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _shown(filename: str | None, roots: tuple[str, ...]) -> str | None:
    """A template file as its path under the templates folder: an error message shows where to
    look, not where the server keeps it."""
    if filename is None:
        return None
    for root in roots:
        prefix = root.rstrip("/") + "/"
        if filename.startswith(prefix):
            return filename[len(prefix) :]
    return filename


def _problem(template: str, exc: BaseException, roots: tuple[str, ...] = ()) -> TemplateProblem:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.name or _shown(exc.filename, roots) or template
        return TemplateProblem(f"template {where!r}, line {exc.lineno}: {exc.message}")
    if isinstance(exc, jinja2.TemplateNotFound):
        return TemplateProblem(f"template {template!r}: file {exc.name!r} not found")
    filename, line = _template_line(exc)
    shown = template if filename in (None, "<template>") else _shown(filename, roots)
    where = f"template {shown!r}" + (f", line {line}" if line else "")
    return TemplateProblem(f"{where}: {type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    name: str
    subject: jinja2.Template
    html: jinja2.Template
    text: jinja2.Template | None
    variables: frozenset[str]
    globals_: dict[str, Any]
    """The environment's globals, flattened once: every part is loaded without globals of
    its own, so they are the same for all three."""
    roots: tuple[str, ...] = ()

    def _render_parts(self, context: Mapping[str, Any]) -> tuple[str, str, str]:
        """The subject first: the body sees it as `subject` (the HTML's <title>)."""
        variables = {**self.globals_, **context}
        subject = one_line(render_bounded(self.subject, variables, self.globals_))
        variables = {**variables, "subject": subject}
        html = render_bounded(self.html, variables, self.globals_)
        text = (
            render_bounded(self.text, variables, self.globals_)
            if self.text is not None
            else html_to_text(html)
        )
        return subject, html, text

    def render(self, context: Mapping[str, Any]) -> RenderedMessage:
        """The three parts, within the sandbox's time and size bounds (see domain.sandbox)."""
        try:
            subject, html, text = RenderClock().run(lambda: self._render_parts(context))
        except Exception as exc:  # any error inside a template is the template's problem
            raise _problem(self.name, exc, self.roots).with_traceback(None) from None
        if not subject:
            raise TemplateProblem(f"template {self.name!r}: the subject rendered empty")
        if len(subject) > SUBJECT_MAX_CHARS:
            raise TemplateProblem(
                f"template {self.name!r}: the subject is {len(subject)} characters, "
                f"over the limit of {SUBJECT_MAX_CHARS}"
            )
        return RenderedMessage(subject=subject, html=html, text=text)


MAX_PART_CHARS = 200_000
"""A template part written in the editor or the API (shipped files are the repository's)."""


@dataclass(frozen=True, slots=True)
class TemplateParts:
    """A template as data: a subject, an HTML part and a text part ("": derived from the
    HTML), rendered by the same sandbox, with the same bounds, as a shipped template."""

    subject: str
    html: str
    text: str = ""

    def __post_init__(self) -> None:
        for part, value in (("subject", self.subject), ("html", self.html), ("text", self.text)):
            if len(value) > MAX_PART_CHARS:
                raise TemplateProblem(
                    f"the {part} part is {len(value):,} characters, over {MAX_PART_CHARS:,}"
                )
            if "\x00" in value:
                raise TemplateProblem(f"the {part} part holds a NUL character")
        if not self.subject.strip():
            raise TemplateProblem("the subject part is empty")
        if not self.html.strip():
            raise TemplateProblem("the html part is empty")

    def files(self, name: str) -> dict[str, str]:
        """The parts as the files of a template folder named `name`."""
        found = {f"{name}/{SUBJECT_FILE}": self.subject, f"{name}/{HTML_FILE}": self.html}
        if self.text.strip():
            found[f"{name}/{TEXT_FILE}"] = self.text
        return found


class TemplateRenderer:
    """Compiles named templates once; compiled templates are reused for every recipient."""

    def __init__(self, loader: jinja2.BaseLoader) -> None:
        self.environment = make_environment(loader)
        self._parsed: dict[str, _SourceFacts] = {}
        self._facts_lock = threading.Lock()
        loaders = getattr(loader, "loaders", [loader])  # a ChoiceLoader's, or the one
        self.roots = tuple(str(p) for one in loaders for p in getattr(one, "searchpath", []))

    def with_parts(self, name: str, parts: TemplateParts) -> TemplateRenderer:
        """A renderer that sees `parts` as template `name`, over the shipped ones: a template
        written as data can extend the shipped layouts and import their partials."""
        assert self.environment.loader is not None
        shipped = getattr(self.environment.loader, "loaders", [self.environment.loader])
        return TemplateRenderer(  # flat: a file's error names it under its root, not the server's
            jinja2.ChoiceLoader([jinja2.DictLoader(parts.files(name)), *shipped])
        )

    def available(self) -> list[str]:
        """The campaign templates (not the system mails, such as the sign-up confirmation)."""
        names = self.environment.list_templates(filter_func=lambda n: n.endswith("/" + HTML_FILE))
        return sorted(n.rsplit("/", 1)[0] for n in names if n.rsplit("/", 1)[0] not in SYSTEM)

    def campaign_template(self, name: str, subject_override: str | None = None) -> CompiledTemplate:
        """A template a campaign may use: any but the system mails'."""
        if name in SYSTEM:
            raise TemplateProblem(f"template {name!r} is fanmail's own mail, not for campaigns")
        return self.compile(name, subject_override)

    def compile(self, name: str, subject_override: str | None = None) -> CompiledTemplate:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}(@v[1-9][0-9]{0,7})?", name):
            raise TemplateProblem(
                f"template name {name!r} is not valid: use letters, digits, '-' and '_'"
            )
        env = self.environment
        current = f"{name}/{HTML_FILE}"
        try:
            html = env.get_template(current)
            current = f"{name}/{TEXT_FILE}"
            text = env.get_template(current) if self._exists(current) else None
            if subject_override is not None:
                current = f"{name} {OVERRIDE}"  # its errors' file, when it renders too
                code = env.compile(subject_override, filename=current)
                subject = env.template_class.from_code(env, code, env.make_globals(None))
            else:
                current = f"{name}/{SUBJECT_FILE}"
                subject = env.get_template(current)
            variables = self._variables(name, subject_override)
            for current in self._tree(name):
                env.get_template(current)  # compiled now: a render's CPU budget is its own
        except jinja2.TemplateNotFound as exc:
            if exc.name == f"{name}/{HTML_FILE}":
                raise TemplateProblem(
                    f"template {name!r} not found (known: {', '.join(self.available()) or 'none'})"
                ) from None
            raise _problem(current, exc, self.roots) from None
        except jinja2.TemplateError as exc:
            raise _problem(current, exc, self.roots) from None
        return CompiledTemplate(name, subject, html, text, variables, dict(env.globals), self.roots)

    def _exists(self, path: str) -> bool:
        try:
            self.environment.get_template(path)
        except jinja2.TemplateNotFound:
            return False
        return True

    def _variables(self, name: str, subject_override: str | None) -> frozenset[str]:
        """Top-level names the template reads, through its layouts, includes and imports."""
        return frozenset(self.usage(name, subject_override))

    def usage(self, name: str, subject_override: str | None = None) -> dict[str, bool]:
        """Each name the template (and what it extends, includes, imports) reads, with whether
        it is required: False when every use is guarded (`| default(...)`, `is defined`).
        Attributes read as `subscriber.NAME` count as NAME."""
        sources = [] if subject_override is None else [subject_override]
        sources += self._sources(name, with_subject=subject_override is None).values()
        usage: dict[str, bool] = {}
        for source in sources:
            facts = self._facts(source)
            for used, guarded in facts.uses:
                if used in facts.declared:
                    continue
                usage[used] = usage.get(used, False) or not guarded
        return usage

    def _tree(self, name: str) -> list[str]:
        """Every template file the named one extends, includes or imports (Jinja compiles those
        on first use: inside a render, unless compiled beforehand)."""
        return list(self._sources(name, with_subject=True))

    def _sources(self, name: str, *, with_subject: bool) -> dict[str, str]:
        """The sources of the named template and of what it references, by path."""
        env = self.environment
        loader = env.loader
        assert loader is not None
        pending = [f"{name}/{HTML_FILE}", f"{name}/{TEXT_FILE}"]
        if with_subject:
            pending.append(f"{name}/{SUBJECT_FILE}")
        found: dict[str, str] = {}
        while pending:
            path = pending.pop()
            if path in found:
                continue
            try:
                found[path] = loader.get_source(env, path)[0]
            except jinja2.TemplateNotFound:
                continue
            pending.extend(self._facts(found[path]).referenced)
        return found

    def _facts(self, source: str) -> _SourceFacts:
        """What one template source references, declares and reads, parsed once per source
        text: every sender compiles its campaign's template, parsing is most of that, and a
        small campaign's first send waits for it in each sender, under one GIL."""
        with self._facts_lock:
            found = self._parsed.get(source)
        if found is None:
            tree = self.environment.parse(source)
            referenced = tuple(t for t in jinja2.meta.find_referenced_templates(tree) if t)
            found = _SourceFacts(referenced, frozenset(_declared_names(tree)), _name_uses(tree))
            with self._facts_lock:
                if len(self._parsed) >= 256:
                    self._parsed.clear()
                self._parsed[source] = found
        return found


@dataclass(frozen=True, slots=True)
class _SourceFacts:
    referenced: tuple[str, ...]
    declared: frozenset[str]
    uses: list[tuple[str, bool]]


def _declared_names(tree: jinja2.nodes.Template) -> set[str]:
    names = {n.name for n in tree.find_all(jinja2.nodes.Name) if n.ctx in ("store", "param")}
    names |= {m.name for m in tree.find_all(jinja2.nodes.Macro)}
    for node in tree.find_all(jinja2.nodes.FromImport):
        names |= {n if isinstance(n, str) else n[1] for n in node.names}
    return names


def _name_uses(tree: jinja2.nodes.Node) -> list[tuple[str, bool]]:
    """(name, guarded) for every read of a variable; `subscriber.x` reads as `x`. A read is
    guarded inside `| default(...)`, in an `is defined` test, and in the body of an
    `{% if NAME is defined %}`."""
    uses: list[tuple[str, bool]] = []

    def name_of(node: jinja2.nodes.Node) -> str | None:
        if isinstance(node, jinja2.nodes.Name):
            return node.name
        if (
            isinstance(node, jinja2.nodes.Getattr)
            and isinstance(node.node, jinja2.nodes.Name)
            and node.node.name == "subscriber"
        ):
            return node.attr
        return None

    def visit(node: jinja2.nodes.Node, guarded: bool, safe: frozenset[str]) -> None:
        name = name_of(node)
        if name is not None and not (isinstance(node, jinja2.nodes.Name) and node.ctx != "load"):
            uses.append((name, guarded or name in safe))
            return
        if isinstance(node, jinja2.nodes.Filter) and node.name == "default":
            if node.node is not None:
                visit(node.node, True, safe)
            for child in (*node.args, *[k.value for k in node.kwargs]):
                visit(child, guarded, safe)
            return
        if isinstance(node, jinja2.nodes.Test) and node.name == "defined":
            visit(node.node, True, safe)
            return
        if isinstance(node, jinja2.nodes.If):
            tested = node.test
            checked = (
                name_of(tested.node)
                if isinstance(tested, jinja2.nodes.Test) and tested.name == "defined"
                else None
            )
            visit(tested, guarded, safe)
            inner = safe | {checked} if checked else safe
            for statement in node.body:
                visit(statement, guarded, inner)
            for branch in (*node.elif_, *node.else_):
                visit(branch, guarded, safe)
            return
        for sub in node.iter_child_nodes():
            visit(sub, guarded, safe)

    visit(tree, False, frozenset())
    return uses


def render_context(
    *,
    campaign_id: str,
    variables: Mapping[str, Any],
    email: str,
    attributes: Mapping[str, Any],
    extras: Mapping[str, Any] | None = None,
    list_info: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The names a template sees. Precedence, lowest first: campaign variables, subscriber
    attributes, then fanmail's own names (`email`, `subscriber`, `campaign`, and `extras` such as
    `unsubscribe_url`)."""
    context: dict[str, object] = {**variables, **attributes}
    context["email"] = email
    context["subscriber"] = {**attributes, "email": email}
    context["campaign"] = {**variables, "id": campaign_id}
    context["list"] = dict(list_info or {})
    if extras:
        context.update(extras)
    return context
