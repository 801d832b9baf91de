"""Shared fixtures: an in-memory stack (fast, deterministic ports), helpers to seed lists, and
one moto server per test process that boto3 reaches over real HTTP."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import hypothesis
import pytest

from fanmail.adapters.aws import clients, shared_sessions
from fanmail.adapters.aws.dynamodb import TABLE_KEYS
from fanmail.bootstrap import App
from fanmail.domain.campaign import Campaign
from fanmail.domain.codec import encode_fields
from fanmail.domain.erasure import ErasureJob
from fanmail.domain.import_jobs import ImportJob, ImportOptions
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.services import signups
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.adapters.clock import SimClock
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack, memory_stack
from fanmail_local.moto_server import MotoServer
from fanmail_local.resources import create_bucket, create_tables

TEMPLATES = default_templates_dir()


def fewer_examples(item: pytest.Item) -> None:
    """A hypothesis test tried at most FAST_TIER_EXAMPLES times (its own settings otherwise)."""
    test = getattr(item, "obj", None)
    chosen = getattr(test, "_hypothesis_internal_use_settings", None)
    if chosen is not None and chosen.max_examples > FAST_TIER_EXAMPLES:
        test._hypothesis_internal_use_settings = hypothesis.settings(  # type: ignore[union-attr]
            chosen, max_examples=FAST_TIER_EXAMPLES
        )


TIERS = ("integration", "e2e", "faults", "api", "deploy", "iam")
"""Folders of tests/ that are a tier of their own (marked as the folder is named)."""
LOCAL_MODE_TESTS = Path(__file__).parent / "unit" / "local"
"""Local mode's own machinery (the console, the gateway, schedules): the `local` tier."""
STAND_IN_FIXTURES = frozenset({"session", "moto_endpoint", "table_names", "bucket"})


FAST_TIER_EXAMPLES = 30
"""`make test-fast` tries each property this many times at most (`make test`: as each says)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, so `make test-fast` can leave the slow ones out: by folder,
    and by what it runs on -- the stand-in (`aws`), real threads and the wall clock (`stack`)."""
    fast = os.environ.get("FANMAIL_TEST_TIER") == "fast"
    for item in items:
        if fast:
            fewer_examples(item)
        folder = item.path.relative_to(Path(__file__).parent).parts[0]
        if folder in TIERS:
            item.add_marker(folder)
        if item.path.is_relative_to(LOCAL_MODE_TESTS):
            item.add_marker("local")
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if fixtures & STAND_IN_FIXTURES or "aws" in params.values():
            item.add_marker("aws")
        if "live_stack" in fixtures:
            item.add_marker("stack")
    longest_first(items)


LONG_TIERS = ("api", "e2e", "faults", "slow")
"""Tiers whose tests take seconds to minutes each."""


def longest_first(items: list[pytest.Item]) -> None:
    """Modules holding a long test run first, each module's tests still together and in their
    order: pytest-xdist's workers then share the short tests at the end, instead of one worker
    starting a minutes-long test when the other is nearly done."""
    long = {item.path for item in items if any(item.get_closest_marker(m) for m in LONG_TIERS)}
    items.sort(key=lambda item: item.path not in long)


def pytest_configure(config: pytest.Config) -> None:
    """The IAM test records every AWS call the functions make, from the first test on."""
    from tests.iam.plugin import IamPlugin

    config.pluginmanager.register(IamPlugin(config), "fanmail-iam")


def fast_settings(**changes: object) -> Settings:
    """Settings for in-memory runs: tiny latency estimate, short progress interval."""
    values: dict[str, object] = {
        "templates_dir": TEMPLATES,
        "ses_latency_ms": 5.0,
        "progress_interval_s": 0.2,
        "inline_threshold": 5,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def sim_stack(settings: Settings, **options: Any) -> MemoryStack:
    """The whole stack in memory on simulated time: its threads wait on the clock, which jumps
    when all of them wait (no wall-clock time passes, and runs are deterministic). SES says
    nothing back by itself (`live_stack` has the feedback path running). Simulated time starts
    at the wall clock's, so a time a test takes from the wall clock means the same to it."""
    clock = SimClock(start=time.time())
    return memory_stack(settings, clock=clock, ses_events=False, **options)


@pytest.fixture
def stack() -> Iterator[MemoryStack]:
    s = sim_stack(fast_settings(), rate=2000.0)
    yield s
    s.close()


@pytest.fixture
def live_stack() -> Iterator[MemoryStack]:
    """The whole stack in memory on real threads and the wall clock, with SES's events flowing
    back through the feedback path as they would deployed."""
    s = memory_stack(fast_settings(), rate=2000.0)
    yield s
    s.close()


def seed(
    stack: MemoryStack,
    count: int,
    list_id: str = "news",
    statuses: dict[int, SubscriberStatus] | None = None,
    attributes: dict[str, str] | None = None,
) -> list[Subscriber]:
    statuses = statuses or {}
    if stack.ports.lists.get(list_id) is None:
        stack.app.lists.create(CreateList(list_id))
    subscribers = [
        Subscriber(
            list_id,
            f"user{i:05d}@example.com",
            statuses.get(i, SubscriberStatus.SUBSCRIBED),
            {"first_name": f"User{i}", **(attributes or {})},
        )
        for i in range(count)
    ]
    stack.subscribers.put_many(subscribers)
    return subscribers


def finished(app: App, job: ErasureJob, timeout_s: float = 60.0) -> ErasureJob:
    """The erasure job once its worker (an async invoke, run in process here) has done it."""
    deadline = time.monotonic() + timeout_s
    while not job.done:
        assert time.monotonic() < deadline, f"erasure {job.erasure_id} stuck: {job.to_dict()}"
        time.sleep(0.01)
        job = app.erasures.job(job.erasure_id)
    return job


def erase(app: App, email: str, by: str = "test") -> ErasureJob:
    """An erasure started and followed to its end, as the CLI does."""
    return finished(app, app.erasures.start(email, by))


def summary_of(campaign: Campaign | None) -> dict[str, Any]:
    """The campaign's summary as the API and the CLI show it (its JSON)."""
    assert campaign is not None
    assert campaign.summary is not None
    return encode_fields(campaign.summary)


def new_campaign(stack: MemoryStack, list_id: str = "news", **changes: object) -> Campaign:
    command = CreateCampaign(list_id=list_id, template="newsletter", sender=SENDER_ADDRESS)
    for name, value in changes.items():
        object.__setattr__(command, name, value)
    return stack.app.campaigns.create(command)


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    """A writable templates folder holding a copy of the shipped layout."""
    (tmp_path / "_layouts").mkdir()
    (tmp_path / "_layouts" / "base.html.j2").write_text(
        (TEMPLATES / "_layouts" / "base.html.j2").read_text()
    )
    return tmp_path


REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = MotoServer()
    endpoint = server.start()
    yield endpoint
    server.stop()


@pytest.fixture
def session(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return shared_sessions.session(REGION)


@pytest.fixture
def table_names(session: boto3.Session) -> dict[str, str]:
    """Fresh tables per test (unique names), created as template.yaml declares them."""
    suffix = uuid.uuid4().hex[:8]
    names = {kind: f"{kind}-{suffix}" for kind in TABLE_KEYS}
    create_tables(clients.dynamodb_client(session, 1), names)
    return names


@pytest.fixture
def bucket(session: boto3.Session) -> str:
    """A fresh imports bucket per test."""
    name = f"imports-{uuid.uuid4().hex[:12]}"
    create_bucket(clients.s3_client(session), name)
    return name


def import_text(
    stack: MemoryStack, text: str | bytes, list_id: str = "news", **options: Any
) -> ImportJob:
    """Import a file through the job engine, worked in this process as the CLI does (the list
    is created if it is not there)."""
    if stack.ports.lists.get(list_id) is None:
        stack.app.lists.create(CreateList(list_id))
    data = text.encode() if isinstance(text, str) else text
    return stack.app.imports.run_here(list_id, ImportOptions(**options), data)


@pytest.fixture(autouse=True)
def prompt_sign_up_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-ups answered at once on the wall clock: the floor that hides who is on a list
    (ANSWER_AFTER_S) would add half a second to each of the suite's sign-ups. Stacks built here
    in process take this; a test of the floor sets it on the stack it measures."""
    monkeypatch.setattr(signups, "ANSWER_AFTER_S", 0.0)


@pytest.fixture(autouse=True)
def own_runtime_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A runtime folder of the test's own: the CLI would otherwise find the endpoint file of a
    `fanmail serve` someone runs on this machine and act on its stand-in."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder
