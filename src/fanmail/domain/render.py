"""Jinja rendering of a campaign's subject, HTML and text parts, in a sandbox.

A template is a folder under `templates/`: `subject.txt.j2`, `body.html.j2` and optionally
`body.txt.j2` (without it, the text part is derived from the HTML). Only `.html*` files are
autoescaped; every environment is a `SandboxedEnvironment` with `StrictUndefined`, so a missing
variable is an error (templates use `| default(...)` where a value is optional).
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from fanmail.domain.errors import TemplateProblem

SUBJECT_FILE = "subject.txt.j2"
HTML_FILE = "body.html.j2"
TEXT_FILE = "body.txt.j2"
SUBJECT_MAX_CHARS = 255
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    html: str
    text: str


def make_environment(loader: jinja2.BaseLoader) -> SandboxedEnvironment:
    return SandboxedEnvironment(
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
    )


def one_line(value: str) -> str:
    """Fold every run of whitespace (CR and LF included) into one space: no header injection."""
    return _WHITESPACE.sub(" ", value).strip()


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "tr", "h1", "h2", "h3", "h4", "li", "table", "hr"})
    _SKIP = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self._href:
            self.parts.append(f" <{self._href}>")
            self._href = None

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """A plain-text alternative for templates that ship only HTML."""
    extractor = _TextExtractor()
    extractor.feed(html)
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _template_line(exc: BaseException) -> tuple[str | None, int | None]:
    """The template file and line a render error came from (Jinja rewrites tracebacks so)."""
    found: tuple[str | None, int | None] = (None, None)
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename == "<template>":
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _problem(template: str, exc: BaseException) -> TemplateProblem:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or exc.name or template
        return TemplateProblem(f"template {where!r}, line {exc.lineno}: {exc.message}")
    if isinstance(exc, jinja2.TemplateNotFound):
        return TemplateProblem(f"template {template!r}: file {exc.name!r} not found")
    filename, line = _template_line(exc)
    where = f"template {(filename or template)!r}" + (f", line {line}" if line else "")
    return TemplateProblem(f"{where}: {type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    name: str
    subject: jinja2.Template
    html: jinja2.Template
    text: jinja2.Template | None
    variables: frozenset[str]

    def render(self, context: Mapping[str, Any]) -> RenderedMessage:
        try:
            subject = one_line(self.subject.render(context))
            html = self.html.render(context)
            text = self.text.render(context) if self.text is not None else html_to_text(html)
        except Exception as exc:  # any error inside a template is the template's problem
            raise _problem(self.name, exc).with_traceback(None) from None
        if not subject:
            raise TemplateProblem(f"template {self.name!r}: the subject rendered empty")
        if len(subject) > SUBJECT_MAX_CHARS:
            raise TemplateProblem(
                f"template {self.name!r}: the subject is {len(subject)} characters, "
                f"over the limit of {SUBJECT_MAX_CHARS}"
            )
        return RenderedMessage(subject=subject, html=html, text=text)


class TemplateRenderer:
    """Compiles named templates once; compiled templates are reused for every recipient."""

    def __init__(self, loader: jinja2.BaseLoader) -> None:
        self.environment = make_environment(loader)

    def available(self) -> list[str]:
        names = self.environment.list_templates(filter_func=lambda n: n.endswith("/" + HTML_FILE))
        return sorted(n.rsplit("/", 1)[0] for n in names)

    def compile(self, name: str, subject_override: str | None = None) -> CompiledTemplate:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
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
                current = f"{name} (campaign subject)"
                subject = env.from_string(subject_override)
            else:
                current = f"{name}/{SUBJECT_FILE}"
                subject = env.get_template(current)
            variables = self._variables(name, subject_override)
        except jinja2.TemplateNotFound as exc:
            if exc.name == f"{name}/{HTML_FILE}":
                raise TemplateProblem(
                    f"template {name!r} not found (known: {', '.join(self.available()) or 'none'})"
                ) from None
            raise _problem(current, exc) from None
        except jinja2.TemplateError as exc:
            raise _problem(current, exc) from None
        return CompiledTemplate(name, subject, html, text, variables)

    def _exists(self, path: str) -> bool:
        try:
            self.environment.get_template(path)
        except jinja2.TemplateNotFound:
            return False
        return True

    def _variables(self, name: str, subject_override: str | None) -> frozenset[str]:
        """Top-level names the template's own files use (a hint for projection and reports)."""
        env = self.environment
        loader = env.loader
        assert loader is not None
        sources = [] if subject_override is None else [subject_override]
        for part in (SUBJECT_FILE, HTML_FILE, TEXT_FILE):
            if part == SUBJECT_FILE and subject_override is not None:
                continue
            try:
                sources.append(loader.get_source(env, f"{name}/{part}")[0])
            except jinja2.TemplateNotFound:
                continue
        names: set[str] = set()
        for source in sources:
            names |= jinja2.meta.find_undeclared_variables(env.parse(source))
        return frozenset(names)


def render_context(
    *,
    campaign_id: str,
    variables: Mapping[str, Any],
    email: str,
    attributes: Mapping[str, Any],
    extras: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The names a template sees. Precedence, lowest first: campaign variables, subscriber
    attributes, then fanmail's own names (`email`, `subscriber`, `campaign`, and `extras` such as
    `unsubscribe_url`)."""
    context: dict[str, Any] = {**variables, **attributes}
    context["email"] = email
    context["subscriber"] = {**attributes, "email": email}
    context["campaign"] = {**variables, "id": campaign_id}
    if extras:
        context.update(extras)
    return context
