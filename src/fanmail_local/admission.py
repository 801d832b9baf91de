"""Who may drive the local console (`fanmail serve`, and `serve --aws`, which signs what it
forwards with the operator's AWS credentials): the operator's own dashboard and tools on the
same machine, never another web page.

- DNS rebinding: a page whose name the attacker re-points at 127.0.0.1 sends its own name as
  Host, so Host must name the address the console is bound to (loopback names only).
- Cross-site requests: a browser marks every request with `Sec-Fetch-Site` and every
  cross-origin POST with `Origin`; anything not same-origin is refused (a cross-site link to
  the dashboard page itself still opens it).
- Same-origin browser requests to the API carry the token the dashboard page was served with
  (a header a cross-site page cannot set without a preflight, which is refused too). Tools
  that send no browser markers at all (curl, scripts) are the operator's, on this machine.
- Listening beyond loopback needs an operator token: then every request but the dashboard's
  static files and the public pages carries it (`Authorization: Bearer` or `X-Fanmail-Token`),
  and Host cannot be known in advance, so the token is what is checked.

The public pages (`/u/`, `/p/`, `/c/`, `/subscribe`) are anyone's, as on the deployed public
API, once Host is right.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

from fanmail_local.console import FILES

PUBLIC_PATHS = ("/u/", "/p/", "/c/", "/e/", "/subscribe")
"""What the public API (the public function) serves; everything else is the admin API."""
STATIC_FILES = frozenset(FILES)
"""The dashboard's page, style and script modules: served to anyone this console admits."""
SAFE_METHODS = frozenset({"GET", "HEAD"})
TOKEN_HEADER = "x-fanmail-token"  # noqa: S105 (a header name)
MIN_OPERATOR_TOKEN_CHARS = 24
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: HTTPStatus
    message: str
    headers: Mapping[str, str] | None = None


def is_loopback(host: str) -> bool:
    """An address (or `localhost`) only this machine reaches."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_header(host: str, port: int) -> str:
    """How a browser names host:port in Host and Origin (IPv6 in brackets, no :80)."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return name.lower() if port == 80 else f"{name.lower()}:{port}"


def check_listen(host: str, operator_token: str | None) -> None:
    """ValueError unless the console may listen there: beyond loopback only with a token."""
    if operator_token is None and not is_loopback(host):
        raise ValueError(
            f"{host} is reachable from other machines: listening there needs an operator token"
        )
    if operator_token is not None and len(operator_token) < MIN_OPERATOR_TOKEN_CHARS:
        raise ValueError(f"an operator token has at least {MIN_OPERATOR_TOKEN_CHARS} characters")


class Admission:
    """Decides, from the request line and headers alone (before any body is read), whether a
    request may reach the console, the admin API or the public pages."""

    def __init__(self, host: str, port: int, operator_token: str | None = None) -> None:
        check_listen(host, operator_token)
        self.operator_token = operator_token
        self.token = operator_token or secrets.token_urlsafe(32)
        """What the dashboard's requests carry: served in its page on loopback; the
        operator's own token (given in the URL's fragment) otherwise."""
        names = {*LOOPBACK_NAMES, host_header(host, 80)}
        self.hosts = frozenset(host_header(name.strip("[]"), port) for name in names)

    @property
    def token_in_page(self) -> str | None:
        """The token the dashboard page carries: only a loopback console's (a page served to
        the network must not hand out the operator's token)."""
        return None if self.operator_token else self.token

    def check(self, method: str, path: str, headers: Mapping[str, str]) -> Refusal | None:
        """None to admit; `headers` by lower-case name."""
        host = headers.get("host", "").lower()
        if self.operator_token is None and host not in self.hosts:
            return Refusal(
                HTTPStatus.FORBIDDEN,
                f"Host {host!r} is not this console's address ({sorted(self.hosts)[0]} and "
                "other loopback names): a page on another name cannot use it",
            )
        public = path.startswith(PUBLIC_PATHS)
        if not public and self._cross_site(method, path, host, headers):
            return Refusal(
                HTTPStatus.FORBIDDEN,
                "a request from another site: only the console's own page and tools on this "
                "machine may use it",
            )
        if public or (path in STATIC_FILES and method in SAFE_METHODS):
            return None
        if self.operator_token is not None:
            if not self._carries_token(headers):
                return Refusal(
                    HTTPStatus.UNAUTHORIZED,
                    "this console listens beyond loopback: send its token "
                    "(Authorization: Bearer TOKEN)",
                    {"www-authenticate": 'Bearer realm="fanmail"'},
                )
            return None
        return self._browser_without_token(method, headers)

    def _cross_site(self, method: str, path: str, host: str, headers: Mapping[str, str]) -> bool:
        site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host}":
            return True  # `null` (a sandboxed or file page) included
        if site is None or site == "same-origin":
            return False
        if site == "none":  # typed or bookmarked: a navigation, never a write
            return method not in SAFE_METHODS
        navigation = headers.get("sec-fetch-mode") == "navigate" and headers.get(
            "sec-fetch-dest"
        ) in (None, "document")
        return not (navigation and method in SAFE_METHODS and path == "/")

    def _browser_without_token(self, method: str, headers: Mapping[str, str]) -> Refusal | None:
        browser = "origin" in headers or "sec-fetch-site" in headers
        navigation = headers.get("sec-fetch-mode") == "navigate" and method in SAFE_METHODS
        if not browser or navigation or self._carries_token(headers):
            return None  # a page opened (typed, or a link of the dashboard's): shown, not read
        return Refusal(
            HTTPStatus.FORBIDDEN,
            "a browser request without the console's token: use the dashboard this console "
            "serves (reload it if the console was restarted)",
        )

    def _carries_token(self, headers: Mapping[str, str]) -> bool:
        given = headers.get(TOKEN_HEADER) or ""
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            given = given or authorization[7:].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())
