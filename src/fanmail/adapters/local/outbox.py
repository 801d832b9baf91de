"""A Mailer decorator that keeps every accepted message as an `.eml` file, plus an index page.

The `.eml` is the MIME message equivalent to the sesv2 Simple content that was sent (SES builds
the same multipart/alternative from it); local SES stand-ins keep only parts of it.
"""

from __future__ import annotations

import html
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
        self._lock = threading.Lock()

    def send(self, email: OutgoingEmail) -> str:
        message_id = self.inner.send(email)
        with self._lock:
            index = len(self.entries)
            name = f"{index:06d}-{re.sub(r'[^A-Za-z0-9@._-]', '_', email.to)[:80]}.eml"
            self.entries.append((name, email.to, email.subject))
        (self.directory / name).write_bytes(bytes(to_mime(email, message_id)))
        return message_id

    def write_index(self, path: Path, title: str) -> None:
        rows = "\n".join(
            f"<tr><td>{i + 1}</td><td>{html.escape(to)}</td>"
            f'<td><a href="{html.escape(self.directory.name)}/{html.escape(name)}">'
            f"{html.escape(subject)}</a></td></tr>"
            for i, (name, to, subject) in enumerate(self.entries)
        )
        path.write_text(
            "<!doctype html><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;"
            "border-bottom:1px solid #ddd;text-align:left}</style>"
            f"<h1>{html.escape(title)}</h1><p>{len(self.entries)} messages</p>"
            f"<table><tr><th>#</th><th>To</th><th>Subject</th></tr>{rows}</table>\n",
            encoding="utf-8",
        )
