"""template.yaml: valid after the SAM transform, least privilege, and in step with the code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.decode import decode_str

from fanmail.adapters.aws.dynamodb import TABLE_KEYS, TABLE_TTL
from fanmail.domain.event_objects import BULK_EVENT_TYPES, EVENTS_PREFIX
from fanmail.settings import Settings
from fanmail_local.simulation import ARCHITECTURE, LAMBDA_GB_S, PRICES

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = ROOT / "scripts" / "validate_template.py"


def template() -> dict[str, Any]:
    decoded, errors = decode_str((ROOT / "template.yaml").read_text())
    assert not errors
    plain: dict[str, Any] = json.loads(json.dumps(decoded))
    return plain


def run_validator(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [sys.executable, str(VALIDATE), str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_shipped_template_validates() -> None:
    result = run_validator(ROOT / "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        ("      MemorySize: 1769\n", "      MemorySize: 99999\n", "E3034"),
        (
            "      Timeout: 300\n",
            "      Timeout: 300\n      Bogus: 1\n",
            "property Bogus not defined",
        ),
    ],
)
def test_validator_catches_errors_inside_serverless_functions(
    tmp_path: Path, old: str, new: str, finding: str
) -> None:
    for folder in ("src", "templates"):
        shutil.copytree(
            ROOT / folder,
            tmp_path / folder,
            ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"),
        )
    source = (ROOT / "template.yaml").read_text()
    assert old in source
    (tmp_path / "template.yaml").write_text(source.replace(old, new))
    result = run_validator(tmp_path / "template.yaml")
    assert result.returncode == 1
    assert finding in result.stdout


def test_table_keys_match_the_code() -> None:
    resources = template()["Resources"]
    for kind in TABLE_KEYS:
        logical = f"{kind.capitalize()}Table"
        schema = resources[logical]["Properties"]["KeySchema"]
        assert [(k["AttributeName"], k["KeyType"]) for k in schema] == TABLE_KEYS[kind]
        assert resources[logical]["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        ttl = resources[logical]["Properties"].get("TimeToLiveSpecification")
        assert (ttl["AttributeName"] if ttl else None) == TABLE_TTL.get(kind)


def test_list_files_pass_through_as_binary_and_stay_private() -> None:
    from fanmail.handlers.api.imports import BINARY_MEDIA_TYPES

    resources = template()["Resources"]
    declared = resources["Api"]["Properties"]["BinaryMediaTypes"]
    assert sorted(t.replace("~1", "/") for t in declared) == sorted(BINARY_MEDIA_TYPES)
    bucket = resources["ImportsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == "imports/" and rule["ExpirationInDays"] <= 7
    [deny] = resources["ImportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"]["Bool"]["aws:SecureTransport"] == "false"


def test_the_importer_touches_only_lists_imports_its_files_and_the_erasure_list() -> None:
    resources = template()["Resources"]
    importer = resources["ImporterFunction"]["Properties"]
    assert importer["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-importer"}
    allowed = actions_of(resources["ImporterFunction"])
    files = json.dumps({"Fn::Sub": "${ImportsBucket.Arn}/imports/*"}, sort_keys=True)
    arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    its_alias = json.dumps({"Fn::Sub": arn + "${AWS::StackName}-importer:live"}, sort_keys=True)
    assert allowed == {
        table("SubscribersTable"): {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},
        table("ListsTable"): {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        table("ImportsTable"): {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
        },
        files: {"s3:GetObject", "s3:DeleteObject"},
        table("ImportsBucket"): {"s3:ListBucket"},
        its_alias: {"lambda:InvokeFunction"},
        table("ErasuresTable"): {"dynamodb:BatchGetItem"},
        json.dumps(
            {"Fn::If": ["CreateErasureKey", {"Ref": "ErasureKey"}, {"Ref": "ErasureKeySecret"}]},
            sort_keys=True,
        ): {"secretsmanager:GetSecretValue"},
    }


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of a function's inline policies (not the managed ones it names)."""
    policies = resource["Properties"]["Policies"]
    return [s for policy in policies if "Statement" in policy for s in policy["Statement"]]


def test_policies_are_least_privilege() -> None:
    resources = template()["Resources"]
    functions = ("TriggerFunction", "SenderFunction", "HeartbeatFunction")
    for name in (
        *functions,
        "ApiFunction",
        "PublicFunction",
        "InboundFunction",
        "ImporterFunction",
    ):
        for statement in statements(resources[name]):
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert not any(a.endswith("*") for a in actions), (name, actions)
            if statement["Resource"] == "*":  # only account-level reads
                allowed = {
                    "ses:GetAccount",
                    "ses:ListEmailIdentities",
                    "lambda:GetAccountSettings",
                }
                assert set(actions) <= allowed, (name, actions)
            if "iam:PassRole" in actions:  # only the scheduler's own role
                assert statement["Resource"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    sender_actions = {
        a
        for s in statements(resources["SenderFunction"])
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert sender_actions == {
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",  # only its own claims of addresses erased mid-send (the ledger)
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "lambda:InvokeFunction",
        "secretsmanager:GetSecretValue",
    }
    assert {"Ref": "SendAsSenderIdentity"} in resources["SenderFunction"]["Properties"]["Policies"]
    public = resources["PublicFunction"]["Properties"]["Events"]
    assert {e["Properties"]["RestApiId"]["Ref"] for e in public.values()} == {"PublicApi"}
    assert "Auth" not in resources["PublicApi"]["Properties"]  # public by design
    assert resources["Api"]["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    admin = resources["ApiFunction"]["Properties"]["Events"]
    assert {e["Properties"]["RestApiId"]["Ref"] for e in admin.values()} == {"Api"}


def test_recursion_allowed_only_where_intended() -> None:
    resources = template()["Resources"]
    assert resources["TriggerFunction"]["Properties"]["RecursiveLoop"] == "Allow"
    assert resources["SenderFunction"]["Properties"]["RecursiveLoop"] == "Allow"
    assert "RecursiveLoop" not in resources["HeartbeatFunction"]["Properties"]


def test_handlers_named_in_the_template_exist() -> None:
    import importlib

    for resource in template()["Resources"].values():
        handler = resource.get("Properties", {}).get("Handler")
        if handler:
            module, _, function = handler.rpartition(".")
            assert callable(getattr(importlib.import_module(module), function))


def test_timeouts_the_code_plans_with_match_the_functions() -> None:
    doc = template()
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    resources = doc["Resources"]
    assert (
        float(env["FANMAIL_SENDER_TIMEOUT_S"])
        == resources["SenderFunction"]["Properties"]["Timeout"]
    )
    assert (
        float(env["FANMAIL_TRIGGER_TIMEOUT_S"])
        == resources["TriggerFunction"]["Properties"]["Timeout"]
    )
    # API Gateway answers 504 at 29 s while the function runs on: the function stops first,
    # with room for a cold start's init (not counted in its timeout) and the hop
    assert resources["ApiFunction"]["Properties"]["Timeout"] <= 29 - 4


def actions_of(resource: dict[str, Any]) -> dict[str, set[str]]:
    """Each resource a function's policies name, with the actions allowed on it."""
    found: dict[str, set[str]] = {}
    for statement in statements(resource):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        targets = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        for target in targets:
            found.setdefault(json.dumps(target, sort_keys=True), set()).update(actions)
    return found


URGENT = ["BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY", "RENDERING_FAILURE"]
THE_SET = {
    "Fn::If": [
        "CreateConfigurationSet",
        {"Ref": "SesConfigurationSet"},
        {"Ref": "ConfigurationSet"},
    ]
}


def test_ses_events_reach_the_feedback_function_of_this_configuration_set_only() -> None:
    """The urgent events, one message each: SES -> EventBridge -> the rule -> FeedbackQueue."""
    doc = template()
    resources = doc["Resources"]
    destination = resources["SesEventDestination"]["Properties"]["EventDestination"]
    assert destination["Enabled"] is True
    assert destination["MatchingEventTypes"] == URGENT
    assert doc["Parameters"]["TrackOpensAndClicks"]["Default"] == "false"
    assert "event-bus/default" in destination["EventBridgeDestination"]["EventBusArn"]["Fn::Sub"]
    assert resources["SesEventDestination"]["Properties"]["ConfigurationSetName"] == THE_SET
    rule = resources["SesEventsRule"]["Properties"]
    untracked = {
        "Fn::If": ["TrackEngagement", {"Ref": "UntrackedConfigurationSet"}, {"Ref": "AWS::NoValue"}]
    }
    assert rule["EventPattern"] == {
        "source": ["aws.ses"],
        "detail": {"mail": {"tags": {"ses:configuration-set": [THE_SET, untracked]}}},
    }
    # those who decline tracking: a set of this stack's own, every event but opens and clicks
    untracked_destination = resources["UntrackedEventDestination"]["Properties"]
    assert untracked_destination["EventDestination"]["MatchingEventTypes"] == URGENT
    assert untracked_destination["ConfigurationSetName"] == {"Ref": "UntrackedConfigurationSet"}
    assert resources["UntrackedConfigurationSet"]["Condition"] == "TrackEngagement"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["FeedbackQueue", "Arn"]}
    queue = resources["FeedbackQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["FeedbackDeadLetterQueue", "Arn"]
    }
    statement = resources["FeedbackQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["SesEventsRule", "Arn"]
    }
    poller = resources["FeedbackQueuePoller"]["Properties"]
    assert poller["EventSourceArn"] == {"Fn::GetAtt": ["FeedbackQueue", "Arn"]}
    assert poller["FunctionName"] == {"Ref": "FeedbackFunction.Alias"}
    assert poller["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["FANMAIL_CONFIGURATION_SET"] == THE_SET  # every send names the set


def test_the_high_volume_events_reach_the_feedback_function_in_bulk() -> None:
    """Send, Delivery (Open, Click when tracked) of both sets: SES -> Firehose -> S3 objects ->
    one S3 notification per object on FeedbackObjectsQueue -> the feedback function; the
    destinations of a set split SES's event types between them, none left out or doubled."""
    resources = template()["Resources"]
    stream = {"Fn::GetAtt": ["SesEventsStream", "Arn"]}
    role = {"Fn::GetAtt": ["SesEventsPublishingRole", "Arn"]}
    bulk = resources["SesBulkEventDestination"]["Properties"]
    assert bulk["ConfigurationSetName"] == THE_SET
    types = bulk["EventDestination"]["MatchingEventTypes"]["Fn::If"]
    assert types == ["TrackEngagement", ["SEND", "DELIVERY", "OPEN", "CLICK"], ["SEND", "DELIVERY"]]
    assert set(types[1]) == {t.upper() for t in BULK_EVENT_TYPES}  # as the stand-in splits them
    untracked = resources["UntrackedBulkEventDestination"]
    assert untracked["Condition"] == "TrackEngagement"
    assert untracked["Properties"]["EventDestination"]["MatchingEventTypes"] == ["SEND", "DELIVERY"]
    for destination in (bulk, untracked["Properties"]):
        firehose = destination["EventDestination"]["KinesisFirehoseDestination"]
        assert firehose == {"DeliveryStreamARN": stream, "IAMRoleARN": role}
    publishing = resources["SesEventsPublishingRole"]["Properties"]
    [trust] = publishing["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ses.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnEquals"}  # this account's sets only
    [put] = publishing["Policies"][0]["PolicyDocument"]["Statement"]
    assert put["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert put["Resource"] == stream
    s3 = resources["SesEventsStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert s3["Prefix"] == EVENTS_PREFIX and s3["BufferingHints"]["SizeInMBs"] == 1
    processing = s3["ProcessingConfiguration"]  # a newline after each record, as stood in
    assert processing == {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}
    bucket = resources["SesEventsBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [expiry] = bucket["LifecycleConfiguration"]["Rules"]
    retention_days = resources["FeedbackDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
    assert expiry["ExpirationInDays"] > retention_days / 86400  # outlives its dead letters
    [notification] = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": ["FeedbackObjectsQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": EVENTS_PREFIX}]
    queue = resources["FeedbackObjectsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["FeedbackDeadLetterQueue", "Arn"]
    }
    [send] = resources["FeedbackObjectsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert send["Principal"] == {"Service": "s3.amazonaws.com"}
    assert (
        send["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"][1]
        == (
            bucket["BucketName"]["Fn::Sub"][1]  # the bucket's own name, and no other
        )
    )
    poller = resources["FeedbackObjectsPoller"]["Properties"]
    assert poller["EventSourceArn"] == {"Fn::GetAtt": ["FeedbackObjectsQueue", "Arn"]}
    assert poller["FunctionName"] == {"Ref": "FeedbackFunction.Alias"}
    assert poller["BatchSize"] == 1
    environment = resources["FeedbackFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["FANMAIL_SES_EVENTS_BUCKET"] == {"Ref": "SesEventsBucket"}


def test_a_send_event_in_bulk_reaches_the_ledger_within_a_claims_lease_grace() -> None:
    """A sender that died between SES's answer and its completion write leaves its recipient
    claimed until its deadline plus the lease grace; the Send event must confirm the record
    before a later sender may claim it again: the stream's buffering, S3's notification and
    one object's processing (the feedback function's timeout) fit in the grace."""
    resources = template()["Resources"]
    s3 = resources["SesEventsStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    buffering_s = s3["BufferingHints"]["IntervalInSeconds"]
    processing_s = resources["FeedbackFunction"]["Properties"]["Timeout"]
    notification_and_poll_s = 30  # S3 notifies in seconds; the poller takes an object at once
    assert "MaximumBatchingWindowInSeconds" not in resources["FeedbackObjectsPoller"]["Properties"]
    assert buffering_s + notification_and_poll_s + processing_s <= Settings().lease_grace_s


def late_alarm(name: str, queue: str) -> dict[str, Any]:
    alarm: dict[str, Any] = template()["Resources"][name]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
    ]
    assert alarm["Statistic"] == "Maximum" and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    return alarm


def test_an_alarm_fires_before_the_bulk_path_eats_the_lease_grace() -> None:
    """SQS's age of the oldest message counts its wait and its processing (a message in flight
    is not deleted yet). The bulk queue's alarm fires past the wait and processing the grace
    was sized with, not on a healthy object (one within the function's timeout), and while a
    Send event that waited that long still reaches the ledger within the grace."""
    resources = template()["Resources"]
    s3 = resources["SesEventsStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    buffering_s = s3["BufferingHints"]["IntervalInSeconds"]
    processing_s = resources["FeedbackFunction"]["Properties"]["Timeout"]
    objects = late_alarm("FeedbackObjectsLateAlarm", "FeedbackObjectsQueue")
    assert processing_s < objects["Threshold"]
    assert buffering_s + objects["Threshold"] < Settings().lease_grace_s
    # urgent events: the poller's batching window and a batch's counting, then the breakers
    urgent = late_alarm("FeedbackQueueLateAlarm", "FeedbackQueue")
    window_s = resources["FeedbackQueuePoller"]["Properties"]["MaximumBatchingWindowInSeconds"]
    assert window_s < urgent["Threshold"] <= 60


def table(name: str) -> str:
    """A table's ARN as the policies name it (the key `actions_of` groups actions by)."""
    return json.dumps({"Fn::GetAtt": [name, "Arn"]}, sort_keys=True)


def test_the_feedback_function_updates_subscribers_campaigns_the_ledger_and_breakers_only() -> None:
    resources = template()["Resources"]
    allowed = actions_of(resources["FeedbackFunction"])
    index = json.dumps({"Fn::Sub": "${SubscribersTable.Arn}/index/by_email"}, sort_keys=True)
    assert allowed == {
        table("LedgerTable"): {"dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"},
        # GetItem: a campaign's ledger shard count, read once per container and campaign
        table("CampaignsTable"): {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        table("SubscribersTable"): {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},
        index: {"dynamodb:Query"},
        # a list's counts move with its subscribers; GetItem: its shard count
        table("ListsTable"): {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        # a sign-up mail's bounce or complaint: its list's breaker counts it (UpdateItem) once
        # (a hold: PutItem), reads its rates and its closure (GetItem), closes (PutItem)
        table("SignupsTable"): {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        table("FeedbackQueue"): {  # its queues' pollers run with its role
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        },
        table("FeedbackObjectsQueue"): {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        },
        json.dumps({"Fn::Sub": "${SesEventsBucket.Arn}/ses-events/*"}): {"s3:GetObject"},
    }


def test_the_address_index_matches_the_code() -> None:
    from fanmail.adapters.aws.dynamodb import TABLE_INDEXES

    table = template()["Resources"]["SubscribersTable"]["Properties"]
    indexes = {
        i["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]]
        for i in table["GlobalSecondaryIndexes"]
    }
    assert indexes == TABLE_INDEXES["subscribers"]


def test_the_simulated_bill_prices_lambda_on_the_architecture_the_template_deploys() -> None:
    """bench/scale.py's `$ per million` bills GB-seconds at one architecture's price (arm64's
    is a fifth lower than x86's): every function must run on it."""
    resources = template()["Resources"]
    default = template()["Globals"]["Function"]["Architectures"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(
        r["Properties"].get("Architectures", default) == [ARCHITECTURE] for r in functions
    )
    assert PRICES["lambda_gb_s"] == LAMBDA_GB_S[ARCHITECTURE]


def test_each_functions_timeout_and_memory_are_the_templates() -> None:
    """fanmail.functions declares them once for local mode and the planner's budgets; the
    template deploys them: the two must agree (the API's was 29 s in one, 25 in the other)."""
    from fanmail.functions import FUNCTIONS

    deployed = template()
    resources = deployed["Resources"]
    globals_ = deployed.get("Globals", {}).get("Function", {})
    for function in FUNCTIONS:
        properties = resources[function.resource]["Properties"]
        timeout = properties.get("Timeout", globals_.get("Timeout"))
        memory = properties.get("MemorySize", globals_.get("MemorySize"))
        assert (timeout, memory) == (function.timeout_s, function.memory_mb), function
