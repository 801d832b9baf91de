"""Templates written as data: saved as versions, listed beside the shipped ones, read back, and
the loader that lets the renderer (every sender's too) compile a campaign's pinned version."""

from __future__ import annotations

from collections.abc import Callable

import jinja2

from fanmail.domain.errors import Conflict, InvalidInput, NotFound
from fanmail.domain.render import TemplateParts, TemplateRenderer
from fanmail.domain.stored_templates import (
    TemplateVersion,
    check_template_name,
    parse_reference,
    reference,
)
from fanmail.ports import Clock, TemplateStore

MAX_STORED_BYTES = 350_000
"""A version is one DynamoDB item (at most 400 KB): its parts together, in UTF-8."""


class StoredTemplateLoader(jinja2.BaseLoader):
    """`NAME@vN/body.html.j2` (and the subject and text) from the store; anything else is not
    found here (the shipped templates' loader answers for it)."""

    def __init__(self, store: TemplateStore) -> None:
        self.store = store

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        folder, _, _ = template.partition("/")
        pinned = parse_reference(folder)
        found = self.store.get(*pinned) if pinned else None
        source = found.parts.files(folder).get(template) if found else None
        if source is None:
            raise jinja2.TemplateNotFound(template)
        return source, None, lambda: True  # a stored version never changes

    def list_templates(self) -> list[str]:
        return []  # a campaign names a stored template by its reference, never by listing


class StoredTemplates:
    def __init__(self, *, store: TemplateStore, renderer: TemplateRenderer, clock: Clock) -> None:
        self.store = store
        self.renderer = renderer
        self.clock = clock

    def save(self, name: str, parts: TemplateParts) -> TemplateVersion:
        """The name's next version, once it compiles (a shipped name is refused)."""
        check_template_name(name)
        if name in self.renderer.available():
            raise Conflict(f"{name!r} is a shipped template: choose another name")
        size = sum(len(p.encode("utf-8")) for p in (parts.subject, parts.html, parts.text))
        if size > MAX_STORED_BYTES:
            raise InvalidInput(f"the template is {size:,} bytes, over {MAX_STORED_BYTES:,}")
        self.renderer.with_parts(name, parts).campaign_template(name)  # TemplateProblem: why
        return self.store.add_version(name, parts, self.clock.now())

    def get(self, name: str, version: int | None = None) -> TemplateVersion:
        found = self.store.get(check_template_name(name), version)
        if found is None:
            which = f"version {version} of " if version else ""
            raise NotFound(f"{which}template {name!r} not found")
        return found

    def latest(self) -> list[TemplateVersion]:
        return self.store.latest()

    def pin(self, template: str) -> str:
        """What a campaign stores: a shipped name as it is, a stored name as its latest
        version's reference (`welcome@v3`), a reference checked to exist."""
        pinned = parse_reference(template)
        if pinned is not None:
            return self.get(*pinned).reference
        if template in self.renderer.available():
            return template
        found = self.store.get(check_template_name(template))
        return reference(found.name, found.version) if found else template
