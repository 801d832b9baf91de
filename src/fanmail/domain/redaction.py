"""An erased address taken out of the campaigns whose definition names it: a notification's
segment `email = "ana@example.com"` (the README's pattern), an `in` list of addresses, a
variable, the subject or the name. Campaigns are kept for good, so without this the address
would outlive its erasure there, and the export would not say where it is.

Each text that holds the address gets ERASED in its place: no address can equal it (`<` is
not allowed in one), so the segment still reads and a condition on the address matches nobody
(one that left the address out, `email != ...`, now leaves out nobody: the address is on no
list once erased, and comes back only with fresh consent). The campaign's notes say an erasure
did it. A saved segment that names it gets a new version that reads ERASED there. Pure: the
eraser applies it (services.campaign_redaction, services.erasures).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import cast

from fanmail.domain.abtest import Variant
from fanmail.domain.addresses import normalise_email
from fanmail.domain.campaign import Campaign, SegmentSnapshot
from fanmail.domain.codec import Json, JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.saved_segments import SavedSegment

ERASED = "<erased>"
NOTE = f"an erasure took an address out of this campaign's definition: it reads {ERASED} there now"
PARTS = ("segment", "variables", "subject", "name", "ab_test", "template_report")
"""Where a campaign's definition can hold an address, as the export names them."""


def _names(text: str, address: str) -> bool:
    """Whether `text` holds `address`: as written (any case), or as another spelling of it."""
    if address in text.lower():
        return True
    if "@" not in text:
        return False
    try:
        return normalise_email(text.strip()) == address
    except InvalidInput:
        return False


def _redact_text(text: str, address: str) -> str:
    if address not in text.lower():  # another spelling of it, whole
        return ERASED if _names(text, address) else text
    return re.sub(re.escape(address), ERASED, text, flags=re.IGNORECASE)


def _redact_json(value: Json, address: str) -> Json:
    """Every string in a segment's JSON (not the attribute's name), an `in` list's values
    once each (two spellings of the address become one ERASED)."""
    if isinstance(value, str):
        return _redact_text(value, address)
    if isinstance(value, list):
        redacted = [_redact_json(v, address) for v in value]
        return [v for i, v in enumerate(redacted) if v not in redacted[:i]]
    if isinstance(value, dict):
        return {k: v if k == "attribute" else _redact_json(v, address) for k, v in value.items()}
    return value


def _strings(value: Json) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k != "attribute" for s in _strings(v)]
    return []


def _redact_variant(variant: Variant, address: str) -> Variant:
    subject = None if variant.subject is None else _redact_text(variant.subject, address)
    variables = {k: _redact_text(v, address) for k, v in variant.variables.items()}
    return replace(variant, subject=subject, variables=variables)


def named_in(campaign: Campaign, address: str) -> tuple[str, ...]:
    """The parts of the campaign's definition (PARTS) that name `address` (normalised)."""
    texts = {
        "segment": _strings(campaign.segment.definition) if campaign.segment else [],
        "variables": list(campaign.variables.values()),
        "subject": [campaign.subject or ""],
        "name": [campaign.name],
    }
    if campaign.summary is not None and campaign.summary.segment:
        texts["segment"].append(campaign.summary.segment)
    variants = campaign.ab_test.variants if campaign.ab_test else ()
    texts["ab_test"] = [v.subject or "" for v in variants]
    texts["ab_test"] += [value for v in variants for value in v.variables.values()]
    report = campaign.template_report
    texts["template_report"] = (
        [e for found in report.examples.values() for e in found] if report else []
    )
    return tuple(p for p in PARTS if any(_names(t, address) for t in texts[p]))


def redacted(campaign: Campaign, address: str) -> Campaign:
    """The campaign with `address` replaced by ERASED wherever its definition holds it (the
    segment, its text in the run's summary, the variables, subject and name), and NOTE."""
    segment = campaign.segment
    if segment is not None:
        segment = SegmentSnapshot.from_json(_redact_json(segment.definition, address), "segment")
    summary = campaign.summary
    if summary is not None and summary.segment:
        summary = replace(summary, segment=_redact_text(summary.segment, address))
    test = campaign.ab_test
    if test is not None:
        test = replace(test, variants=tuple(_redact_variant(v, address) for v in test.variants))
    report = campaign.template_report
    if report is not None:  # examples of who lacks an attribute: the address leaves them
        kept = {
            k: tuple(e for e in found if not _names(e, address))
            for k, found in report.examples.items()
        }
        report = replace(report, examples=kept)
    return replace(
        campaign,
        segment=segment,
        summary=summary,
        ab_test=test,
        template_report=report,
        variables={k: _redact_text(v, address) for k, v in campaign.variables.items()},
        subject=None if campaign.subject is None else _redact_text(campaign.subject, address),
        name=_redact_text(campaign.name, address),
        notes=campaign.notes if NOTE in campaign.notes else (*campaign.notes, NOTE),
    )


def segment_names(saved: SavedSegment, address: str) -> bool:
    """Whether a saved segment's definition or name holds `address` (normalised)."""
    return any(_names(t, address) for t in (saved.name, *_strings(saved.definition)))


def redacted_segment(saved: SavedSegment, address: str, now: float) -> SavedSegment:
    """A new version of the saved segment with `address` replaced by ERASED (campaigns made
    from an earlier version keep theirs, redacted with the campaign)."""
    definition = cast("JsonObject", _redact_json(saved.definition, address))  # an object stays one
    return replace(
        saved,
        name=_redact_text(saved.name, address),
        definition=definition,
        version=saved.version + 1,
        updated_at=now,
    )
