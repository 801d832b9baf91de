"""The records fanmail works with: subscribers and their consent history, lists, recipients as
they travel in a batch, the message handed to SES. A campaign and its runs: domain/campaign.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

from fanmail.domain.codec import JsonObject, Mismatch
from fanmail.domain.engagement import Engagement, FrequencyCap
from fanmail.domain.errors import Conflict, InvalidInput
from fanmail.domain.quiet_hours import QuietHours, parse_quiet_hours
from fanmail.domain.topics import Topic, topic_slug


class SubscriberStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"

    @property
    def receives_mail(self) -> bool:
        return self is SubscriberStatus.SUBSCRIBED


def next_status(
    current: SubscriberStatus | None, requested: SubscriberStatus | None, *, force: bool
) -> SubscriberStatus:
    """The one rule for every admin write (API upsert, status change, import): an address that
    unsubscribed, bounced or complained becomes subscribed again only with `force`; without a
    requested status a subscriber keeps theirs (a new one is subscribed)."""
    if current is None:
        return requested or SubscriberStatus.SUBSCRIBED
    if requested is None or requested is current:
        return current
    if requested.receives_mail and not current.receives_mail and not force:
        raise Conflict(
            f"the address is {current.value}: re-subscribing it needs force (the subscriber's "
            "own opt-out, bounce or complaint is not undone by default)",
            current.value,
        )
    return requested


class How(StrEnum):
    """How a status change came about (consent history; stored as the value). Only the party
    that opted out may opt back in, so whose decision each is is declared for every one."""

    LINK = "link"  # the subscriber: the link in every email (one click, or the page's button)
    MAILTO = "mailto"  # the subscriber: a mail to the unsubscribe address
    PREFERENCES = "preferences"  # the subscriber: the preference page
    UNDO = "undo"  # the subscriber: undoing their own unsubscribe within a day
    SIGNUP = "signup"  # the subscriber: the sign-up form
    CONFIRM = "confirm"  # the subscriber: confirming a sign-up
    API = "api"  # the list owner: the admin API or the CLI
    IMPORT = "import"  # the list owner: an import
    BOUNCE = "bounce"  # SES's feedback
    COMPLAINT = "complaint"  # SES's feedback

    @property
    def subscribers_own(self) -> bool:
        """The subscriber's own choice, which their own links and forms may change again; any
        other is the list owner's or SES's, which they never undo."""
        return SUBSCRIBERS_OWN[self]

    @property
    def opt_out(self) -> bool:
        """The subscriber's own unsubscribe from an email: what `undo` may reverse."""
        return self in (How.LINK, How.MAILTO)


SUBSCRIBERS_OWN: Mapping[How, bool] = {
    How.LINK: True,
    How.MAILTO: True,
    How.PREFERENCES: True,
    How.UNDO: True,
    How.SIGNUP: True,
    How.CONFIRM: True,
    How.API: False,
    How.IMPORT: False,
    How.BOUNCE: False,
    How.COMPLAINT: False,
}
"""Every How, decided here (a test checks), so a new one cannot fall to either side unread."""


def how_of(stored: object) -> How | str:
    """A stored `how`. One this fanmail does not know (another version wrote it) stays as
    written, so the history reads and saves back unchanged, and counts as not the subscriber's
    own: the conservative reading, which keeps an owner's decision in place."""
    text = str(stored)
    return How(text) if text in How.__members__.values() else text


@dataclass(frozen=True, slots=True)
class Provenance:
    """How a status change came about and from where: consent history.

    `how`: see How; `source`: the request's source IP (public routes), the admin principal
    (admin API, CLI), or the SES message id (feedback); `detail`: anything else worth keeping
    (a reason).
    """

    how: How
    source: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "how", How(self.how))  # a misspelt way fails here, not later


class StatusChangeJson(TypedDict):
    at: float
    status: str
    previous: str | None
    how: str
    source: str
    detail: str
    topic: NotRequired[str]
    topic_in: NotRequired[bool]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of a subscriber's consent history."""

    at: float
    status: SubscriberStatus
    previous: SubscriberStatus | None
    how: How | str
    """A How; a stored value this fanmail does not know stays a str (how_of)."""
    source: str = ""
    detail: str = ""
    topic: str = ""
    """A topic change (domain.topics): the topic's slug; status and previous stay the
    subscriber's status, `topic_in` says whether they joined or left it."""
    topic_in: bool | None = None

    @classmethod
    def of(
        cls,
        provenance: Provenance,
        at: float,
        status: SubscriberStatus,
        previous: SubscriberStatus | None,
    ) -> StatusChange:
        return cls(at, status, previous, provenance.how, provenance.source, provenance.detail)

    @classmethod
    def of_topic(
        cls,
        provenance: Provenance,
        at: float,
        status: SubscriberStatus,
        topic: str,
        joined: bool,
    ) -> StatusChange:
        return cls(
            at, status, status, provenance.how, provenance.source, provenance.detail, topic, joined
        )

    @property
    def subscribers_own(self) -> bool:
        """The subscriber made this change (an unknown `how` is read as not: see how_of)."""
        return isinstance(self.how, How) and self.how.subscribers_own

    @property
    def opt_out(self) -> bool:
        """The subscriber's own unsubscribe from an email (an unknown `how` is not one)."""
        return isinstance(self.how, How) and self.how.opt_out

    def to_dict(self) -> StatusChangeJson:
        encoded: StatusChangeJson = {
            "at": self.at,
            "status": self.status.value,
            "previous": self.previous.value if self.previous else None,
            "how": str(self.how),
            "source": self.source,
            "detail": self.detail,
        }
        if self.topic:
            encoded["topic"] = self.topic
            encoded["topic_in"] = bool(self.topic_in)
        return encoded


def topic_changes(
    provenance: Provenance | None,
    at: float,
    status: SubscriberStatus,
    stored: Mapping[str, bool],
    given: Mapping[str, bool],
) -> list[StatusChange]:
    """Consent history entries for the topic choices (by key) that `given` changes."""
    if provenance is None:
        return []
    return [
        StatusChange.of_topic(provenance, at, status, topic_slug(key), chosen)
        for key, chosen in given.items()
        if stored.get(key) is not chosen
    ]


HISTORY_KEPT = 50
"""Consent history entries kept per subscriber (the newest)."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    list_id: str
    email: str
    status: SubscriberStatus = SubscriberStatus.SUBSCRIBED
    attributes: Mapping[str, str] = field(default_factory=dict)
    history: tuple[StatusChange, ...] = field(default=(), compare=False)
    imported_by: str = field(default="", compare=False)
    """The import row that last wrote it (`job:line:outcome`); see domain.import_jobs."""
    signed_up_at: float | None = field(default=None, compare=False)
    """When the address first joined the list (epoch seconds); None for subscribers written
    before fanmail kept it. A write keeps the first one stored."""
    engagement: Engagement = field(default_factory=Engagement, compare=False)
    """What the senders and the feedback path recorded (read only where a page asks for it)."""
    topics: Mapping[str, bool] = field(default_factory=dict)
    """Their choices by topic key (domain.topics): a topic without an entry is its default."""


def signed_up(subscriber: Subscriber, at: float) -> Subscriber:
    """The subscriber with a sign-up time to store: its own (an import may carry one), else
    the write's time (`at`, 0 when the writer gives none). The stores keep the first."""
    if subscriber.signed_up_at is not None or at <= 0:
        return subscriber
    return replace(subscriber, signed_up_at=at)


class OptIn(StrEnum):
    """How a public sign-up joins a list: confirmed by a mail it answers, or at once."""

    SINGLE = "single"
    DOUBLE = "double"


DEFAULT_SIGNUP_FIELDS = ("first_name",)


class ListSettingsJson(TypedDict):
    brand: str
    sender: str
    postal_address: str
    opt_in: str
    public_signup: bool
    signup_fields: list[str]
    frequency_cap: NotRequired[dict[str, int]]
    quiet_hours: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class ListSettings:
    """What a list's subscribers see of its owner: the brand on pages and footers, the sender
    of confirmation mails, the postal address the law asks for in every campaign."""

    brand: str = ""
    sender: str = ""
    postal_address: str = ""
    opt_in: OptIn = OptIn.DOUBLE
    public_signup: bool = False
    """Whether strangers may join (its form, POST /subscribe): off unless the owner turns it
    on, so a list made for customers or staff is not open to whoever guesses its id."""
    signup_fields: tuple[str, ...] = DEFAULT_SIGNUP_FIELDS
    """The attributes a public sign-up may set (the form's fields): no other, so a stranger
    cannot put a campaign's content (a headline, a link) into someone's copy."""
    frequency_cap: FrequencyCap | None = None
    """At most N campaign emails per subscriber in D days (None: the stack's setting)."""
    quiet_hours: QuietHours | None = None
    """The list's quiet hours: what its campaigns keep unless they set their own."""

    @property
    def takes_signups(self) -> bool:
        """Its form is open: the owner turned it on, and confirmation mails have a sender."""
        return self.public_signup and bool(self.sender)

    def to_dict(self) -> ListSettingsJson:
        encoded: ListSettingsJson = {
            "brand": self.brand,
            "sender": self.sender,
            "postal_address": self.postal_address,
            "opt_in": self.opt_in.value,
            "public_signup": self.public_signup,
            "signup_fields": list(self.signup_fields),
            "quiet_hours": None if self.quiet_hours is None else self.quiet_hours.to_dict(),
        }
        if self.frequency_cap is not None:
            encoded["frequency_cap"] = self.frequency_cap.to_dict()
        return encoded

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListSettings:
        try:
            opt_in = OptIn(str(data.get("opt_in") or OptIn.DOUBLE.value))
        except ValueError:
            opt_in = OptIn.DOUBLE
        fields = data.get("signup_fields", DEFAULT_SIGNUP_FIELDS)
        return cls(
            brand=str(data.get("brand") or ""),
            sender=str(data.get("sender") or ""),
            postal_address=str(data.get("postal_address") or ""),
            opt_in=opt_in,
            public_signup=data.get("public_signup") is True,
            signup_fields=tuple(str(f) for f in fields) if isinstance(fields, list | tuple) else (),
            frequency_cap=stored_cap(data.get("frequency_cap")),
            quiet_hours=_stored_quiet_hours(data.get("quiet_hours")),
        )


def stored_cap(value: object) -> FrequencyCap | None:
    """A stored cap; one that does not read is no cap (a stored value never makes a list
    unreadable)."""
    if value is None:
        return None
    try:
        return FrequencyCap.from_dict(value)
    except InvalidInput:
        return None


def _stored_quiet_hours(data: object) -> QuietHours | None:
    """A list's stored quiet hours (checked when they were set; None if absent)."""
    return None if not data else parse_quiet_hours(data, "lists.settings.quiet_hours")


class SettingsChange(TypedDict, total=False):
    """Some of a list's settings, to change: a key left out stays as it is."""

    brand: str
    sender: str
    postal_address: str
    opt_in: OptIn
    public_signup: bool
    signup_fields: tuple[str, ...]
    quiet_hours: QuietHours | None
    """None clears them."""
    frequency_cap: FrequencyCap | None
    """None removes the list's own cap (the stack's setting then holds)."""


def settings_change(
    *,
    brand: str | None = None,
    sender: str | None = None,
    postal_address: str | None = None,
    opt_in: OptIn | None = None,
    public_signup: bool | None = None,
    signup_fields: Iterable[str] | None = None,
) -> SettingsChange:
    """The change that sets what is given (not None): what an API body or the CLI's flags say."""
    change: SettingsChange = {}
    if brand is not None:
        change["brand"] = brand
    if sender is not None:
        change["sender"] = sender
    if postal_address is not None:
        change["postal_address"] = postal_address
    if opt_in is not None:
        change["opt_in"] = opt_in
    if public_signup is not None:
        change["public_signup"] = public_signup
    if signup_fields is not None:
        change["signup_fields"] = tuple(signup_fields)
    return change


@dataclass(frozen=True, slots=True)
class MailingList:
    list_id: str
    name: str
    created_at: float
    settings: ListSettings = field(default_factory=ListSettings)
    topics: tuple[Topic, ...] = ()
    """Its topics in the order the owner created them (domain.topics)."""
    shards: int = 1
    """The partition keys its subscribers spread over (domain.list_shards), fixed at creation;
    a list stored before shards existed has one."""

    def context(self) -> dict[str, str]:
        """What templates see of the list (`list.name`, `list.brand`, `list.postal_address`)."""
        return {
            "id": self.list_id,
            "name": self.name,
            "brand": self.settings.brand or self.name,
            "postal_address": self.settings.postal_address,
        }


@dataclass(frozen=True, slots=True)
class Signup:
    """A public sign-up waiting for its confirmation (double opt-in); it expires unconfirmed."""

    list_id: str
    email: str
    attributes: Mapping[str, str]
    requested_at: float
    source: str
    """The request's source IP: part of the consent record."""
    mailed_at: float
    """When the confirmation mail went out."""
    nonce: str = ""
    """Names this sign-up in its confirmation link: a link confirms the sign-up it was mailed
    for, once, and no later one."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A subscriber as it travels in a batch: what rendering needs (a payload from before `d`
    was dropped still reads: unknown keys are ignored)."""

    email: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    retrying_since: float | None = None
    transient_errors: int = 0
    """When SES first answered it a transient error in this run, and how many since (its budget)."""

    @classmethod
    def of(cls, subscriber: Subscriber) -> Recipient:
        return cls(subscriber.email, subscriber.attributes)

    def to_json(self) -> JsonObject:
        """Compact (`e`, `a`, `r`, `t`): a unit carries tens of thousands of them."""
        encoded: JsonObject = {"e": self.email}
        if self.attributes:
            encoded["a"] = dict(self.attributes)
        if self.retrying_since is not None:
            encoded["r"], encoded["t"] = self.retrying_since, self.transient_errors
        return encoded

    @classmethod
    def from_json(cls, data: object, path: str) -> Recipient:
        if not isinstance(data, Mapping) or not isinstance(data.get("e"), str):
            raise Mismatch(path, "expected an object with a string 'e' (the address)")
        attributes = data.get("a", {})
        if not isinstance(attributes, Mapping) or not all(
            isinstance(v, str) for v in attributes.values()
        ):
            raise Mismatch(f"{path}.a", "expected an object of strings")
        since, errors = data.get("r"), data.get("t", 0)
        if since is not None and (isinstance(since, bool) or not isinstance(since, int | float)):
            raise Mismatch(f"{path}.r", "expected a number (a time)")
        if isinstance(errors, bool) or not isinstance(errors, int) or errors < 0:
            raise Mismatch(f"{path}.t", "expected a count (a whole number, 0 or more)")
        return cls(data["e"], dict(attributes), since, errors)


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    sender: str
    to: str
    subject: str
    html: str
    text: str
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    configuration_set: str | None = None
