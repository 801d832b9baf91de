"""SendLedger: claims are exclusive until their lease ends; completion always records the send;
failure and release are fenced by the holder. Each holds for a campaign's ledger of one
partition key (a campaign stored before shards existed) and of several."""

from __future__ import annotations

import pytest

from fanmail.domain.campaign import Campaign
from fanmail.domain.errors import InvalidInput
from fanmail.domain.ledger_shards import shard_of
from fanmail.ports import ClaimOutcome
from tests.contracts.conftest import Stores

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True, params=[1, 5], ids=["one-shard", "five-shards"])
def shards(request: pytest.FixtureRequest, stores: Stores) -> int:
    """Campaigns c1 and c2, started, with their ledgers over this many partition keys."""
    for campaign_id in ("c1", "c2"):
        stores.campaigns.create(
            Campaign(campaign_id, "news", "t", "n@x.com", run_id="r1", ledger_shards=request.param)
        )
    return int(request.param)


def test_claim_is_exclusive_until_the_lease_expires(stores: Stores) -> None:
    ledger = stores.ledger
    assert ledger.claim("c1", "a@x.com", "h1", NOW + 10, NOW).outcome is ClaimOutcome.CLAIMED
    busy = ledger.claim("c1", "a@x.com", "h2", NOW + 20, NOW + 1)
    assert busy.outcome is ClaimOutcome.BUSY and busy.retry_after == NOW + 10
    assert busy.holder == "h1"  # whose lease: a leaf tells a twin of itself by it
    taken = ledger.claim("c1", "a@x.com", "h2", NOW + 30, NOW + 11)  # h1's lease is over
    assert taken.outcome is ClaimOutcome.CLAIMED
    ledger.release("c1", "a@x.com", "h1", NOW + 12)  # the old holder cannot undo h2's claim
    assert ledger.claim("c1", "a@x.com", "h3", NOW + 40, NOW + 13).outcome is ClaimOutcome.BUSY
    ledger.complete("c1", "a@x.com", "h2", "msg-1", NOW + 14)
    assert ledger.claim("c1", "a@x.com", "h4", NOW + 50, NOW + 60).outcome is ClaimOutcome.SENT
    assert ledger.claim("c2", "a@x.com", "h1", NOW + 10, NOW).outcome is ClaimOutcome.CLAIMED


def test_completion_is_recorded_whoever_holds_the_claim_never_when_erased(stores: Stores) -> None:
    ledger = stores.ledger
    ledger.claim("c1", "a@x.com", "h1", NOW + 10, NOW)
    ledger.claim("c1", "a@x.com", "h2", NOW + 30, NOW + 11)  # taken over after h1's lease
    ledger.complete("c1", "a@x.com", "h1", "m-late", NOW + 12)  # h1's message did go out
    assert ledger.claim("c1", "a@x.com", "h3", NOW + 40, NOW + 13).outcome is ClaimOutcome.SENT
    ledger.claim("c1", "gone@x.com", "h1", NOW + 10, NOW)
    assert ledger.forget("c1", "gone@x.com")  # the address erased while its mail was sent
    ledger.complete("c1", "gone@x.com", "h1", "m-2", NOW)  # nothing of it is written back
    assert not ledger.forget("c1", "gone@x.com")
    entries, _ = ledger.entries("c1", "sent", None, 10)
    assert {(e.email, e.message_id) for e in entries} == {("a@x.com", "m-late")}


def test_fail_and_release_need_the_holder(stores: Stores) -> None:
    ledger = stores.ledger
    ledger.fail("c1", "nobody@x.com", "h1", "x", False, NOW)  # no record: nothing is created
    assert ledger.entries("c1", None, None, 10) == ([], None)
    ledger.claim("c1", "b@x.com", "h1", NOW + 10, NOW)
    ledger.fail("c1", "b@x.com", "h-other", "wrong holder", False, NOW)
    assert ledger.claim("c1", "b@x.com", "h2", NOW + 11, NOW + 1).outcome is ClaimOutcome.BUSY


def test_a_record_erased_between_claim_and_settling_stays_gone(stores: Stores, shards: int) -> None:
    """An erasure deletes the record while its holder sends: whatever the holder writes next
    (failed, released, sent) creates nothing, and a send event's confirmation neither."""
    ledger = stores.ledger
    for n, settle in enumerate(("fail", "release", "complete", "confirm")):
        email = f"gone{n}@x.com"
        assert ledger.claim("c1", email, "h1", NOW + 10, NOW).outcome is ClaimOutcome.CLAIMED
        assert ledger.forget("c1", email)
        if settle == "fail":
            ledger.fail("c1", email, "h1", "refused", False, NOW + 1)
        elif settle == "release":
            ledger.release("c1", email, "h1", NOW + 1)
        elif settle == "complete":
            ledger.complete("c1", email, "h1", "m-1", NOW + 1)
        else:
            assert not ledger.confirm_sent("c1", email, "m-1", NOW + 1)
        assert ledger.of_address(email, {"c1": shards}) == [], settle
    assert ledger.entries("c1", None, None, 10) == ([], None)


def test_released_claims_can_be_taken_and_failures_resent_only_when_asked(
    stores: Stores,
) -> None:
    ledger = stores.ledger
    ledger.claim("c1", "r@x.com", "h1", NOW + 10, NOW)
    ledger.release("c1", "r@x.com", "h1", NOW)
    assert ledger.claim("c1", "r@x.com", "h2", NOW + 10, NOW).outcome is ClaimOutcome.CLAIMED
    ledger.fail("c1", "r@x.com", "h2", "InternalFailure", True, NOW)
    ledger.claim("c1", "p@x.com", "h2", NOW + 10, NOW)
    ledger.fail("c1", "p@x.com", "h2", "Address blacklisted", False, NOW)
    again = ledger.claim("c1", "r@x.com", "h3", NOW + 10, NOW)
    assert again.outcome is ClaimOutcome.FAILED and again.reason == "InternalFailure"
    resend = ledger.claim("c1", "r@x.com", "h3", NOW + 10, NOW, retry_failed=True)
    assert resend.outcome is ClaimOutcome.CLAIMED
    permanent = ledger.claim("c1", "p@x.com", "h3", NOW + 10, NOW, retry_failed=True)
    assert permanent.outcome is ClaimOutcome.FAILED


def test_entries_are_paged_by_status(stores: Stores, shards: int) -> None:
    ledger = stores.ledger
    for i in range(30):
        email = f"u{i:02d}@x.com"
        ledger.claim("c1", email, "h", NOW + 10, NOW)
        if i % 3 == 0:
            ledger.fail("c1", email, "h", f"reason {i}", i % 2 == 0, NOW)
        else:
            ledger.complete("c1", email, "h", f"m{i}", NOW)
    seen = []
    cursor = None
    while True:
        entries, cursor = ledger.entries("c1", "failed", cursor, 4)
        seen.extend(entries)
        if cursor is None:
            break
    failed = [f"u{i:02d}@x.com" for i in range(0, 30, 3)]
    in_order = sorted(failed, key=lambda email: (shard_of(email, shards), email))
    assert [e.email for e in seen] == in_order  # shard after shard, by address in each
    by_email = {e.email: e for e in seen}
    assert by_email["u00@x.com"].attempts == 1 and by_email["u00@x.com"].retryable
    assert not by_email["u03@x.com"].retryable and by_email["u03@x.com"].reason == "reason 3"
    everything, cursor = ledger.entries("c1", None, None, 100)
    assert len(everything) == 30 and cursor is None
    pages: list[str] = []
    cursor = None
    while True:  # pages of one never repeat or skip a record, across shard boundaries
        page, cursor = ledger.entries("c1", None, cursor, 1)
        pages.extend(e.email for e in page)
        if cursor is None:
            break
    assert sorted(pages) == sorted(e.email for e in everything)


def test_a_send_event_confirms_what_a_crash_or_a_timeout_hid(stores: Stores) -> None:
    ledger = stores.ledger
    ledger.claim("c1", "a@x.com", "h1", NOW + 10, NOW)  # the sender died after SES accepted
    assert ledger.confirm_sent("c1", "a@x.com", "ses-1", NOW + 1) is True
    assert ledger.claim("c1", "a@x.com", "h2", NOW + 30, NOW + 20).outcome is ClaimOutcome.SENT
    ledger.claim("c1", "b@x.com", "h1", NOW + 10, NOW)  # SES timed out but did send it
    assert ledger.confirm_sent("c1", "b@x.com", "ses-2", NOW + 1) is True
    ledger.fail("c1", "b@x.com", "h1", "ReadTimeoutError", True, NOW + 2)  # too late: stays sent
    ledger.release("c1", "b@x.com", "h1", NOW + 2)
    resend = ledger.claim("c1", "b@x.com", "h3", NOW + 30, NOW + 3, retry_failed=True)
    assert resend.outcome is ClaimOutcome.SENT
    assert ledger.confirm_sent("c1", "b@x.com", "ses-2", NOW + 4) is False  # already sent
    assert ledger.confirm_sent("c1", "nobody@x.com", "ses-3", NOW) is False
    entries, _ = ledger.entries("c1", "sent", None, 10)
    assert {(e.email, e.message_id) for e in entries} == {
        ("a@x.com", "ses-1"),
        ("b@x.com", "ses-2"),
    }


def test_a_cursor_it_did_not_give_out_is_refused(stores: Stores, shards: int) -> None:
    stores.ledger.claim("c1", "a@x.com", "h", NOW + 10, NOW)
    if shards == 1:  # the address itself, as cursors were before shards
        assert stores.ledger.entries("c1", None, "a@x.com", 10) == ([], None)
        return
    for forged in ("a@x.com", "9:a@x.com", "x:a@x.com", "1:", "-1:a@x.com"):
        with pytest.raises(InvalidInput, match="cursor"):
            stores.ledger.entries("c1", None, forged, 10)


def test_records_of_an_address_name_their_campaign_whatever_its_shard(
    stores: Stores, shards: int
) -> None:
    ledger = stores.ledger
    for campaign_id in ("c1", "c2"):
        ledger.claim(campaign_id, "p@x.com", "h", NOW + 10, NOW)
        ledger.complete(campaign_id, "p@x.com", "h", f"m-{campaign_id}", NOW)
    ledger.claim("c1", "other@x.com", "h", NOW + 10, NOW)
    both = {"c2": shards, "c1": shards, "c3": 1}  # c3: no campaign, no record
    found = ledger.of_address("p@x.com", both)
    assert [(c, e.email, e.status, e.message_id) for c, e in found] == [
        ("c1", "p@x.com", "sent", "m-c1"),
        ("c2", "p@x.com", "sent", "m-c2"),
    ]
    assert [c for c, _ in ledger.of_address("other@x.com", both)] == ["c1"]
    assert ledger.of_address("p@x.com", {"c2": shards}) == found[1:]  # only those asked about
    assert ledger.of_address("p@x.com", {}) == []
    assert ledger.forget("c2", "p@x.com") and not ledger.forget("c2", "p@x.com")
    assert [c for c, _ in ledger.of_address("p@x.com", both)] == ["c1"]
