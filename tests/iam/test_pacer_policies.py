"""A low-rate run on the stand-in: the trigger hands it over, the pacer reads the list, claims
and sends each recipient (boto3 against moto), and the IAM test holds each call to the policies
of the function that made it -- the pacer's own, which a template without the root's policy on
the pacer would deny, naming the pacer. The session's IAM test hears these calls too: they are
the pacer's uses of its grants on the stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.runtime import LocalRuntime
from tests.deploy.test_stack_audit import validate_module
from tests.iam import recorder as calls_of
from tests.iam.check import Judge
from tests.iam.recorder import CallRecorder, merge

pytestmark = pytest.mark.iam

ROOT = Path(__file__).resolve().parents[2]
SENDER = "news@fanmail.example"
PACERS_ROOT_POLICY = """        - !Ref RootFunctionPolicy
        - Version: "2012-10-17"
          Statement:
            # The next epoch: here"""


def test_a_low_rate_run_sends_from_the_pacer_under_its_own_policies() -> None:
    settings = Settings(
        templates_dir=default_templates_dir(), ses_latency_ms=10, progress_interval_s=0.2
    )
    recorder = CallRecorder()  # beside the session's: the whole suite's IAM test sees them too
    calls_of.start(recorder)
    with LocalRuntime(settings, sender_identity=SENDER, max_send_rate=10.0) as runtime:
        app = runtime.app  # the operator's calls: no function's
        app.lists.create(CreateList("slow"))
        app.imports.load(
            [Subscriber("slow", f"s{i}@example.com", SubscriberStatus.SUBSCRIBED) for i in range(4)]
        )
        campaign = app.campaigns.create(CreateCampaign("slow", "newsletter", SENDER))
        handed = runtime.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
        runtime.invoker.drain()
        stored = app.campaigns.get(campaign.campaign_id)
    calls_of.stop(recorder)
    assert handed["status"] == "sending" and handed["plan"]["low_rate"]
    assert stored.status is CampaignStatus.SENT and stored.summary is not None
    assert stored.summary.invocations == {"trigger": 1, "pacer": 1}
    calls, environments = merge([recorder.export()])
    made = {(c.function, c.operation) for c in calls}
    assert {("pacer", "SendEmail"), ("pacer", "Query"), ("trigger", "Invoke")} <= made
    assert ("trigger", "SendEmail") not in made
    shipped = Judge().judge(calls, environments)
    assert shipped.denied == [] and shipped.problems == []
    source = (ROOT / "template.yaml").read_text()
    assert source.count(PACERS_ROOT_POLICY) == 1
    without = source.replace(PACERS_ROOT_POLICY, PACERS_ROOT_POLICY.split("\n", 1)[1])
    weakened = Judge(validate_module().transform_source(without))
    denied = weakened.judge(calls, environments).denied
    assert denied and all(line.startswith("PacerFunction may not") for line in denied), denied
