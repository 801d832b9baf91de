"""Pause, resume, cancel, status and failures through the `fanmail campaign` command, against a
local stand-in (moto server) that another runtime is sending from."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.errors import SendError, SendErrorKind
from fanmail.domain.model import OutgoingEmail
from fanmail.ports import Mailer
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.apigateway import api_event
from fanmail_local.cli import main
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["campaign", *args, "--json"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


def test_pause_resume_cancel_through_the_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=10,
        max_sender_rate=20.0,
        inline_threshold=0,
        progress_interval_s=0.2,
        ses_retry_budget_s=2.0,  # the address SES fails below is given up on in seconds
    )
    monkeypatch.setenv("FANMAIL_MAX_SEND_RATE", "40")
    monkeypatch.setenv("FANMAIL_SES_RETRY_BUDGET_S", "2")
    monkeypatch.setenv("FANMAIL_MAX_SENDER_RATE", "20")
    monkeypatch.setenv("FANMAIL_INLINE_THRESHOLD", "0")
    with LocalRuntime(
        settings, sender_identity="news@fanmail.example", max_send_rate=40.0
    ) as runtime:
        app = runtime.app
        subscribers = generate_subscribers("cli-list", 200, seed=3)
        app.lists.create(CreateList("cli-list"))
        app.imports.load(subscribers)

        def campaign(campaign_id: str) -> str:
            app.campaigns.create(
                CreateCampaign(
                    "cli-list", "newsletter", "news@fanmail.example", campaign_id=campaign_id
                )
            )
            return campaign_id

        first = campaign("cli-1")
        path = f"/campaigns/{first}/send"
        answer = runtime.invoker.invoke("api", api_event("POST", path, {"campaign_id": first}))
        assert answer["statusCode"] == 202
        deadline = time.monotonic() + 60  # some sent, however loaded the machine
        while not (app.campaigns.get(first).live or {}).get("sent"):
            assert time.monotonic() < deadline, "nothing was sent within a minute"
            time.sleep(0.1)
        code, view = cli(capsys, "pause", first)
        assert code == 0 and view["status"] == "paused"
        runtime.invoker.drain()  # the running root notices, drains and checkpoints
        code, view = cli(capsys, "status", first)
        summary = view["summary"]
        assert isinstance(summary, dict)
        assert view["status"] == "paused" and 0 < summary["sent"] < summary["recipients"]
        assert main(["campaign", "pause", first]) == 2  # not sending any more
        assert "is paused" in capsys.readouterr().err

        code, view = cli(capsys, "resume", first)  # runs the rest in this process, then prints
        assert code == 0 and view["status"] == "sent"
        summary = view["summary"]
        assert isinstance(summary, dict)
        outcomes = ("sent", "failed", "suppressed", "invalid", "already_sent", "pending")
        assert summary["recipients"] == 200 == sum(summary[k] for k in outcomes)
        assert summary["pending"] == 0

        code, page = cli(capsys, "failures", first)
        assert code == 0 and page == {"failures": [], "next_cursor": None}
        assert main(["campaign", "resend-failed", first]) == 2
        assert "no retryable failures" in capsys.readouterr().err

        # One address fails with SES 5xx in this runtime; the CLI's own runtime resends it.
        flaky = next(s.email for s in subscribers if s.status.receives_mail and "@" in s.email)
        limits = runtime.limits
        assert limits is not None
        limits.mailer = FailingFor(limits.mailer, flaky)
        third = campaign("cli-3")
        runtime.invoker.invoke("trigger", {"campaign_id": third})
        code, page = cli(capsys, "failures", third)
        failures = page["failures"]
        assert isinstance(failures, list)
        assert [(f["email"], f["retryable"]) for f in failures] == [(flaky, True)]
        code, view = cli(capsys, "resend-failed", third)
        summary = view["summary"]
        assert isinstance(summary, dict)
        assert code == 0 and view["status"] == "sent" and summary["failed"] == 0
        assert (
            summary["sent"] + summary["already_sent"]
            == summary["recipients"] - summary["suppressed"] - summary["invalid"]
        )

        second = campaign("cli-2")
        code, view = cli(capsys, "cancel", second)
        assert code == 0 and view["status"] == CampaignStatus.CANCELLED.value
        assert main(["campaign", "resume", second]) == 2
        assert main(["campaign", "status", "no-such-campaign"]) == 2
        assert "not found" in capsys.readouterr().err


class FailingFor:
    """A Mailer that answers SES 503 for one address."""

    def __init__(self, inner: Mailer, address: str) -> None:
        self.inner = inner
        self.address = address

    def send(self, email: OutgoingEmail) -> str:
        if email.to == self.address:
            raise SendError(SendErrorKind.TRANSIENT, "ServiceUnavailable", "try again later")
        return self.inner.send(email)
