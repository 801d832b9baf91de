"""A Mailer decorator that keeps every accepted message as an `.eml` file (and its HTML part as
an `.html` file a browser shows).

The `.eml` is the MIME message equivalent to the sesv2 Simple content that was sent (SES builds
the same multipart/alternative from it); local SES stand-ins keep only parts of it.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from fanmail.domain.message import to_mime
from fanmail.domain.model import OutgoingEmail
from fanmail.ports import Mailer


class RecordingMailer:
    def __init__(self, inner: Mailer, directory: Path) -> None:
        self.inner = inner
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.entries: list[tuple[str, str, str]] = []
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def send(self, email: OutgoingEmail) -> str:
        message_id = self.inner.send(email)
        with self._lock:
            index = len(self.entries)
            name = f"{index:06d}-{re.sub(r'[^A-Za-z0-9@._-]', '_', email.to)[:80]}.eml"
            self.entries.append((name, email.to, email.subject))
            self._names.add(name)
        (self.directory / name).write_bytes(bytes(to_mime(email, message_id)))
        (self.directory / name).with_suffix(".html").write_text(email.html, encoding="utf-8")
        return message_id

    def listing(self) -> list[tuple[str, str, str]]:
        """(file name, to, subject) of every message, oldest first."""
        with self._lock:
            return list(self.entries)

    def message(self, name: str) -> bytes | None:
        """One message as sent; only a name this outbox wrote (no path reaches elsewhere)."""
        with self._lock:
            known = name in self._names
        try:
            return (self.directory / name).read_bytes() if known else None
        except FileNotFoundError:  # listed a moment before it is written
            return None
