"""Progress after a pause and a resume: what the API and `fanmail campaign watch` show moves with
the resumed run, from where the pause left it to the end, instead of the paused run's figures."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from fanmail_local.cli.campaign_views import watch_line
from fanmail_local.harness import MemoryStack, memory_stack
from tests.conftest import fast_settings, new_campaign, seed

pytestmark = pytest.mark.stack

RECIPIENTS = 120


def watched(stack: MemoryStack, campaign_id: str) -> tuple[dict[str, Any], int]:
    """The campaign as the API shows it, and the settled count `watch` draws in its bar."""
    view = stack.app.views.campaign(stack.app.campaigns.get(campaign_id))
    bar = re.search(r"\] (\d+)/(\d+)", watch_line(view, 0.0))
    assert bar is not None and int(bar.group(2)) == RECIPIENTS
    return view, int(bar.group(1))


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_progress_moves_through_a_pause_and_a_resume() -> None:
    settings = fast_settings(
        inline_threshold=0, inline_max_rate=0.0, max_sender_rate=30.0, progress_interval_s=0.1
    )
    stack = memory_stack(settings, rate=30.0)
    try:
        seed(stack, RECIPIENTS)
        campaign_id = new_campaign(stack).campaign_id
        stack.invoker.invoke_async("trigger", {"campaign_id": campaign_id})
        wait_for(lambda: len(stack.ses.deliveries) >= 20)
        stack.app.lifecycle.pause(campaign_id)
        stack.invoker.drain()
        paused, paused_at = watched(stack, campaign_id)
        assert paused["status"] == "paused" and 0 < paused_at < RECIPIENTS

        stack.app.lifecycle.resume(campaign_id)
        seen: list[int] = []
        while True:
            view, settled = watched(stack, campaign_id)
            if view["status"] != "sending":
                break
            assert view["summary"] is None  # the paused run's summary is not the current one
            seen.append(settled)
            time.sleep(0.05)
        stack.invoker.drain()
        final, done = watched(stack, campaign_id)
        assert final["status"] == "sent" and done == RECIPIENTS
        assert min(seen) >= paused_at  # never back below where the pause left it
        assert any(paused_at < n < RECIPIENTS for n in seen)  # it moved while it sent
    finally:
        stack.close()
