"""SignupStore and RateLimits (#18 items 5 and 6), on memory and on DynamoDB through moto: a
waiting sign-up is taken once, only by the nonce it was mailed with; a counter stops at its
limit per window, and a hold stops a second one, however many ask at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fanmail.domain.model import Signup
from tests.contracts.conftest import Stores

NOW = 1_700_000_000.0


def signup(nonce: str = "n1", email: str = "ada@example.com") -> Signup:
    return Signup("news", email, {"first_name": "Ada"}, NOW, "203.0.113.9", NOW, nonce)


def test_a_sign_up_round_trips_with_its_nonce(stores: Stores) -> None:
    stores.signups.put(signup(), NOW + 60)
    assert stores.signups.get("news", "ada@example.com", NOW) == signup()
    assert stores.signups.get("news", "ada@example.com", NOW + 61) is None  # expired


def test_take_needs_the_nonce_and_works_once(stores: Stores) -> None:
    stores.signups.put(signup(), NOW + 60)
    assert stores.signups.take("news", "ada@example.com", "other", NOW) is None
    assert stores.signups.take("news", "ada@example.com", "", NOW) is None
    assert stores.signups.take("news", "ada@example.com", "n1", NOW) == signup()
    assert stores.signups.take("news", "ada@example.com", "n1", NOW) is None
    assert stores.signups.get("news", "ada@example.com", NOW) is None


def test_take_refuses_an_expired_one_and_a_superseded_one(stores: Stores) -> None:
    stores.signups.put(signup(), NOW + 60)
    assert stores.signups.take("news", "ada@example.com", "n1", NOW + 61) is None
    stores.signups.put(signup("n2"), NOW + 60)  # a later sign-up replaces it
    assert stores.signups.take("news", "ada@example.com", "n1", NOW) is None
    assert stores.signups.take("news", "ada@example.com", "n2", NOW) == signup("n2")


def test_one_take_of_twenty_at_once_gets_it(stores: Stores) -> None:
    stores.signups.put(signup(), NOW + 60)
    with ThreadPoolExecutor(20) as pool:
        takes = [
            pool.submit(stores.signups.take, "news", "ada@example.com", "n1", NOW)
            for _ in range(20)
        ]
        taken = [t.result() for t in takes]
    assert sum(t is not None for t in taken) == 1


def test_a_legacy_sign_up_without_a_nonce_is_taken_by_a_link_without_one(stores: Stores) -> None:
    stores.signups.put(signup(""), NOW + 60)
    assert stores.signups.take("news", "ada@example.com", "n1", NOW) is None
    assert stores.signups.take("news", "ada@example.com", "", NOW) == signup("")


def test_a_counter_stops_at_its_limit_per_window(stores: Stores) -> None:
    counted = [stores.limits.count("source:a", 3, 600, NOW + i) for i in range(5)]
    assert counted == [True, True, True, False, False]
    assert stores.limits.count("source:b", 3, 600, NOW)  # another key
    window_end = (NOW // 600 + 1) * 600
    assert stores.limits.count("source:a", 3, 600, window_end)  # the next window


def test_twenty_counts_at_once_count_exactly_to_the_limit(stores: Stores) -> None:
    with ThreadPoolExecutor(20) as pool:
        counted = list(pool.map(lambda _: stores.limits.count("list:news", 7, 600, NOW), range(20)))
    assert sum(counted) == 7


def test_a_hold_stops_the_next_until_it_ends_or_is_given_back(stores: Stores) -> None:
    assert stores.limits.hold("mailbox:a", NOW + 600, NOW)
    assert not stores.limits.hold("mailbox:a", NOW + 700, NOW + 100)
    assert stores.limits.hold("mailbox:a", NOW + 1300, NOW + 700)  # the first one ended
    stores.limits.release("mailbox:a", NOW + 600)  # not the hold that stands: nothing
    assert not stores.limits.hold("mailbox:a", NOW + 1400, NOW + 800)
    stores.limits.release("mailbox:a", NOW + 1300)
    assert stores.limits.hold("mailbox:a", NOW + 1400, NOW + 800)


def test_one_hold_of_twenty_at_once(stores: Stores) -> None:
    with ThreadPoolExecutor(20) as pool:
        held = list(pool.map(lambda i: stores.limits.hold("mailbox:b", NOW + 600, NOW), range(20)))
    assert sum(held) == 1


def test_used_reads_a_counters_window_without_counting(stores: Stores) -> None:
    assert stores.limits.used("signup-mails:news:sent", 600, NOW) == 0
    for _ in range(3):
        stores.limits.count("signup-mails:news:sent", 1 << 53, 600, NOW)
    assert stores.limits.used("signup-mails:news:sent", 600, NOW + 1) == 3
    assert stores.limits.used("signup-mails:news:sent", 600, NOW + 1) == 3  # a read counts nothing
    assert stores.limits.used("signup-mails:news:sent", 600, NOW + 600) == 0  # the next window
    assert stores.limits.used("signup-mails:deals:sent", 600, NOW) == 0


def test_held_reads_the_standing_hold_and_its_note(stores: Stores) -> None:
    assert stores.limits.held("signups-closed:news", NOW) is None
    assert stores.limits.hold("signups-closed:news", NOW + 600, NOW, note="bounce rate 12%")
    held = stores.limits.held("signups-closed:news", NOW + 599)
    assert held is not None and (held.until, held.note) == (NOW + 600, "bounce rate 12%")
    assert stores.limits.held("signups-closed:news", NOW + 600) is None  # it ended
    assert stores.limits.hold("mailbox:x", NOW + 60, NOW)
    plain = stores.limits.held("mailbox:x", NOW)
    assert plain is not None and plain.note == ""
