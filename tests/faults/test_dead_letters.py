"""#11 item 3: a run whose async invocations all failed ends on the on-failure destination; the
campaign shows up stalled in the API and a resume finishes it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail_local.harness import MemoryStack, with_settings
from tests.conftest import new_campaign, seed, summary_of
from tests.unit.handlers.test_api import call


def test_a_run_in_the_dead_letter_queue_is_stalled_and_resumable(
    live_stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = with_settings(live_stack, stale_after_s=0.3)
    seed(stack, 30)
    campaign = new_campaign(stack)
    real_run = stack.app.runner.run
    attempts: list[int] = []

    def down(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(stack.app.runner, "run", down)
    assert call(stack, "POST", f"/campaigns/{campaign.campaign_id}/send")[0] == 202
    stack.invoker.drain()
    assert len(attempts) == 3  # Lambda's first try and its two retries
    [record] = stack.invoker.dead_letters
    assert record["requestPayload"]["campaign_id"] == campaign.campaign_id
    assert record["responsePayload"]["errorType"] == "ConnectionError"

    time.sleep(0.4)
    status, view = call(stack, "GET", f"/campaigns/{campaign.campaign_id}")
    assert status == 200 and view["status"] == "sending" and view["stalled"] is True

    monkeypatch.setattr(stack.app.runner, "run", real_run)
    assert call(stack, "POST", f"/campaigns/{campaign.campaign_id}/resume")[0] == 202
    stack.invoker.drain()
    done = stack.campaigns.get(campaign.campaign_id)
    assert done is not None and done.status is CampaignStatus.SENT
    assert done.summary is not None and summary_of(done)["sent"] == 30
