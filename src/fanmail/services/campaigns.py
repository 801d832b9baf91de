"""Creating campaigns (validated up front), reading them, and claiming them for a run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from fanmail.domain.abtest import AbTest, parse_ab_test, small_test_note
from fanmail.domain.addresses import normalise_email
from fanmail.domain.attributes import check_display_name, check_variables
from fanmail.domain.audience import Audience
from fanmail.domain.campaign import Campaign, SegmentSnapshot
from fanmail.domain.engagement import FrequencyCap
from fanmail.domain.errors import Conflict, InvalidInput, NotFound, TemplateProblem
from fanmail.domain.ids import check_cursor, check_id
from fanmail.domain.ledger_shards import shards_for_rate
from fanmail.domain.list_shards import slow_list_note
from fanmail.domain.model import MailingList, Subscriber, SubscriberStatus
from fanmail.domain.phases import with_variant
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.domain.render import TemplateRenderer, render_context
from fanmail.domain.run import RunEpoch, to_event
from fanmail.domain.saved_segments import SavedSegment
from fanmail.domain.segments import Segment
from fanmail.domain.topics import Topic
from fanmail.domain.transitions import start_run
from fanmail.functions import TRIGGER
from fanmail.ports import (
    CampaignStore,
    Clock,
    Invoker,
    ListStore,
    SegmentStore,
    SesAccount,
    SubscriberStore,
)
from fanmail.services.audience import Audiences, refuse_empty
from fanmail.services.preview import template_report
from fanmail.services.senders import SenderCheck
from fanmail.services.topics import bind, target

SAMPLE_PAGE = 25
FRESH_COUNT_S = 3600.0
"""How long a saved segment's exact count of nobody refuses a send of a list too large to
count at once."""
MAX_NAME_CHARS = 200
PAGE_MAX = 1000


@dataclass(frozen=True, slots=True)
class CreateCampaign:
    list_id: str
    template: str
    sender: str | None
    """Default (None or ""): the list's sender."""
    subject: str | None = None
    reply_to: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    campaign_id: str | None = None
    segment: object = None
    """Who of the list: a segment in either form (JSON object or text); None: everyone."""
    segment_id: str | None = None
    """Or a saved segment of the list, whose definition the campaign copies."""
    urgent: bool = False
    """A notification: not held back by the frequency cap."""
    quiet_hours: Mapping[str, object] | None = None
    ab_test: Mapping[str, object] | None = None
    name: str = ""
    topic: str | None = None
    """A topic of the list (its id): only subscribers in it; with `segment`, both hold."""


def _list_sender(mailing_list: MailingList) -> str:
    if not mailing_list.settings.sender:
        raise InvalidInput(
            f"sender: none given and list {mailing_list.list_id!r} has no sender set; give "
            "one (--sender, the API's sender) or set the list's (fanmail lists set "
            f"{mailing_list.list_id} --sender ..., PATCH /lists/{mailing_list.list_id})"
        )
    return mailing_list.settings.sender


def _audience(
    segment: Segment | None, topic_id: str | None, mailing_list: MailingList
) -> tuple[Topic | None, Segment | None]:
    """The topic targeted and the segment applied (the topic's condition folded into it; a
    topic named in the segment, inline or saved, bound to the list's topic)."""
    if segment is not None:
        segment = bind(mailing_list, segment)
    if topic_id is None:
        return None, segment
    return target(mailing_list, topic_id, segment)


def nobody_on(list_id: str, counts: Mapping[str, int]) -> str | None:
    """Why a send to the whole list would reach nobody, from its kept counts (None: someone)."""
    if counts.get(SubscriberStatus.SUBSCRIBED.value, 0) > 0:
        return None
    held = sum(counts.values())
    others = f" ({held:,} subscribers, none subscribed)" if held else ""
    return f"list {list_id!r} has nobody who receives mail{others}: import or add some first"


class EmptyList(InvalidInput):
    """A preview or a test send needs a subscriber to render as."""


NOBODY_YET = "subscriber@example.com"
"""Whom a campaign made on an empty list is checked as (it cannot be sent until it has some)."""


def sample_subscriber(
    subscribers: SubscriberStore, list_id: str, audience: Audience | None = None
) -> Subscriber:
    """Whom a preview or a test is rendered as: of the list's first page, one who receives
    mail, and (a campaign's `audience`: its segment, its topic) one it would reach."""
    facts = audience.facts() if audience is not None else frozenset()
    page = subscribers.page(list_id, None, SAMPLE_PAGE, facts=facts)
    if not page.subscribers:
        raise EmptyList(f"list {list_id!r} has no subscribers")
    receiving = [s for s in page.subscribers if s.status.receives_mail]
    inside = [s for s in receiving if audience is None or audience.includes(s)]
    return (inside or receiving or page.subscribers)[0]


class Campaigns:
    """Campaign definitions: create (everything a send needs is checked now), read, start."""

    def __init__(
        self,
        *,
        campaign_store: CampaignStore,
        subscribers: SubscriberStore,
        ses: SesAccount,
        invoker: Invoker,
        list_store: ListStore,
        renderer: TemplateRenderer,
        clock: Clock,
        senders: SenderCheck,
        audiences: Audiences,
        default_cap: FrequencyCap | None = None,
        pin: Callable[[str], str] = str,
        rate_override: float | None = None,
        segments: SegmentStore | None = None,
    ) -> None:
        """`pin`: the template a campaign stores for the one it names (StoredTemplates.pin);
        `rate_override`: the rate runs send at instead of SES's MaxSendRate (as the trigger's)."""
        self.rate_override = rate_override
        self.pin = pin
        self.segments = segments
        self.default_cap = default_cap
        self.senders = senders
        self.audiences = audiences
        self.list_store = list_store
        self.campaign_store = campaign_store
        self.subscribers = subscribers
        self.ses = ses
        self.invoker = invoker
        self.renderer = renderer
        self.clock = clock

    def create(self, command: CreateCampaign) -> Campaign:
        """Validate everything a send will need, then store the campaign as a draft.

        Nothing is stored when any check fails: a template error is caught here, not half-way
        through a send.
        """
        campaign = self._defined(command, command.campaign_id or self._new_id())
        self.campaign_store.create(campaign)
        return campaign

    def edit(self, campaign_id: str, command: CreateCampaign) -> Campaign:
        """A draft defined anew, checked as a new one is; Conflict once it is no longer a
        draft (a scheduled or sent campaign keeps what it was sent with)."""
        current = self.get(campaign_id)
        edited = replace(self._defined(command, current.campaign_id), created_at=current.created_at)
        self.campaign_store.replace_draft(edited)
        return edited

    def delete_draft(self, campaign_id: str) -> None:
        """Only a draft goes: anything sent keeps its record (counts, ledger, feedback)."""
        self.campaign_store.delete_draft(self.get(campaign_id).campaign_id)

    def _defined(self, command: CreateCampaign, campaign_id: str) -> Campaign:
        campaign_id = check_id("campaign id", campaign_id)
        name = check_display_name(command.name.strip(), "name")
        if len(name) > MAX_NAME_CHARS:
            raise InvalidInput(f"name is longer than {MAX_NAME_CHARS} characters")
        list_id = check_id("list id", command.list_id)
        mailing_list = self.list_store.get(list_id)
        if mailing_list is None:
            raise NotFound(f"list {list_id!r} not found")
        sender = self.senders.check(command.sender or _list_sender(mailing_list))
        reply_to = normalise_email(command.reply_to, what="reply-to") if command.reply_to else None
        segment, saved = self._segment(command, list_id)
        topic, segment = _audience(segment, command.topic, mailing_list)
        variables = check_variables(command.variables)
        # a stored template is pinned to its latest version: senders render exactly that
        command = replace(command, variables=variables, template=self.pin(command.template))
        list_info = mailing_list.context()
        self._check_renders(command, campaign_id, list_id, list_info)
        quiet = mailing_list.settings.quiet_hours  # the list's, unless the campaign sets its own
        if command.quiet_hours is not None:
            quiet = parse_quiet_hours(command.quiet_hours)
        test = None if command.ab_test is None else parse_ab_test(command.ab_test)
        if test is not None:
            self._check_variants(command, test, campaign_id, list_id, list_info)
        report = template_report(
            self.renderer,
            template=command.template,
            subject=command.subject,
            variables=command.variables,
            subscribers=self.subscribers,
            list_id=list_id,
        )
        return Campaign(
            campaign_id=campaign_id,
            name=name,
            list_id=list_id,
            template=command.template,
            sender=sender,
            subject=command.subject,
            reply_to=reply_to,
            variables=dict(command.variables),
            created_at=self.clock.now(),
            template_report=report,
            list_info=list_info,
            segment=SegmentSnapshot.of(segment) if segment is not None else None,
            segment_id=saved.segment_id if saved else None,
            segment_version=saved.version if saved else None,
            notes=self._notes(mailing_list, segment, test),
            frequency_cap=mailing_list.settings.frequency_cap or self.default_cap,
            urgent=command.urgent,
            quiet_hours=quiet,
            ab_test=test,
            topic=topic,
        )

    def _segment(
        self, command: CreateCampaign, list_id: str
    ) -> tuple[Segment | None, SavedSegment | None]:
        """The segment the campaign copies: given inline, or a saved one of the list as it
        is now (a later edit of the saved one does not change this campaign)."""
        if command.segment_id is None:
            inline = command.segment
            return (Segment.read(inline, "segment") if inline is not None else None), None
        if command.segment is not None:
            raise InvalidInput("give segment or segment_id, not both")
        segment_id = check_id("segment_id", command.segment_id)
        saved = self.segments.get(list_id, segment_id) if self.segments else None
        if saved is None:
            raise NotFound(f"segment {segment_id!r} of list {list_id!r} not found")
        return Segment.from_json(saved.definition, "segment_id"), saved

    def _notes(
        self, mailing_list: MailingList, segment: Segment | None, test: AbTest | None
    ) -> tuple[str, ...]:
        """What the owner should know before sending: a segment naming an attribute nobody
        has, a list on one partition key, an A/B test too small to tell its variants apart."""
        list_id = mailing_list.list_id
        size = self.audiences.measure(list_id, segment) if segment is not None else None
        notes = size.warnings() if size is not None else []
        notes.append(slow_list_note(mailing_list.shards) or "")
        if test is not None:
            receiving = (
                size.receiving.count
                if size is not None
                else self.subscribers.counts(list_id).get(SubscriberStatus.SUBSCRIBED.value, 0)
            )
            notes.append(small_test_note(receiving, test) or "")
        return tuple(note for note in notes if note)

    def _check_audience(self, campaign_id: str) -> None:
        """Refuse a send that would reach nobody, where the list is small enough to count, or
        its saved segment's exact count (of the version it copied, finished within the last
        FRESH_COUNT_S) found nobody; otherwise it runs, and its summary says how many the
        segment reached."""
        campaign = self.get(campaign_id)
        if campaign.segment is None:
            why = nobody_on(campaign.list_id, self.subscribers.counts(campaign.list_id))
            if why is not None:
                raise Conflict(f"{why}; nothing was started", campaign.status.value)
            return
        segment = campaign.segment.segment()
        size = self.audiences.counted(campaign.list_id, segment)
        why = refuse_empty(size, segment) if size is not None else self._counted_empty(campaign)
        if why is not None:
            raise Conflict(f"{why}; nothing was started", campaign.status.value)

    def _counted_empty(self, campaign: Campaign) -> str | None:
        if campaign.segment_id is None or self.segments is None:
            return None
        count = self.segments.count_of(campaign.list_id, campaign.segment_id)
        if count is None or not count.done or count.version != campaign.segment_version:
            return None
        age_s = self.clock.now() - (count.finished_at or 0.0)
        if age_s > FRESH_COUNT_S or count.receiving > 0:
            return None
        return (
            f"the exact count of saved segment {campaign.segment_id!r} (version "
            f"{count.version}, {age_s / 60:.0f} min ago) found nobody who receives mail: "
            f"{count.matched:,} of the list's {count.total:,} subscribers, all opted out or none "
            "(count it again if the list has changed)"
        )

    def _new_id(self) -> str:
        return f"cmp-{int(self.clock.now())}-{uuid.uuid4().hex[:8]}"

    def _check_variants(
        self,
        command: CreateCampaign,
        test: AbTest,
        campaign_id: str,
        list_id: str,
        list_info: dict[str, str],
    ) -> None:
        """Each A/B variant renders as the campaign does; a failure names the variant."""
        for variant in test.variants:
            subject, template, variables = with_variant(
                command.subject, command.template, command.variables, variant
            )
            version = replace(command, subject=subject, template=template, variables=variables)
            try:
                self._check_renders(version, campaign_id, list_id, list_info)
            except (InvalidInput, TemplateProblem) as exc:  # the same answer, naming the variant
                raise type(exc)(f"ab_test variant {variant.name}: {exc}") from None

    def _check_renders(
        self, command: CreateCampaign, campaign_id: str, list_id: str, list_info: dict[str, str]
    ) -> None:
        compiled = self.renderer.campaign_template(command.template, command.subject)
        try:
            sample = sample_subscriber(self.subscribers, list_id)
        except EmptyList:  # a draft made before the import: rendered with no attributes
            sample = Subscriber(list_id, NOBODY_YET)
        try:
            compiled.render(
                render_context(
                    campaign_id=campaign_id,
                    variables=command.variables,
                    email=sample.email,
                    attributes=sample.attributes,
                    extras={
                        "unsubscribe_url": "https://unsubscribe.invalid/u/preview",
                        "preferences_url": "https://unsubscribe.invalid/p/preview",
                    },
                    list_info=list_info,
                )
            )
        except TemplateProblem as exc:
            raise TemplateProblem(f"{exc} (preview for sample subscriber {sample.email})") from None

    def get(self, campaign_id: str) -> Campaign:
        campaign = self.campaign_store.get(check_id("campaign id", campaign_id))
        if campaign is None:
            raise NotFound(f"campaign {campaign_id!r} not found")
        return campaign

    def list(self, cursor: str | None, limit: int) -> tuple[list[Campaign], str | None]:
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {PAGE_MAX}, got {limit}")
        return self.campaign_store.list(check_cursor(cursor), limit)

    def check_account(self) -> None:
        """Refuse to start when SES would not send (sending disabled, account shut down)."""
        problem = self.ses.status().problem
        if problem is not None:
            raise Conflict(f"{problem}: nothing was started; fix the account, then send again")

    def start(self, campaign_id: str) -> Campaign:
        """Claim a draft or scheduled campaign for one run; a second trigger gets Conflict."""
        check_id("campaign id", campaign_id)
        self.check_account()
        self._check_audience(campaign_id)
        rate = self.rate_override or self.ses.quota().max_send_rate
        return self.campaign_store.transition(
            campaign_id, start_run(uuid.uuid4().hex, self.clock.now(), shards_for_rate(rate))
        )

    def send_now(self, campaign_id: str) -> Campaign:
        """Claim the campaign and hand its run to the trigger function (an async invoke)."""
        campaign = self.start(campaign_id)
        assert campaign.run_id is not None
        self.invoker.invoke_async(TRIGGER.name, to_event(RunEpoch(campaign_id, campaign.run_id)))
        return campaign
