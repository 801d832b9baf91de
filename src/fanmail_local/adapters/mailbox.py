"""SES's mailbox simulator, for local mode: a Mailer decorator that, after each accepted send,
publishes the events real SES would publish for it, in SES's event JSON, to an event bus.

Like SES it publishes only for messages sent with a configuration set (the set's event
destination does the publishing), and always a Send event first. Then, by recipient:
- `success@simulator.amazonses.com`: delivered;
- `bounce@...`: a permanent bounce (550 5.1.1 user unknown);
- `ooto@...`: delivered (SES also sends an out-of-office reply to the sender);
- `complaint@...`: delivered, then a complaint (abuse);
- `suppressionlist@...`: a permanent bounce, as if the address were on the suppression list;
each with `+label` forms; every other address is delivered. A configured share of delivered
messages (to `success@` and ordinary addresses) are opened and their first link clicked -- real
SES reports opens and clicks of people, never of the simulator; this is local mode's stand-in
for them; a message of an A/B variant (its `variant` tag) clicks at that variant's rate when
one is given. Outcomes can be forced per address (benchmarks).
Events are published from a background thread, a moment after the send, as SES does; on
simulated time (src/fanmail_local/simulation.py) there is no such thread, and whoever moves the
clock publishes them with `flush`.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypedDict

from fanmail.domain.message import sender_address
from fanmail.domain.model import OutgoingEmail
from fanmail.domain.tags import CONFIGURATION_SET_TAG, VARIANT_TAG
from fanmail.ports import Mailer
from fanmail_local.adapters.events import EventPublisher

SIMULATOR_DOMAIN = "simulator.amazonses.com"
SIMULATED = ("success", "bounce", "ooto", "complaint", "suppressionlist")
DETAIL_TYPES = {
    "Send": "Email Sent",
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Open": "Email Opened",
    "Click": "Email Clicked",
}
_LINK = re.compile(r'href="(https?://[^"]+)"')
USER_UNKNOWN = "smtp; 550 5.1.1 user unknown"
SUPPRESSED = (
    "Amazon SES has suppressed sending to this address because it has a recent history of "
    "bouncing as an invalid address."
)


def simulated_outcome(address: str) -> str | None:
    """What SES's mailbox simulator does with `address`, or None for an ordinary address."""
    local, _, domain = address.lower().rpartition("@")
    name = local.split("+", 1)[0]
    return name if domain == SIMULATOR_DOMAIN and name in SIMULATED else None


class SesHeader(TypedDict):
    name: str
    value: str


SesCommonHeaders = TypedDict(
    "SesCommonHeaders", {"from": list[str], "to": list[str], "messageId": str, "subject": str}
)


class SesMail(TypedDict):
    """The `mail` object of SES's event records."""

    timestamp: str
    source: str
    sourceArn: str
    sendingAccountId: str
    messageId: str
    destination: list[str]
    headersTruncated: bool
    headers: list[SesHeader]
    commonHeaders: SesCommonHeaders
    tags: dict[str, list[str]]


class BouncedRecipient(TypedDict):
    emailAddress: str
    action: str
    status: str
    diagnosticCode: str


class SesBounce(TypedDict):
    bounceType: str
    bounceSubType: str
    bouncedRecipients: list[BouncedRecipient]
    timestamp: str
    feedbackId: str
    reportingMTA: str


class SesDelivery(TypedDict):
    timestamp: str
    processingTimeMillis: int
    recipients: list[str]
    smtpResponse: str
    reportingMTA: str


class ComplainedRecipient(TypedDict):
    emailAddress: str


class SesComplaint(TypedDict):
    complainedRecipients: list[ComplainedRecipient]
    timestamp: str
    feedbackId: str
    complaintFeedbackType: str
    userAgent: str


SesRecord = dict[str, object]
"""One event record: its eventType, the mail, and the section named after its type (`bounce`,
`delivery`, ...: one of the TypedDicts above, or an open's or a click's own)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def mail_object(email: OutgoingEmail, message_id: str) -> SesMail:
    """The `mail` object of SES's event records (with the message's tags, as SES publishes
    them: each tag a list of values)."""
    domain = sender_address(email.sender).rpartition("@")[2]
    tags: dict[str, list[str]] = {name: [v] for name, v in email.tags}
    tags |= {
        CONFIGURATION_SET_TAG: [email.configuration_set or ""],
        "ses:source-ip": ["127.0.0.1"],
        "ses:from-domain": [domain],
        "ses:caller-identity": ["fanmail-local"],
    }
    return {
        "timestamp": _now(),
        "source": email.sender,
        "sourceArn": f"arn:aws:ses:us-east-1:000000000000:identity/{domain}",
        "sendingAccountId": "000000000000",
        "messageId": message_id,
        "destination": [email.to],
        "headersTruncated": False,
        "headers": [{"name": "From", "value": email.sender}, {"name": "To", "value": email.to}],
        "commonHeaders": {
            "from": [email.sender],
            "to": [email.to],
            "messageId": message_id,
            "subject": email.subject,
        },
        "tags": tags,
    }


def _bounce(email: OutgoingEmail, subtype: str, diagnostic: str) -> SesBounce:
    return {
        "bounceType": "Permanent",
        "bounceSubType": subtype,
        "bouncedRecipients": [
            {
                "emailAddress": email.to,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": diagnostic,
            }
        ],
        "timestamp": _now(),
        "feedbackId": "local-feedback",
        "reportingMTA": "dsn; local.simulator",
    }


class MailboxSimulator:
    def __init__(
        self,
        inner: Mailer,
        publisher: EventPublisher,
        *,
        open_rate: float = 0.0,
        click_rate: float = 0.0,
        outcomes: Callable[[str], str | None] | None = None,
        seed: int = 7,
        delay_s: float = 0.2,
        untracked: frozenset[str] = frozenset(),
        variant_click_rates: Mapping[str, float] | None = None,
        background: bool = True,
    ) -> None:
        """`untracked`: configuration sets without open and click events (SES adds no pixel
        and rewrites no link: nobody's opens or clicks are seen). `variant_click_rates`: the
        click rate of each A/B variant's readers (others click at `click_rate`).
        `background=False`: no publishing thread; `flush` publishes."""
        self.untracked = untracked
        self.variant_click_rates = dict(variant_click_rates or {})
        self.publishing = True  # False: the configuration set's event destination is off
        self.inner = inner
        self.publisher = publisher
        self.open_rate = open_rate
        self.click_rate = click_rate
        self.outcomes = outcomes
        self.delay_s = delay_s
        self.published = 0
        self._random = random.Random(seed)
        self._pending: list[tuple[str, SesRecord]] = []
        self._busy = False
        self.errors: list[Exception] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="ses-events", daemon=True)
            self._thread.start()

    def send(self, email: OutgoingEmail) -> str:
        message_id = self.inner.send(email)
        if email.configuration_set and self.publishing:  # else SES publishes nothing
            events = self.events_for(email, message_id)
            with self._lock:
                self._pending.extend(events)
            self._wake.set()
        return message_id

    def events_for(self, email: OutgoingEmail, message_id: str) -> list[tuple[str, SesRecord]]:
        """(detail-type, SES event record) for one accepted message."""
        mail = mail_object(email, message_id)
        outcome = simulated_outcome(email.to)
        if outcome is None and self.outcomes is not None:
            outcome = self.outcomes(email.to)
        sections: list[tuple[str, str, Mapping[str, object]]] = [("Send", "send", {})]
        if outcome == "bounce":
            sections.append(("Bounce", "bounce", _bounce(email, "General", USER_UNKNOWN)))
        elif outcome == "suppressionlist":
            sections.append(("Bounce", "bounce", _bounce(email, "Suppressed", SUPPRESSED)))
        else:
            sections.append(("Delivery", "delivery", self._delivery(email)))
            if outcome == "complaint":
                sections.append(("Complaint", "complaint", self._complaint(email)))
            elif outcome in (None, "success") and email.configuration_set not in self.untracked:
                # people open and click (a local emulation)
                sections.extend(self._engagement(email))
        return [
            (DETAIL_TYPES[kind], {"eventType": kind, "mail": mail, name: dict(body)})
            for kind, name, body in sections
        ]

    def _delivery(self, email: OutgoingEmail) -> SesDelivery:
        return {
            "timestamp": _now(),
            "processingTimeMillis": 120,
            "recipients": [email.to],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "local.simulator",
        }

    def _complaint(self, email: OutgoingEmail) -> SesComplaint:
        return {
            "complainedRecipients": [{"emailAddress": email.to}],
            "timestamp": _now(),
            "feedbackId": "local-complaint",
            "complaintFeedbackType": "abuse",
            "userAgent": "local-simulator",
        }

    def _engagement(self, email: OutgoingEmail) -> list[tuple[str, str, Mapping[str, object]]]:
        with self._lock:
            opens, clicks = self._random.random(), self._random.random()
        found: list[tuple[str, str, Mapping[str, object]]] = []
        seen = {"timestamp": _now(), "ipAddress": "192.0.2.1", "userAgent": "local-simulator"}
        if opens < self.open_rate:
            found.append(("Open", "open", seen))
        links = [u for u in _LINK.findall(email.html) if "/u/" not in u and "/p/" not in u]
        variant = dict(email.tags).get(VARIANT_TAG)
        click_rate = self.variant_click_rates.get(variant or "", self.click_rate)
        if links and clicks < click_rate:
            found.append(("Click", "click", {**seen, "link": links[0], "linkTags": {}}))
        return found

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every event so far is published (tests, and the demo's summary); without
        the background thread, publish them now."""
        if self._thread is None:
            self._publish()
            return
        self._wake.set()
        for _ in range(int(timeout_s / 0.05)):
            with self._lock:
                if not self._pending and not self._busy:
                    return
            self._stop.wait(0.05)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.delay_s)
            self._wake.clear()
            if not self._publish():
                self._stop.wait(self.delay_s)

    def _publish(self) -> bool:
        """Publish what is pending; False if the bus refused it (it is kept for a retry)."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._busy = bool(batch)
        if not batch:
            return True
        try:
            self.publisher.publish("aws.ses", batch)
        except Exception as exc:  # the bus is down: keep them, try again
            self.errors.append(exc)
            with self._lock:
                self._pending = batch + self._pending
            return False
        else:
            with self._lock:
                self.published += len(batch)
            return True
        finally:
            with self._lock:
                self._busy = False

    def close(self) -> None:
        self.flush()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
