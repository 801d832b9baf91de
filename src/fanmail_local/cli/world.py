"""One local world: `fanmail serve` says where its stand-in and dashboard are in a file, and the
other commands act on that stand-in when no AWS_ENDPOINT_URL is given. Work that runs the
functions (a send, a resume, a test send) is handed to the server's admin API, so it runs in
the server: it goes on after the command returns, and its mail is in the dashboard's outbox.

The file is `$XDG_RUNTIME_DIR/fanmail/endpoint.json` (else `fanmail-UID` in the temporary
folder): per user, in a folder only its owner may enter. One serve owns it at a time: it holds a
lock beside it while it runs, and a second serve refuses to start (replacing the file, then
removing it on exit, would leave the first running where no command finds it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from fanmail.domain.errors import FanmailError
from fanmail_local.cli.output import say

REQUEST_TIMEOUT_S = 30.0


def endpoint_file() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = (
        Path(runtime) / "fanmail"
        if runtime
        else Path(tempfile.gettempdir()) / f"fanmail-{os.getuid()}"
    )
    return folder / "endpoint.json"


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A running `fanmail serve`: its stand-in (AWS_ENDPOINT_URL), its API and dashboard."""

    endpoint: str
    url: str
    pid: int
    token_file: str | None = None

    def write(self, path: Path) -> None:
        """Written whole (a reader never sees half a file), in a folder only this user enters."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        owned_folder(path.parent)
        staged = path.with_name(f".{path.name}.{self.pid}")
        staged.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        staged.replace(path)

    def remove(self, path: Path) -> None:
        """The file, if it is still this server's (a later server may have replaced it)."""
        if found_server(path, quiet=True) == self:
            path.unlink(missing_ok=True)

    def post(self, path: str, body: object = None, headers: dict[str, str] | None = None) -> Any:
        """An admin API call to the server, as the dashboard makes it; its error, one line."""
        request = urllib.request.Request(  # noqa: S310 (the server's own http URL)
            self.url + urllib.parse.quote(path),
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"content-type": "application/json", **(headers or {}), **self._token()},
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as answer:  # noqa: S310
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as refused:
            raise FanmailError(api_error(refused)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise FanmailError(f"`fanmail serve` at {self.url} did not answer ({exc})") from None

    def _token(self) -> dict[str, str]:
        if not self.token_file:
            return {}
        try:
            token = Path(self.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise FanmailError(f"cannot read the server's --token-file ({exc})") from None
        return {"authorization": f"Bearer {token}"}


def claim(path: Path) -> IO[bytes]:
    """The lock that makes this process the one `fanmail serve` of this user's world: held
    (the file kept open) while it runs; the kernel drops it when the process ends, even by
    kill -9, so a dead serve never blocks the next. Refused, naming the owner, while another
    serve holds it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    owned_folder(path.parent)
    lock = path.with_name(f"{path.name}.lock").open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise FanmailError(already_served(path, found_server(path, quiet=True))) from None
    return lock


def already_served(path: Path, owner: LocalServer | None) -> str:
    """Why a second serve does not start, and how to stop the first."""
    if owner is None:
        return (
            f"another `fanmail serve` is starting (it holds {path}.lock): wait for it, or "
            "stop it, before starting one here"
        )
    return (
        f"`fanmail serve` already runs (pid {owner.pid}; dashboard {owner.url}/, stand-in "
        f"{owner.endpoint}) and the other commands act on it. Stop it first (Ctrl-C in its "
        f"terminal, or `kill {owner.pid}`: its data is in memory and goes with it), or give "
        "this one a world of its own: XDG_RUNTIME_DIR=$(mktemp -d) fanmail serve ..."
    )


def api_error(refused: urllib.error.HTTPError) -> str:
    """The API's own sentence ({"error": {"message": ...}}), else the status."""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        message = json.loads(refused.read())["error"]["message"]
        if isinstance(message, str):
            return message
    return f"the server answered {refused.code} {refused.reason}"


def owned_folder(folder: Path) -> None:
    """Refuses a folder another user made (or a link to one): its file would steer the CLI."""
    found = folder.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o022:
        raise FanmailError(f"{folder} is not a folder of yours that only you may write to")


def found_server(path: Path | None = None, *, quiet: bool = False) -> LocalServer | None:
    """The running server the file names; a file that does not read, or whose server is gone,
    is ignored with a sentence saying so (unless `quiet`)."""
    path = path or endpoint_file()
    try:
        owned_folder(path.parent)
        data = json.loads(path.read_text(encoding="utf-8"))
        server = LocalServer(
            endpoint=str(data["endpoint"]),
            url=str(data["url"]),
            pid=int(data["pid"]),
            token_file=data.get("token_file"),
        )
    except FileNotFoundError:
        return None
    except (FanmailError, OSError, ValueError, KeyError, TypeError) as exc:
        if not quiet:
            say(f"fanmail: ignoring {path}: it does not read as `fanmail serve`'s file ({exc})")
        return None
    if not running(server.pid):
        if not quiet:
            say(
                f"fanmail: ignoring {path}: the `fanmail serve` that wrote it (pid {server.pid}) "
                "is no longer running"
            )
        return None
    return server


def running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has that pid now
        return False
    return True
