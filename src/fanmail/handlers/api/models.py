"""Request and response models of the admin API; the OpenAPI document is generated from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from fanmail.domain.attributes import ATTRIBUTES, MAX_NAME_CHARS, RESERVED, VARIABLES, Limits
from fanmail.domain.engagement import MAX_CAP_SENDS, WINDOW_DAYS
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import How, OptIn, SubscriberStatus
from fanmail.domain.segments import MAX_SEGMENT_CHARS, Segment
from fanmail.domain.topics import MAX_TOPICS, SLUG
from fanmail.ports import LedgerEntry
from fanmail.services.preview import Preview

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
TOPIC_PATTERN = f"^{SLUG.pattern}$"


class Strict(BaseModel):
    """A request body: a field fanmail does not know is refused, not ignored (a typo in
    `forse` must not silently mean force=false)."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


AttributeName = Annotated[
    str,
    StringConstraints(
        pattern=rf"^(?!(?:{'|'.join(sorted(RESERVED))})$)[^\W\d]\w{{0,{MAX_NAME_CHARS - 1}}}$"
    ),
]
Flag = Annotated[bool, Field(strict=True)]
"""true or false, not 0, "yes" or "off": a body's flag means what it says."""


def _described(limits: Limits, what: str) -> str:
    return (
        f"at most {limits.count} {what}: names a template can use (letters, digits, _), values "
        f"up to {limits.chars} characters, {limits.total} in all"
    )


Attributes = Annotated[
    dict[AttributeName, Annotated[str, StringConstraints(max_length=ATTRIBUTES.chars)]],
    Field(max_length=ATTRIBUTES.count, description=_described(ATTRIBUTES, "attributes")),
]
Variables = Annotated[
    dict[AttributeName, Annotated[str, StringConstraints(max_length=VARIABLES.chars)]],
    Field(max_length=VARIABLES.count, description=_described(VARIABLES, "variables")),
]


class Error(BaseModel):
    code: str
    message: str
    status: str | None = Field(default=None, description="a campaign's current status (409)")
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: Error


class CapBody(Strict):
    max_sends: int = Field(ge=1, le=MAX_CAP_SENDS, strict=True)
    days: int = Field(ge=1, le=WINDOW_DAYS, strict=True)


class ListSettingsChange(Strict):
    """Settings to change; a field left out stays as it is."""

    brand: str | None = Field(
        default=None, max_length=100, description="the name subscribers know you by (pages, footer)"
    )
    sender: str | None = Field(
        default=None, max_length=320, description="From of confirmation mails: a verified identity"
    )
    postal_address: str | None = Field(
        default=None, max_length=500, description="shown in every campaign's footer (CAN-SPAM)"
    )
    opt_in: OptIn | None = Field(
        default=None, description="sign-ups through POST /subscribe: confirmed by mail, or at once"
    )
    public_signup: Flag | None = Field(
        default=None,
        description="whether anyone may join through the list's form and POST /subscribe "
        "(off at creation; needs a sender)",
    )
    signup_fields: list[AttributeName] | None = Field(
        default=None,
        max_length=10,
        description="the attributes a public sign-up may set (the form's fields); no other",
    )
    frequency_cap: CapBody | Literal["none"] | None = Field(
        default=None,
        description='at most max_sends campaign emails per subscriber in days UTC days; "none" '
        "removes the list's own cap (the stack's setting then holds)",
    )
    quiet_hours: dict[str, Any] | None = Field(
        default=None,
        description='{"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon", "action": '
        '"defer"|"skip"}: the list\'s campaigns send nobody in those hours of their clock '
        "unless a campaign sets its own; {} clears them",
    )


class ListCreate(ListSettingsChange):
    list_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(default="", max_length=200)


class ListChange(ListSettingsChange):
    name: str | None = Field(default=None, max_length=200, description="a new name")


Choices = Annotated[
    dict[Annotated[str, StringConstraints(pattern=TOPIC_PATTERN)], Flag],
    Field(max_length=MAX_TOPICS),
]


class ListSettingsView(BaseModel):
    brand: str
    sender: str
    postal_address: str
    opt_in: OptIn
    public_signup: bool
    signup_fields: list[str]
    frequency_cap: dict[str, int] | None = None
    quiet_hours: dict[str, Any] | None = None


class TopicView(BaseModel):
    id: str = Field(description="the topic's id (a slug): weekly-digest")
    name: str
    description: str
    default: Literal["in", "out"] = Field(description="where a subscriber is until they choose")


class TopicCreate(Strict):
    id: str = Field(pattern=TOPIC_PATTERN, description="a slug: lower-case letters, digits, -")
    name: str = Field(default="", max_length=100, description="default: the id")
    description: str = Field(default="", max_length=300)
    default: Literal["in", "out"] = "in"


class TopicChange(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=300)
    default: Literal["in", "out"] | None = None


class TopicList(BaseModel):
    topics: list[TopicView]


class SignupsClosedView(BaseModel):
    until: float = Field(description="when they open again (epoch seconds)")
    reason: str = Field(description="which rate of its confirmation mails passed which line")


class ListView(BaseModel):
    list_id: str
    name: str
    created_at: float
    settings: ListSettingsView
    subscribers: dict[str, int] = Field(description="subscribers by status")
    total: int
    topics: list[TopicView] = Field(default_factory=list, description="the list's topics")
    signup_form: str | None = Field(
        default=None,
        description="the public sign-up form's URL while the list takes sign-ups "
        "(settings.public_signup on, with a sender); null otherwise",
    )
    signups_closed: SignupsClosedView | None = Field(
        default=None,
        description="GET /lists/{id} only: set while the list's sign-up breaker holds its "
        "public sign-ups closed (too many of its confirmation mails bounced or were "
        "complained about); null while they are open, and in pages of lists",
    )


class ListPage(BaseModel):
    lists: list[ListView]
    next_cursor: str | None


class SubscriberUpsert(Strict):
    attributes: Attributes = Field(default_factory=dict)
    status: SubscriberStatus | None = Field(
        default=None, description="default: subscribed for a new subscriber, unchanged otherwise"
    )
    force: Flag = Field(
        default=False,
        description="allow re-subscribing an address that unsubscribed, bounced or complained, "
        "or adding back an erased one (recorded as forced)",
    )
    tracking: Flag | None = Field(
        default=None,
        description="whether the subscriber accepts open and click tracking (false: mail goes "
        "through the configuration set without it; stored as the attribute tracking=off); "
        "default: unchanged",
    )
    topics: Choices | None = Field(
        default=None,
        description="in (true) or out (false) of some of the list's topics, by id; a topic "
        "left out stays as it is",
    )


class StatusChange(Strict):
    status: SubscriberStatus
    force: Flag = Field(
        default=False,
        description="allow re-subscribing an address that unsubscribed, bounced or complained",
    )


class StatusChangeView(BaseModel):
    """One entry of the consent history: when, to what, how, from where."""

    at: float
    status: SubscriberStatus
    previous: SubscriberStatus | None
    how: str = Field(
        description=f"{', '.join(How)} (a record an older or newer fanmail wrote may hold another)"
    )
    source: str = Field(description="the admin principal, the request's IP, or SES's message id")
    detail: str
    topic: str | None = Field(
        default=None, description="a topic change: the topic's id (status stays as it was)"
    )
    topic_in: bool | None = Field(default=None, description="a topic change: joined or left")


class SubscriberView(BaseModel):
    list_id: str
    email: str
    status: SubscriberStatus
    attributes: dict[str, str]
    topics: dict[str, bool] = Field(
        default_factory=dict,
        description="in (true) or out (false) of each of the list's topics: their choice, "
        "else the topic's default",
    )
    history: list[StatusChangeView] = Field(
        default_factory=list, description="consent history, oldest first (one subscriber's read)"
    )


class SubscriberPage(BaseModel):
    subscribers: list[SubscriberView]
    next_cursor: str | None


def _segment(value: object) -> object:
    """A segment in either form, read as the service will (a ValueError is a 422 that names
    the path of the bad node)."""
    if value is not None:
        try:
            Segment.read(value, "segment")
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
    return value


SEGMENT_SCHEMA = {
    "anyOf": [
        {"$ref": "#/components/schemas/Segment"},
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_SEGMENT_CHARS,
            "description": 'the text form: plan = "pro" and opened in 30 days',
        },
    ],
    "description": "who of the list: a segment (JSON, or its text form)",
}
SegmentField = Annotated[
    dict[str, Any] | str | None, AfterValidator(_segment), WithJsonSchema(SEGMENT_SCHEMA)
]


class CampaignCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"list_id": "news", "template": "newsletter", "sender": "News <news@example.com>"}
            ]
        }
    )

    list_id: str = Field(pattern=ID_PATTERN)
    template: str = Field(min_length=1, max_length=64)
    sender: str | None = Field(
        default=None,
        min_length=3,
        max_length=320,
        description='"Name <address>" or an address, verified in SES; default: the list\'s sender',
    )
    subject: str | None = Field(
        default=None, max_length=1000, description="Jinja; default: the template's"
    )
    reply_to: str | None = Field(default=None, max_length=320)
    variables: Variables = Field(default_factory=dict)
    campaign_id: str | None = Field(default=None, pattern=ID_PATTERN)
    segment: SegmentField = None
    segment_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="a saved segment of the list instead of `segment`: its definition is "
        "copied now (editing the saved segment later does not change this campaign)",
    )
    urgent: Flag = Field(
        default=False, description="a notification: the frequency cap does not hold it back"
    )
    quiet_hours: dict[str, Any] | None = Field(
        default=None,
        description='{"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon", '
        '"action": "defer"|"skip"}: no mail in those hours of the subscriber\'s clock',
    )
    ab_test: dict[str, Any] | None = Field(
        default=None,
        description='{"variants": [{"subject": ...}, {"subject": ...}], "test_share": 0.2, '
        '"holdout_share": 0, "metric": "clicks"|"opens"|"manual", "wait": "4h", '
        '"no_winner": "send_best"|"send_first"|"wait_longer", "wait_limit", "after_limit"}',
    )
    name: str = Field(default="", max_length=200, description="what people call it")
    topic: str | None = Field(
        default=None,
        pattern=TOPIC_PATTERN,
        description="one of the list's topics (its id): only subscribers in it are sent to "
        "(with a segment: those in both), and its one-click unsubscribe leaves the topic only",
    )


RequiredSegment = Annotated[
    dict[str, Any] | str, AfterValidator(_segment), WithJsonSchema(SEGMENT_SCHEMA)
]
SegmentName = Annotated[
    str, Field(min_length=1, max_length=100, description="unique in the list (case ignored)")
]


class SegmentEstimate(Strict):
    segment: RequiredSegment


class SizeView(BaseModel):
    estimate: int = Field(description="the point estimate (exact when `exact`)")
    low: int = Field(description="the 95 % interval's low end")
    high: int
    confidence: float
    matched: int = Field(description="subscribers the segment selected among those looked at")
    sampled: int = Field(description="subscribers looked at")
    total: int = Field(description="subscribers in the list")
    exact: bool = Field(description="the whole list was looked at")
    text: str = Field(description='for people: "about 12,400 of 98,000"')


class SegmentSize(BaseModel):
    everyone: SizeView = Field(description="whom the segment selects, whatever their status")
    receiving: SizeView = Field(description="of those, who would get mail (subscribed)")
    warnings: list[str] = Field(default_factory=list)


class SavedSegmentCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Pro readers", "segment": 'plan = "pro"'}]}
    )

    name: SegmentName
    segment: RequiredSegment


class SavedSegmentEdit(Strict):
    name: SegmentName | None = None
    segment: SegmentField = None
    version: int | None = Field(
        default=None, ge=1, description="the version you read: 409 if it was saved since"
    )


class SavedSegmentView(BaseModel):
    list_id: str
    segment_id: str
    name: str
    segment: dict[str, object] = Field(description="the definition (JSON form)")
    segment_text: str = Field(description="its text form")
    version: int = Field(description="1 when created, one more at each edit")
    created_at: float
    updated_at: float


class SavedSegmentSaved(SavedSegmentView):
    size: SegmentSize = Field(description="its size now, with warnings (e.g. an unknown attribute)")


class SavedSegmentPage(BaseModel):
    segments: list[SavedSegmentView]


class SegmentCountView(BaseModel):
    list_id: str
    segment_id: str
    version: int = Field(description="the saved segment's version counted")
    status: Literal["running", "done"]
    scanned: int = Field(description="subscribers read so far")
    total: int = Field(description="subscribers in the list when the count started")
    matched: int = Field(description="of those read, whom the segment selects")
    receiving: int = Field(description="of those, who would get mail (subscribed)")
    started_at: float
    updated_at: float
    finished_at: float | None
    text: str = Field(description='for people: "12,398 of 98,000 (exact)"')


class NotificationCreate(Strict):
    """A campaign created and sent in one call (POST /notifications, or a `Notify` event)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "list_id": "news",
                    "template": "newsletter",
                    "subject": "Your order shipped",
                    "segment": 'email = "ana@example.com"',
                    "urgent": True,
                }
            ]
        }
    )

    list_id: str = Field(pattern=ID_PATTERN)
    template: str = Field(min_length=1, max_length=64, description="a shipped or stored template")
    template_version: int | None = Field(
        default=None,
        ge=1,
        le=99_999_999,
        description="a stored template's version (default: latest)",
    )
    sender: str | None = Field(
        default=None, min_length=3, max_length=320, description="default: the list's sender"
    )
    subject: str | None = Field(
        default=None, max_length=1000, description="Jinja; default: the template's"
    )
    variables: Variables = Field(default_factory=dict)
    segment: SegmentField = None
    segment_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="a saved segment of the list instead"
    )
    topic: str | None = Field(
        default=None, max_length=64, description="only those in this topic of the list (its id)"
    )
    urgent: Flag = Field(default=False, description="the frequency cap does not hold it back")
    name: str = Field(default="", max_length=200, description="default: Notification <key>")


class NotifyDetail(NotificationCreate):
    """A `Notify` event's detail: the notification, and optionally its key (default: the
    event's id, the same for each delivery of one event)."""

    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)


class WinnerChoice(Strict):
    variant: str = Field(min_length=1, max_length=1, description="the variant to send: A-E")


class CampaignEdit(CampaignCreate):
    """A draft's new definition, whole (checked as a new campaign is)."""

    campaign_id: None = Field(default=None, description="the path's; a draft keeps its id")


class TestSend(Strict):
    to: list[str] = Field(min_length=1, max_length=10, description="who gets the test")
    as_subscriber: str | None = Field(
        default=None, max_length=320, description="render as this subscriber (default: a sample)"
    )


class TestSent(BaseModel):
    subject: str
    rendered_as: str
    sent: list[dict[str, str]]


class FeedbackView(BaseModel):
    """What SES said back, counted once per recipient; rates as SES judges an account."""

    sent: int = Field(description="accepted by SES (the run's count)")
    delivered: int
    bounced: int = Field(description="permanent bounces")
    soft_bounced: int
    complained: int
    rejected: int
    delayed: int
    rendering_failed: int
    opened: int = Field(description="recipients who opened (needs tracking on)")
    clicked: int = Field(description="recipients who clicked (needs tracking on)")
    bounce_rate: float = Field(description="bounced / sent")
    complaint_rate: float = Field(
        description="complained / delivered (or / sent less bounced while deliveries lag)"
    )
    open_rate: float
    click_rate: float
    top_links: list[dict[str, Any]] | None = Field(
        default=None, description="the most clicked links (GET of one campaign)"
    )


class CampaignView(BaseModel):
    campaign_id: str
    name: str = ""
    list_id: str
    template: str
    sender: str
    subject: str | None = Field(default=None, description="a Jinja subject, or the template's")
    variables: dict[str, str] = Field(default_factory=dict)
    status: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    max_send_rate: float | None = Field(
        default=None, description="the SES send rate the run was planned for (sends/s)"
    )
    sends_over_time: list[list[int]] = Field(
        default_factory=list,
        description="[bucket start (epoch s), sends, bucket width (s)], oldest first: 10 s "
        "wide, wider for runs planned to last over an hour",
    )
    stalled: bool
    paused_reason: str | None = Field(default=None, description="why a breaker paused it")
    feedback: FeedbackView
    resume_at: float | None = None
    schedule: dict[str, Any] | None = None
    progress: dict[str, Any] | None = Field(
        default=None, description="the run as it stands: each outcome's count so far"
    )
    summary: dict[str, Any] | None = Field(
        default=None,
        description="what the last epoch of a run ended with (docs/delivery-summary.md)",
    )
    outcomes: list[str] = Field(
        default_factory=list,
        description="where a recipient can end up, in order: the names of the counts in "
        "progress and summary (every recipient is in exactly one, or pending)",
    )
    template_report: dict[str, Any] | None = None
    local_time: dict[str, Any] | None = Field(
        default=None, description="at, fallback_timezone, window_s: sent in local time"
    )
    quiet_hours: dict[str, Any] | None = None
    ab_test: dict[str, Any] | None = None
    variants: list[dict[str, Any]] | None = Field(
        default=None,
        description="an A/B test's figures per variant from what SES said back: delivered, "
        "bounced, complained, opened, clicked, ... and its most clicked links (GET of one)",
    )
    phases: dict[str, Any] | None = Field(
        default=None,
        description="the run's phases (timeline, per-phase counts, problems found before "
        "sending) and the A/B decision with its figures and confidence",
    )
    warnings: list[str] = Field(
        default_factory=list, description="what to fix before sending, though nothing stops it"
    )
    segment: dict[str, Any] | None = Field(
        default=None, description="who of the list it reaches, as created (None: everyone)"
    )
    segment_text: str | None = Field(default=None, description="the segment's text form")
    segment_id: str | None = Field(default=None, description="the saved segment it came from")
    topic: TopicView | None = Field(default=None, description="the topic it targets, as created")
    segment_version: int | None = Field(
        default=None, description="the version of the saved segment it copied"
    )
    urgent: bool = Field(
        default=False, description="a notification: the frequency cap does not hold it back"
    )


class CampaignPage(BaseModel):
    campaigns: list[CampaignView]
    next_cursor: str | None


class ScheduleRequest(Strict):
    at: str | None = Field(default=None, description="one-time: ISO-8601, e.g. 2026-12-01T09:00:00")
    expression: str | None = Field(default=None, description="recurring: cron(...) or rate(...)")
    timezone: str = Field(default="UTC", description="IANA timezone, e.g. Europe/Lisbon")
    local_time: bool = Field(
        default=False, description="send at `at` on each subscriber's own clock"
    )
    fallback_timezone: str | None = Field(
        default=None, description="local time: the clock of subscribers without a known zone"
    )
    window: str | None = Field(
        default=None, description="local time: how long each zone may take (default 60m)"
    )


class FailureView(BaseModel):
    email: str
    reason: str | None
    retryable: bool
    attempts: int

    @classmethod
    def of(cls, entry: LedgerEntry) -> FailureView:
        return cls(
            email=entry.email,
            reason=entry.reason,
            retryable=entry.retryable,
            attempts=entry.attempts,
        )


class FailuresPage(BaseModel):
    failures: list[FailureView]
    next_cursor: str | None


class PreviewRequest(Strict):
    list_id: str | None = Field(default=None, pattern=ID_PATTERN)
    email: str | None = Field(default=None, description="a stored subscriber of list_id")
    attributes: Attributes = Field(default_factory=dict, description="or these attributes")
    variables: Variables = Field(default_factory=dict)
    subject: str | None = Field(default=None, max_length=1000)
    sender: str = Field(default="Fanmail <news@fanmail.example>", max_length=320)


class TemplatePartsBody(Strict):
    subject: str = Field(min_length=1, max_length=1000, description="Jinja, one line")
    html: str = Field(min_length=1, max_length=200_000, description="Jinja, autoescaped")
    text: str = Field(
        default="", max_length=200_000, description='Jinja; "": derived from the HTML'
    )


class DraftPreviewRequest(PreviewRequest):
    parts: TemplatePartsBody


class PreviewView(BaseModel):
    subject: str
    html: str
    text: str
    headers: dict[str, str] = Field(description="the message's headers as sent")

    @classmethod
    def of(cls, preview: Preview) -> PreviewView:
        return cls(
            subject=preview.subject,
            html=preview.html,
            text=preview.text,
            headers=dict(preview.headers),
        )


class StoredTemplateView(BaseModel):
    name: str
    version: int
    reference: str = Field(description="what a campaign pins: NAME@vN")
    created_at: float
    parts: TemplatePartsBody | None = Field(default=None, description="one version's read")


class TemplateNames(BaseModel):
    templates: list[str] = Field(description="the shipped templates (read-only defaults)")
    stored: list[StoredTemplateView] = Field(
        default_factory=list, description="templates written as data: each name's latest version"
    )


class ImportUpload(Strict):
    format: Literal["csv", "jsonl", "pinpoint"] = Field(
        default="csv", description="pinpoint: an Amazon Pinpoint endpoint export (JSON lines)"
    )
    mode: Literal["upsert", "add-only", "unsubscribe"] = "upsert"
    force: Flag = Field(
        default=False, description="re-subscribe addresses that unsubscribed, bounced or complained"
    )
    email_column: str = Field(default="email", min_length=1, max_length=200)
    check_deliverability: Flag = Field(default=False, description="also check DNS (slow)")
    file_name: str = Field(default="", max_length=200)
    columns: dict[str, str] = Field(
        default_factory=dict,
        max_length=100,
        description='the column mapping: {"the file\'s column": "attribute"}; "" skips a column, '
        "a column not named keeps its name",
    )


class ImportCountsView(BaseModel):
    """Every row read is in exactly one of rejected, merged, created, updated, unchanged,
    unsubscribed and skipped."""

    rows: int
    rejected: int
    merged: int = Field(description="a later row for an address the file already gave")
    created: int
    updated: int
    unchanged: int = Field(description="add-only: the address was there already")
    unsubscribed: int = Field(description="unsubscribe mode")
    kept_opted_out: int = Field(description="of updated: the status stayed opted out")
    skipped: int = Field(
        default=0, description="fine but not for fanmail (a Pinpoint endpoint of another channel)"
    )


class RejectedView(BaseModel):
    line: int
    email: str
    reason: str


class ImportView(BaseModel):
    import_id: str
    list_id: str
    status: str = Field(description="waiting_for_upload, queued, running, done or failed")
    stalled: bool = Field(description="running but not advancing: POST .../start goes on")
    options: dict[str, Any]
    file_name: str
    size: int
    bytes_read: int
    line: int = Field(description="the line reading goes on from")
    counts: ImportCountsView
    error: str | None = Field(default=None, description="why the file could not be imported")
    rejected_examples: list[RejectedView]
    created_at: float
    started_at: float | None
    finished_at: float | None
    notes: list[str] = Field(
        default_factory=list,
        description="what the whole file showed (a Pinpoint export: why lines were skipped)",
    )


class UploadView(BaseModel):
    upload_url: str = Field(description="PUT the file here (one request), then POST start")
    upload_method: str
    expires_in: int
    start_path: str
    job: ImportView


class RejectsPage(BaseModel):
    rejects: list[RejectedView]
    next_cursor: int | None


class ResumeRequest(Strict):
    ignore_breakers: Flag = Field(
        default=False,
        description="let this run past the bounce and complaint breakers (after checking why)",
    )


class EventView(BaseModel):
    email: str
    kind: str
    occurred_at: str
    message_id: str
    details: dict[str, str]


class EventsPage(BaseModel):
    events: list[EventView]
    next_cursor: str | None


class PersonView(BaseModel):
    """Everything fanmail holds about one address (GET /people/{email}); `campaigns` is one
    page of the send ledger, `next_cursor` names the next (a page reads at most 10,000
    campaigns, so a short page can still have one)."""

    email: str
    memberships: list[dict[str, Any]] = Field(
        description="each list: status, attributes, topic choices, signed_up_at, imported_by, "
        "engagement (last sent/delivered/opened/clicked, sends and campaigns per UTC day), "
        "soft_bounces and "
        "consent history (each entry with the topic it changed, if any); times as ISO 8601 UTC"
    )
    campaigns: list[dict[str, Any]] = Field(
        description="each campaign sent or tried: when, status, SES message id, events, "
        "problems, engagement (the first open and click: IP address, user agent, link)"
    )
    next_cursor: str | None
    signups: list[dict[str, Any]] = Field(description="sign-ups waiting for their confirmation")
    rejected_rows: list[dict[str, Any]] = Field(description="import rows naming the address")
    campaign_definitions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="campaigns of this page whose definition names the address (a segment "
        "such as a notification's email = ..., variables, subject, name): id, name, status, "
        "parts; an erasure redacts it there",
    )
    saved_segments: list[dict[str, Any]] = Field(
        default_factory=list,
        description="saved segments whose definition or name names the address (list_id, "
        "segment_id, name), on the first page; an erasure redacts it there",
    )


class ErasureStepView(BaseModel):
    name: str = Field(description="memberships, signups, rejected_rows, saved_segments or sends")
    status: str = Field(description="waiting, running or done")
    removed: dict[str, int] = Field(description="items this step removed so far, by store")


class ErasureView(BaseModel):
    """An erasure job: its progress per step and, once done, its receipt (what was removed
    per store, when, at whose request). Never the address."""

    erasure_id: str
    status: str = Field(description="queued, running or done")
    requested_by: str = Field(description="the caller as the API knows it (an IAM principal)")
    requested_at: float
    started_at: float | None
    finished_at: float | None
    steps: list[ErasureStepView]
    removed: dict[str, int] = Field(description="items removed so far, by store")


class ErasuresPage(BaseModel):
    erasures: list[ErasureView] = Field(description="newest first")
    next_cursor: str | None
