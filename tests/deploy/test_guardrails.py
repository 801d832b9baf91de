"""#11: the stack as CloudFormation will deploy it (the SAM transform's output): a second stack
in the account, the sender identity, dead letters, guardrails, alarms and the dashboard, and
bytecode in the artifact. One test (or more) per numbered item of the issue."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from fanmail.domain.ses_events import COUNTERS
from tests import scripts

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = (
    "Trigger",
    "Pacer",
    "Sender",
    "Api",
    "Importer",
    "Feedback",
    "Public",
    "Inbound",
    "Heartbeat",
    "Retention",
    "Eraser",
    "Notify",
    "Counter",
)


@functools.cache
def stack() -> dict[str, Any]:
    document: dict[str, Any] = scripts.load("scripts/validate_template.py").transformed(
        ROOT / "template.yaml"
    )
    return document


def resources() -> dict[str, Any]:
    found: dict[str, Any] = stack()["Resources"]
    return found


def props(name: str) -> dict[str, Any]:
    found: dict[str, Any] = resources()[name]["Properties"]
    return found


def of_type(kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources().items() if v["Type"] == kind}


def env(function: str) -> dict[str, Any]:
    variables: dict[str, Any] = props(f"{function}Function")["Environment"]["Variables"]
    return variables


def statements(function: str) -> list[dict[str, Any]]:
    """The statements of a function's role: its inline policies and this stack's managed ones."""
    role = resources()[f"{function}FunctionRole"]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    documents += [
        props(arn["Ref"])["PolicyDocument"]
        for arn in role.get("ManagedPolicyArns", [])
        if isinstance(arn, dict) and "Ref" in arn
    ]
    return [s for document in documents for s in document["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- 1. a second stack in the same account and region deploys --------------------------------
def test_no_resource_has_a_fixed_name_a_second_stack_would_collide_with() -> None:
    """The heartbeat's schedule has no name (SAM issue 3109); every other name carries the
    stack's name, or its id (the SES events bucket: a queue's policy names it before it
    exists, and a bucket's name cannot hold the capitals a stack's name may have)."""
    for name, resource in of_type("AWS::Scheduler::Schedule").items():
        assert "Name" not in resource["Properties"], name
    fixed = {
        f"{name}.{key}": value
        for name, resource in resources().items()
        if resource["Type"] != "AWS::Lambda::Alias"  # an alias's name is its function's own
        for key in ("FunctionName", "Name", "DashboardName", "TableName", "BucketName")
        if isinstance(value := resource.get("Properties", {}).get(key), str)
        or (isinstance(value, dict) and "Fn::Sub" in value)
    }
    assert fixed, "names were found"
    for where, value in fixed.items():
        text = json.dumps(value)
        assert "AWS::StackName" in text or "AWS::StackId" in text, f"{where}: {value}"


# -- 2. the stack sends only as its SenderIdentity --------------------------------------------
def test_every_function_knows_the_sender_identity_and_may_send_only_as_it() -> None:
    """#19 item 8: SES authorises a send on the identity it verified, the address or only its
    domain; IAM allows either, and the From address only as SenderIdentity (one address, or
    any address at the domain)."""
    for function in FUNCTIONS:
        assert env(function)["FANMAIL_SENDER_IDENTITY"] == {"Ref": "SenderIdentity"}
    mailers = {
        function
        for function in FUNCTIONS
        if any("ses:SendEmail" in as_list(s["Action"]) for s in statements(function))
    }
    assert mailers == {"Trigger", "Pacer", "Sender", "Api", "Public"}
    for function in mailers:
        [send] = [s for s in statements(function) if "ses:SendEmail" in as_list(s["Action"])]
        assert send["Sid"] == "SendAsSenderIdentity"  # the one shared statement
    [send] = props("SendAsSenderIdentity")["PolicyDocument"]["Statement"]
    both = {"Fn::Sub": "${SenderIdentity}@${SenderIdentity}"}  # "a@d@a@d" or "d@d": [1] is d
    domain = {"Fn::Select": [1, {"Fn::Split": ["@", both]}]}
    identities = [r["Fn::Sub"] for r in send["Resource"][:2]]
    tails = [arn.rsplit(":", 1)[1] for arn, _ in identities]
    assert tails == ["identity/${Domain}", "identity/*@${Domain}"]
    assert all(names == {"Domain": domain} for _, names in identities)
    from_address = [{"Ref": "SenderIdentity"}, {"Fn::Sub": "*@${SenderIdentity}"}]
    assert send["Condition"] == {"StringLike": {"ses:FromAddress": from_address}}


# -- 3. dead letters and retries ----------------------------------------------------------------
def test_async_invocations_retry_twice_then_go_to_the_dead_letter_queue() -> None:
    configs = {
        props(name)["FunctionName"]["Ref"]: props(name)
        for name in of_type("AWS::Lambda::EventInvokeConfig")
    }
    assert set(configs) == {
        "TriggerFunction",
        "PacerFunction",
        "ImporterFunction",
        "InboundFunction",
        "RetentionFunction",
        "EraserFunction",
        "NotifyFunction",
        "CounterFunction",
    }
    for function, config in configs.items():
        assert config["MaximumRetryAttempts"] <= 2 and config["Qualifier"] == "live"
        destination = config["DestinationConfig"]["OnFailure"]["Destination"]
        queue = "EraserDeadLetterQueue" if function == "EraserFunction" else "DeadLetterQueue"
        assert destination == {"Fn::GetAtt": [queue, "Arn"]}, function


def test_a_failed_erasure_does_not_keep_its_address_for_two_weeks() -> None:
    """The eraser's payload names the address it erases, and Lambda's failure record carries
    the payload: its own queue keeps it days (an alarm says so), not the 14 of the others."""
    days = 86400
    erasures = props("EraserDeadLetterQueue")
    assert erasures["MessageRetentionPeriod"] <= 4 * days
    assert erasures["SqsManagedSseEnabled"] is True
    assert props("DeadLetterQueue")["MessageRetentionPeriod"] == 14 * days
    senders = {
        name
        for name in of_type("AWS::Lambda::EventInvokeConfig")
        if "EraserDeadLetterQueue" in json.dumps(props(name)["DestinationConfig"])
    }
    assert senders == {"EraserFunctionEventInvokeConfig"}


def test_rules_and_schedules_have_retries_and_a_dead_letter_queue() -> None:
    rules = of_type("AWS::Events::Rule")
    for name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1, name
            assert "DeadLetterConfig" in target, name
    for rule in ("TriggerFunctionSendCampaignEvent", "NotifyFunctionNotifyEvent"):
        target = rules[rule]["Properties"]["Targets"][0]
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    # the schedules fanmail creates name the queue (adapters/aws/scheduler.py), and may use it
    assert env("Api")["FANMAIL_SCHEDULE_DEAD_LETTER_ARN"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    scheduler = props("SchedulerRole")["Policies"][0]["PolicyDocument"]["Statement"]
    assert any(
        s["Action"] == "sqs:SendMessage"
        and s["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
        for s in scheduler
    )
    # the stack's recurring schedules (heartbeat, retention) retry, then dead-letter with the
    # role that fires them, which trusts this account's schedules only
    schedules = of_type("AWS::Scheduler::Schedule")
    assert set(schedules) == {"HeartbeatFunctionEvery5Minutes", "RetentionFunctionDaily"}
    for name, schedule in schedules.items():
        target = schedule["Properties"]["Target"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1, name
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
        assert target["RoleArn"] == {"Fn::GetAtt": ["RecurringSchedulesRole", "Arn"]}, name
    beat = schedules["HeartbeatFunctionEvery5Minutes"]["Properties"]
    assert beat["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] < 300  # the next beat
    role = props("RecurringSchedulesRole")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    fire, undelivered = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert fire["Resource"] == [
        {"Ref": "HeartbeatFunctionAliaslive"},
        {"Ref": "RetentionFunctionAliaslive"},
    ]
    assert undelivered["Action"] == "sqs:SendMessage"
    assert undelivered["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    policy = props("DeadLetterQueuePolicy")["PolicyDocument"]["Statement"][0]
    assert policy["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["TriggerFunctionSendCampaignEvent", "Arn"]},
        {"Fn::GetAtt": ["NotifyFunctionNotifyEvent", "Arn"]},
    ]


def test_an_alarm_fires_when_a_dead_letter_queue_is_not_empty() -> None:
    for queue, alarm in (
        ("DeadLetterQueue", "DeadLetterAlarm"),
        ("FeedbackDeadLetterQueue", "FeedbackDeadLetterAlarm"),
        ("EraserDeadLetterQueue", "EraserDeadLetterAlarm"),
    ):
        watch = props(alarm)
        assert watch["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert watch["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        ]
        assert watch["Threshold"] == 1
        assert watch["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


# -- 4. guardrails -----------------------------------------------------------------------------
def test_the_sender_reserves_concurrency_on_request_and_the_planner_reads_what_it_has() -> None:
    """#19 item 3: no reservation by default (a new account's quota is often 10, and Lambda
    keeps 100 unreserved); the trigger reads the reservation and the account's unreserved
    concurrency when it plans, instead of assuming 200 senders."""
    assert stack()["Parameters"]["SenderConcurrency"]["Default"] == 0
    reserved = props("SenderFunction")["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["ReserveSenders", {"Ref": "SenderConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert "FANMAIL_MAX_SENDERS" not in env("Trigger")
    reads = {
        action: s["Resource"]
        for s in statements("Trigger")
        for action in as_list(s["Action"])
        if action.startswith("lambda:Get")
    }
    sender = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    assert reads == {
        "lambda:GetFunctionConcurrency": {"Fn::Sub": sender + "${AWS::StackName}-sender"},
        "lambda:GetAccountSettings": "*",  # no resource-level permission exists for it
    }


def test_the_public_api_is_throttled_and_logs_access_without_the_token() -> None:
    stage = props("PublicApiv1Stage")
    setting, signups = stage["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "PublicApiRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "PublicApiBurstLimit"}
    # sign-ups have a bucket of their own: a flood of them leaves the unsubscribes theirs
    assert (signups["ResourcePath"], signups["HttpMethod"]) == ("/~1subscribe", "POST")
    assert 0 < signups["ThrottlingRateLimit"] < 50
    logs = stage["AccessLogSetting"]["Fn::If"]
    assert logs[0] == "AccessLogs"
    assert "$context.resourcePath" in logs[1]["Format"]  # /u/{token}, not the token
    assert "$context.path" not in logs[1]["Format"]
    assert props("Apiv1Stage")["MethodSettings"][0]["ThrottlingRateLimit"] > 0


def test_every_function_logs_to_a_group_with_the_retention_parameter() -> None:
    for function in FUNCTIONS:
        group = props(f"{function}Function")["LoggingConfig"]["LogGroup"]
        assert group == {"Ref": f"{function}LogGroup"}
        assert props(f"{function}LogGroup")["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_unused_permissions_are_gone_and_pass_role_names_its_service() -> None:
    trigger = {
        (json.dumps(s["Resource"]), action)
        for s in statements("Trigger")
        for action in as_list(s["Action"])
    }
    ledger = json.dumps({"Fn::GetAtt": ["LedgerTable", "Arn"]})
    subscribers = json.dumps({"Fn::GetAtt": ["SubscribersTable", "Arn"]})
    assert (ledger, "dynamodb:Query") not in trigger
    assert (subscribers, "dynamodb:GetItem") not in trigger
    for function in ("Trigger", "Api"):
        [pass_role] = [s for s in statements(function) if s["Action"] == "iam:PassRole"]
        assert pass_role["Condition"] == {
            "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
        }


def test_send_campaign_events_come_only_on_the_stacks_own_bus() -> None:
    rule = props("TriggerFunctionSendCampaignEvent")
    assert rule["EventBusName"] == {"Ref": "CampaignBus"}
    policy = props("CampaignBusPolicy")
    assert policy["Statement"]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    assert policy["Statement"]["Action"] == "events:PutEvents"


# -- 5. alarms and a dashboard -------------------------------------------------------------------
def test_alarms_cover_errors_throttles_reputation_and_failed_campaigns() -> None:
    alarms = {name: p["Properties"] for name, p in of_type("AWS::CloudWatch::Alarm").items()}
    for function in FUNCTIONS:
        assert alarms[f"{function}ErrorsAlarm"]["MetricName"] == "Errors"
    for function in ("Trigger", "Pacer", "Api", "Public"):
        assert alarms[f"{function}ThrottlesAlarm"]["MetricName"] == "Throttles"
    # the sender's: its Throttles less the heartbeat's own refused pings, which it emits
    throttles, pings, campaign = alarms["SenderThrottlesAlarm"]["Metrics"]
    assert throttles["MetricStat"]["Metric"]["MetricName"] == "Throttles"
    assert campaign["Expression"] == "FILL(throttles, 0) - FILL(pings, 0)"
    heartbeat_source = (ROOT / "src/fanmail/handlers/heartbeat.py").read_text()
    assert f'"{pings["MetricStat"]["Metric"]["MetricName"]}"' in heartbeat_source
    assert alarms["SesBounceRateAlarm"]["Threshold"] == {"Ref": "BreakerBounceRate"}
    assert alarms["SesComplaintRateAlarm"]["Threshold"] == {"Ref": "BreakerComplaintRate"}
    failed = alarms["CampaignsFailedAlarm"]
    trigger_source = (ROOT / "src/fanmail/handlers/trigger.py").read_text()
    assert failed["Namespace"] == "fanmail" and f'"{failed["MetricName"]}"' in trigger_source
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == {
            "Fn::If": ["NotifyByEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]
        }
    assert resources()["AlarmTopic"]["Condition"] == "NotifyByEmail"
    [subscription] = props("AlarmTopic")["Subscription"]
    assert subscription == {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}


def dashboard(values: dict[str, str]) -> dict[str, Any]:
    body, variables = props("Dashboard")["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"RateAnnotation", "ReservationAnnotation"}
    text = re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), "x"), body)
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.mark.parametrize("rate_annotation", ["", '{"label":"MaxSendRate","value":14}'])
def test_the_dashboard_shows_sends_against_the_rate_senders_in_flight_and_feedback(
    rate_annotation: str,
) -> None:
    board = dashboard(
        {
            "RateAnnotation": rate_annotation,
            "ReservationAnnotation": "",
            "BreakerBounceRate": "0.04",
            "BreakerComplaintRate": "0.0008",
        }
    )
    text = json.dumps(board)
    for metric in ("EmailsSent", "SesThrottled", "ConcurrentExecutions", "Reputation.BounceRate"):
        assert metric in text
    for kind in ("delivered", "bounced", "complained", "opened", "clicked"):
        assert f"Feedback_{kind}" in text and kind in {k.value for k in COUNTERS}
    [rate] = [w for w in board["widgets"] if w["properties"]["title"].startswith("Sends")]
    expected = [json.loads(rate_annotation)] if rate_annotation else []
    assert rate["properties"]["annotations"]["horizontal"] == expected


# -- 6. bytecode in the artifact, SnapStart on request --------------------------------------------
def test_every_function_builds_with_bytecode() -> None:
    from cfnlint.decode.decode import decode_str

    source, _ = decode_str((ROOT / "template.yaml").read_text())
    recipe = (ROOT / "src" / "Makefile").read_text()
    targets = set(
        re.findall(r"\b(\w+Function)\b", recipe.split("FUNCTIONS :=", 1)[1].split("\n\n")[0])
    )
    compile_line = recipe.split("COMPILE = ", 1)[1].split("\n", 1)[0]
    assert "--invalidation-mode unchecked-hash" in compile_line and " -f " in compile_line
    assert "--no-compile" in recipe  # pip's timestamp-based .pyc would go stale in the zip
    for function in FUNCTIONS:
        assert source["Resources"][f"{function}Function"]["Metadata"]["BuildMethod"] == "makefile"
        assert f"{function}Function" in targets
    layer = source["Resources"]["DependenciesLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert "build-DependenciesLayer:" in recipe
    assert source["Globals"]["Function"]["Layers"][0] == {"Ref": "DependenciesLayer"}


def test_snapstart_is_a_parameter_and_functions_are_invoked_through_their_alias() -> None:
    for function in FUNCTIONS:
        assert props(f"{function}Function").get("SnapStart") == {
            "Fn::If": ["UseSnapStart", {"ApplyOn": "PublishedVersions"}, {"Ref": "AWS::NoValue"}]
        }
        assert env(function)["FANMAIL_FUNCTION_QUALIFIER"] == "live"
        assert f"{function}FunctionAliaslive" in resources()
    assert env("Api")["FANMAIL_TRIGGER_FUNCTION_ARN"]["Fn::Sub"].endswith("-trigger:live")
    for function in ("Trigger", "Sender", "Api", "Importer", "Heartbeat"):
        targets = [
            target["Fn::Sub"]
            for s in statements(function)
            if s["Action"] == "lambda:InvokeFunction"
            for target in as_list(s["Resource"])
        ]
        assert targets and all(t.endswith(":live") for t in targets), function  # the alias only
