"""Recorded calls and what IAM evaluates for them: real boto3 calls made inside a handler on the
in-process invoker (recorded by the botocore hook) and the local adapters' stand-in reports,
mapped to actions and ARNs of the deployed stack as AWS authorises them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.settings import Settings
from fanmail_local.adapters.invoker import InProcessInvoker, LocalFunction
from fanmail_local.adapters.scheduler import MemoryScheduler
from tests.iam.calls import Call, Deployment, Untranslatable, requests_for
from tests.iam.check import Judge
from tests.iam.policy import Request
from tests.iam.recorder import CallRecorder, recording

ARN = "arn:aws:{}:us-east-1:123456789012:{}"
TABLE = ARN.format("dynamodb", "table/fanmail-iam-{}Table")


def run_as(function: str, settings: Settings, body: Callable[[], Any]) -> CallRecorder:
    """Run `body` as `function`'s handler on the in-process invoker, recording its calls.

    Only this handler's calls are kept: a poller or ticker another test on this worker left
    running may call AWS, as its own function, at the same time."""
    invoker = InProcessInvoker()
    environment = tuple(sorted(settings.environment().items()))
    invoker.register(LocalFunction(function, lambda _, __: body(), environment=environment))
    with recording() as recorder:
        invoker.invoke(function, {})
    invoker.close()
    ours = recorder.environments.get(environment)
    recorder.calls = {c for c in recorder.calls if (c.function, c.environment) == (function, ours)}
    return recorder


def requests(recorder: CallRecorder, *, function: str = "api") -> list[Request]:
    judge = Judge()
    found: list[Request] = []
    for call in sorted(recorder.calls):
        environment = dict(
            next(e for e, k in recorder.environments.items() if k == call.environment)
        )
        identity = environment.get("FANMAIL_SENDER_IDENTITY", "fanmail.example")
        deployment = Deployment(
            judge.stack(identity), f"{function.capitalize()}Function", environment
        )
        found += requests_for(call, deployment)
    return found


def test_items_of_a_transaction_a_batch_per_table_and_an_index_query(
    session: boto3.Session, table_names: dict[str, str]
) -> None:
    settings = Settings(**{f"{kind}_table": name for kind, name in table_names.items()})  # type: ignore[arg-type]
    client = clients.dynamodb_client(session, 1)
    subscribers, ledger = table_names["subscribers"], table_names["ledger"]
    key = {"list_id": {"S": "l"}, "email": {"S": "a@example.com"}}

    def handler() -> None:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": subscribers, "Item": key}},
                {
                    "Update": {
                        "TableName": ledger,
                        "Key": {"campaign_id": {"S": "c"}, "email": {"S": "a@example.com"}},
                        "UpdateExpression": "SET s = :s",
                        "ExpressionAttributeValues": {":s": {"S": "x"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": subscribers,
                        "Key": {"list_id": {"S": "m"}, "email": {"S": "a@example.com"}},
                        "ConditionExpression": "attribute_not_exists(email)",
                    }
                },
            ]
        )
        client.batch_get_item(
            RequestItems={
                subscribers: {"Keys": [key]},
                table_names["lists"]: {"Keys": [{"list_id": {"S": "l"}}]},
            }
        )
        client.query(
            TableName=subscribers,
            IndexName="by_email",
            KeyConditionExpression="email = :e",
            ExpressionAttributeValues={":e": {"S": "a@example.com"}},
        )

    recorder = run_as("feedback", settings, handler)
    # a feedback poller left running with the same tables would be "feedback" here too
    recorder.calls = {c for c in recorder.calls if c.service == "dynamodb"}
    assert set(requests(recorder, function="feedback")) == {
        Request("dynamodb:PutItem", TABLE.format("Subscribers")),
        Request("dynamodb:UpdateItem", TABLE.format("Ledger")),
        Request("dynamodb:ConditionCheckItem", TABLE.format("Subscribers")),
        Request("dynamodb:BatchGetItem", TABLE.format("Subscribers")),
        Request("dynamodb:BatchGetItem", TABLE.format("Lists")),
        Request("dynamodb:Query", TABLE.format("Subscribers") + "/index/by_email"),
    }


def test_a_presigned_url_is_its_signers_action_on_the_object(session: boto3.Session) -> None:
    settings = Settings(imports_bucket="local-files")
    s3 = clients.s3_client(session)

    def handler() -> None:
        s3.generate_presigned_url(
            "put_object", Params={"Bucket": "local-files", "Key": "imports/i1"}, ExpiresIn=60
        )

    recorder = run_as("api", settings, handler)
    [call] = recorder.calls
    assert call.presigned and (call.service, call.operation) == ("s3", "PutObject")
    assert requests(recorder) == [
        Request("s3:PutObject", "arn:aws:s3:::fanmail-iam-importsbucket/imports/i1")
    ]


def test_a_send_needs_the_address_or_its_domain_and_the_configuration_set() -> None:
    call = Call(
        "sender",
        "e",
        "sesv2",
        "SendEmail",
        (("ConfigurationSetName", "local-set"), ("From", "news@example.com")),
    )
    local = {"FANMAIL_CONFIGURATION_SET": "local-set", "FANMAIL_SENDER_IDENTITY": "example.com"}
    deployment = Deployment(Judge().stack("example.com"), "SenderFunction", local)
    context = (("ses:FromAddress", "news@example.com"),)
    assert requests_for(call, deployment) == [
        Request("ses:SendEmail", ARN.format("ses", "identity/news@example.com"), context),
        Request("ses:SendEmail", ARN.format("ses", "identity/example.com"), context),
        Request(
            "ses:SendEmail", ARN.format("ses", "configuration-set/fanmail-iam-events"), context
        ),
    ]


def test_a_stand_in_schedule_is_created_in_the_stacks_group_passing_its_role() -> None:
    settings = Settings()
    recorder = run_as("trigger", settings, lambda: MemoryScheduler().schedule_once("s1", 1.0, {}))
    group = ARN.format("scheduler", "schedule/fanmail-iam-ScheduleGroup/s1")
    passed = (("iam:PassedToService", "scheduler.amazonaws.com"),)
    assert requests(recorder, function="trigger") == [
        Request("scheduler:CreateSchedule", group),
        Request("iam:PassRole", "arn:aws:iam::123456789012:role/fanmail-iam-SchedulerRole", passed),
    ]


def test_a_call_outside_any_handler_is_nobodys_and_unknown_names_are_refused() -> None:
    with recording(this_thread_only=True) as recorder:
        MemoryScheduler().delete("s1")  # a test's own set-up: no function runs it
    assert not recorder.calls and recorder.unattributed == 1
    call = Call("api", "e", "dynamodb", "GetItem", (("TableName", "elsewhere"),))
    deployment = Deployment(Judge().stack("example.com"), "ApiFunction", Settings().environment())
    with pytest.raises(Untranslatable, match="'elsewhere' is none of"):
        requests_for(call, deployment)
    with pytest.raises(KeyError, match="no IAM mapping for dynamodb:RestoreTableFromBackup"):
        requests_for(call._replace(operation="RestoreTableFromBackup"), deployment)
