"""Shared fixtures: an in-memory stack (fast, deterministic ports) and helpers to seed lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fanmail.domain.model import Campaign, Subscriber, SubscriberStatus
from fanmail.local.harness import SENDER_ADDRESS, MemoryStack, memory_stack
from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir

TEMPLATES = default_templates_dir()


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


@pytest.fixture
def stack() -> Iterator[MemoryStack]:
    s = memory_stack(fast_settings(), rate=2000.0)
    yield s
    s.invoker.close()


def seed(
    stack: MemoryStack,
    count: int,
    list_id: str = "news",
    statuses: dict[int, SubscriberStatus] | None = None,
    attributes: dict[str, str] | None = None,
) -> list[Subscriber]:
    statuses = statuses or {}
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
