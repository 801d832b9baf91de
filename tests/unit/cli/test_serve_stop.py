"""A stopping `fanmail serve`: it pauses what is sending, says what it waits for, and waits at
most its bound -- a second Ctrl-C quits at once -- instead of a silent minute or two."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail_local.cli import serve
from fanmail_local.harness import MemoryStack
from tests.conftest import new_campaign, seed


class Quit(Exception):
    """serve.quit_now, which would end the test run (os._exit)."""


@dataclass
class Functions:
    """The invoker's async events still running: `left` checks, then none (or never)."""

    left: int
    interrupt: bool = False

    def in_flight(self) -> int:
        if self.interrupt:
            raise KeyboardInterrupt
        self.left = max(0, self.left - 1) if self.left < 1000 else self.left
        return self.left


@dataclass
class Runtime:
    app: Any
    invoker: Functions


@pytest.fixture
def sending(stack: MemoryStack, monkeypatch: pytest.MonkeyPatch) -> str:
    def quit_now() -> None:
        raise Quit

    monkeypatch.setattr(serve, "quit_now", quit_now)
    monkeypatch.setattr(time, "sleep", lambda _: None)  # the wait's polls, at once
    seed(stack, 3)
    campaign_id: str = stack.app.campaigns.start(new_campaign(stack).campaign_id).campaign_id
    return campaign_id


def status(stack: MemoryStack, campaign_id: str) -> CampaignStatus | None:
    found = stack.campaigns.get(campaign_id)
    return None if found is None else found.status


def test_it_pauses_the_send_and_says_what_it_waits_for(
    stack: MemoryStack, sending: str, capsys: pytest.CaptureFixture[str]
) -> None:
    serve.wind_down(Runtime(stack.app, Functions(3)), bound_s=5)  # type: ignore[arg-type]
    assert status(stack, sending) is CampaignStatus.PAUSED
    err = capsys.readouterr().err
    assert f"waiting up to 5 s for campaign {sending} to pause" in err and "again" in err
    assert err.splitlines()[-1] == f"campaign {sending} paused"  # how the wait ended


def test_nothing_in_flight_stops_without_a_word(
    stack: MemoryStack, sending: str, capsys: pytest.CaptureFixture[str]
) -> None:
    serve.wind_down(Runtime(stack.app, Functions(0)), bound_s=5)  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""


def test_the_wait_is_bounded(
    stack: MemoryStack, sending: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Quit):
        serve.wind_down(Runtime(stack.app, Functions(10_000)), bound_s=0)  # type: ignore[arg-type]
    assert "still running after 0 s: quitting now" in capsys.readouterr().err


def test_a_second_ctrl_c_quits_now(
    stack: MemoryStack, sending: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Quit):
        serve.wind_down(Runtime(stack.app, Functions(3, interrupt=True)))  # type: ignore[arg-type]
    assert capsys.readouterr().err.endswith("quitting now\n")
