"""Templates written as data, in memory (the DynamoDB adapter's contract)."""

from __future__ import annotations

import threading

from fanmail.domain.render import TemplateParts
from fanmail.domain.stored_templates import TemplateVersion


class MemoryTemplateStore:
    def __init__(self) -> None:
        self._versions: dict[str, list[TemplateVersion]] = {}
        self._lock = threading.Lock()

    def add_version(self, name: str, parts: TemplateParts, at: float) -> TemplateVersion:
        with self._lock:
            versions = self._versions.setdefault(name, [])
            added = TemplateVersion(name, len(versions) + 1, parts, at)
            versions.append(added)
            return added

    def get(self, name: str, version: int | None = None) -> TemplateVersion | None:
        with self._lock:
            versions = self._versions.get(name, [])
            if version is None:
                return versions[-1] if versions else None
            return versions[version - 1] if 0 < version <= len(versions) else None

    def latest(self) -> list[TemplateVersion]:
        with self._lock:
            return [self._versions[name][-1] for name in sorted(self._versions)]
