"""#19: what would break or endanger a real deployment, asserted on the template as
CloudFormation deploys it (the SAM transform's output), one test (or more) per numbered item.
Item 1 is the IAM test's (tests/iam); item 4's bytecode is tests/deploy/test_artifact.py's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fanmail.adapters.aws.scheduler import NAME_MAX, stored_name
from tests import scripts
from tests.deploy.test_guardrails import (
    FUNCTIONS,
    as_list,
    env,
    of_type,
    props,
    resources,
    stack,
    statements,
)
from tests.iam.resolve import ResolvedStack

ROOT = Path(__file__).resolve().parents[2]


def validate_module() -> Any:
    return scripts.load("scripts/validate_template.py")


# -- 2. one stage per API ---------------------------------------------------------------------
def test_each_api_has_its_one_stage_and_no_stage_named_stage() -> None:
    """Without OpenApiVersion SAM's deployment also makes a stage "Stage": no throttling, no
    logs, no tracing, and /Stage/subscribe past the public throttle."""
    stages = {
        props(name)["RestApiId"]["Ref"]: props(name) for name in of_type("AWS::ApiGateway::Stage")
    }
    assert sorted(stages) == ["Api", "PublicApi"]
    assert all(stage["StageName"] == "v1" for stage in stages.values())
    for name in of_type("AWS::ApiGateway::Deployment"):
        assert "StageName" not in props(name), name
    assert stack()["Resources"]["PublicApiv1Stage"]["Properties"]["MethodSettings"]


# -- 3. defaults that deploy on a fresh account -------------------------------------------------
def test_access_logs_are_opt_in_and_the_account_role_comes_on_request() -> None:
    parameters = stack()["Parameters"]
    assert parameters["ApiAccessLogs"]["Default"] == "false"
    assert parameters["ApiGatewayLoggingRole"]["Default"] == "false"
    for api in ("Apiv1Stage", "PublicApiv1Stage"):
        assert props(api)["AccessLogSetting"]["Fn::If"][0] == "AccessLogs"
    role = resources()["ApiGatewayCloudWatchRole"]
    account = resources()["ApiGatewayAccount"]
    assert role["Condition"] == account["Condition"] == "CreateApiGatewayLoggingRole"
    assert role["DeletionPolicy"] == "Retain"  # every API of the account logs through it
    assert role["Properties"]["ManagedPolicyArns"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs"
        }
    ]
    assert account["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]
    }
    # the stages wait for the account's role when this stack sets it, and only then
    ready = resources()["ApiGatewayAccountReady"]["Metadata"]["LoggingRoleSet"]
    assert ready == {"Fn::If": ["CreateApiGatewayLoggingRole", {"Ref": "ApiGatewayAccount"}, ""]}
    for api in ("Api", "PublicApi"):
        assert resources()[api]["DependsOn"] == "ApiGatewayAccountReady"


def test_nothing_is_reserved_by_default_and_the_feedback_poller_is_bounded() -> None:
    """#19 items 3 and 7: no reserved concurrency unless asked; each SQS poller runs at most
    its parameter's invocations (the bulk objects' sized apart from the urgent events'), by
    default Lambda's least, 2 each (a new account's quota is often 10); and no role may receive
    or delete on every queue."""
    for poller, parameter in (
        ("FeedbackQueuePoller", "FeedbackConcurrency"),
        ("FeedbackObjectsPoller", "FeedbackObjectsConcurrency"),
    ):
        assert props(poller)["ScalingConfig"] == {"MaximumConcurrency": {"Ref": parameter}}
        declared = stack()["Parameters"][parameter]
        assert declared["Default"] == declared["MinValue"] == 2  # Lambda's minimum
        assert declared["MaxValue"] <= 1000  # and its maximum
    for name, role in of_type("AWS::IAM::Role").items():
        managed = [str(arn) for arn in role["Properties"].get("ManagedPolicyArns", [])]
        assert not any("SQSQueueExecutionRole" in arn for arn in managed), name
        for policy in role["Properties"].get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                sqs = [a for a in as_list(statement["Action"]) if str(a).startswith("sqs:")]
                assert not sqs or statement["Resource"] != "*", (name, statement)
    [poll] = [s for s in statements("Feedback") if s.get("Sid") == "PollTheFeedbackQueue"]
    assert poll["Resource"] == [
        {"Fn::GetAtt": ["FeedbackQueue", "Arn"]},
        {"Fn::GetAtt": ["FeedbackObjectsQueue", "Arn"]},
    ]


# -- 5. a template-only change goes live --------------------------------------------------------
def versions(source: str) -> dict[str, str]:
    document = validate_module().transform_source(source)
    return {
        logical: resource["Properties"]["FunctionName"]["Ref"]
        for logical, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Version"
    }


def test_an_edited_template_or_timeout_publishes_new_versions() -> None:
    """The live alias's version hashes every property (AutoPublishAliasAllProperties): a new
    templates layer (what `sam package` uploads for an edited email template) and a new
    timeout each publish a version; the same template publishes none."""
    source = (ROOT / "template.yaml").read_text()
    assert "      ContentUri: templates/\n" in source and "      Timeout: 300\n" in source
    before = versions(source)
    assert versions(source) == before
    templates = versions(source.replace("ContentUri: templates/", "ContentUri: s3://b/t2.zip"))
    assert set(templates).isdisjoint(before) and len(templates) == len(before) == len(FUNCTIONS)
    timeout = versions(source.replace("      Timeout: 300\n", "      Timeout: 299\n"))
    changed = {function for logical, function in timeout.items() if logical not in before}
    assert changed == {"SenderFunction"}


# -- 6. the mailto only where the stack receives it ---------------------------------------------
def test_the_unsubscribe_mailbox_comes_with_its_receipt_rule_or_not_at_all() -> None:
    assert stack()["Parameters"]["UnsubscribeMailbox"]["Default"] == ""
    for function in FUNCTIONS:  # empty: no mailto in List-Unsubscribe (https one-click alone)
        assert env(function)["FANMAIL_UNSUBSCRIBE_MAILTO"] == {"Ref": "UnsubscribeMailbox"}
    conditions = stack()["Conditions"]
    assert conditions["ReceiveUnsubscribeMail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "UnsubscribeMailbox"}, ""]}]
    }
    rule = resources()["UnsubscribeReceiptRule"]
    assert rule["Condition"] == "ReceiveUnsubscribeMail"
    assert rule["DependsOn"] == "InboundFromSes"
    body = rule["Properties"]["Rule"]
    assert body["Enabled"] is True and body["Recipients"] == [{"Ref": "UnsubscribeMailbox"}]
    [action] = body["Actions"]
    assert action["LambdaAction"] == {
        "FunctionArn": {"Ref": "InboundFunctionAliaslive"},
        "InvocationType": "Event",
    }
    assert rule["Properties"]["RuleSetName"] == {
        "Fn::If": [
            "CreateReceiptRuleSet",
            {"Ref": "UnsubscribeReceiptRuleSet"},
            {"Ref": "UnsubscribeRuleSet"},
        ]
    }
    assert resources()["UnsubscribeReceiptRuleSet"]["Condition"] == "CreateReceiptRuleSet"
    for name in ("InboundFunction", "InboundFromSes", "InboundFunctionRole", "InboundErrorsAlarm"):
        assert resources()[name]["Condition"] == "ReceiveUnsubscribeMail", name


# -- 8. the smaller ones ------------------------------------------------------------------------
def test_the_signing_keys_outlive_the_stack_and_a_new_stack_can_take_them() -> None:
    secret = resources()["UnsubscribeKeys"]
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    assert secret["Condition"] == "CreateSigningKeys"
    either = {
        "Fn::If": ["CreateSigningKeys", {"Ref": "UnsubscribeKeys"}, {"Ref": "SigningKeysSecret"}]
    }
    assert env("Sender")["FANMAIL_UNSUBSCRIBE_SECRET_NAME"] == either
    for function in ("Trigger", "Sender", "Api", "Public", "Inbound"):
        [read] = [s for s in statements(function) if s.get("Sid") == "SigningKeys"]
        assert read["Resource"] == either, function
    assert stack()["Outputs"]["SigningKeysSecretArn"]["Value"] == either


def test_the_tables_holding_consent_are_protected_and_the_files_bucket_never_blocks() -> None:
    for table in ("SubscribersTable", "ListsTable", "CampaignsTable"):
        assert props(table)["DeletionProtectionEnabled"] is True, table
        assert resources()[table]["DeletionPolicy"] == "Retain", table
    for name, days in (("ImportsBucket", 7), ("SesEventsBucket", 15)):
        bucket = resources()[name]
        assert bucket["DeletionPolicy"] == "Retain"  # a bucket with files would fail the deletion
        [rule] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert rule["ExpirationInDays"] <= days  # what it holds then expires


def test_every_kept_table_is_protected_and_recoverable_the_ledger_too() -> None:
    """A table the stack keeps is one whose loss matters: deletion-protected, kept on a
    replacement too, and recoverable from a bad write (PITR). The ledger is one (what keeps a
    send exactly-once), the saved segments too; the TTL'd scratch tables are neither."""
    tables = of_type("AWS::DynamoDB::Table")
    kept = {name for name, table in tables.items() if table.get("DeletionPolicy") == "Retain"}
    assert {"LedgerTable", "SegmentsTable", "SubscribersTable", "CampaignsTable"} <= kept
    for name in kept:
        table = tables[name]
        assert table["UpdateReplacePolicy"] == "Retain", name
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
        pitr = table["Properties"]["PointInTimeRecoverySpecification"]
        assert pitr == {"PointInTimeRecoveryEnabled": True}, name
    scratch = {"ImportsTable", "SignupsTable", "IdempotencyTable"}
    assert scratch == set(tables) - kept
    for name in scratch:
        assert tables[name]["Properties"]["TimeToLiveSpecification"]["Enabled"] is True, name


def test_schedules_live_in_the_stacks_own_group_whatever_its_name() -> None:
    """IAM once scoped schedules by the stack's name as a prefix: `fan-*` matched stack
    `fan-2`'s, and a stack name over ~52 characters left no room in a schedule's 64."""
    group = resources()["ScheduleGroup"]
    assert "Name" not in group.get("Properties", {})  # CloudFormation names it
    assert env("Trigger")["FANMAIL_SCHEDULE_GROUP"] == {"Ref": "ScheduleGroup"}
    assert "FANMAIL_SCHEDULE_PREFIX" not in env("Trigger")
    arn = "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/"
    for function in ("Trigger", "Api"):
        scoped = {
            json.dumps(s["Resource"])
            for s in statements(function)
            if str(s["Action"][0]).startswith("scheduler:")
        }
        assert scoped == {json.dumps({"Fn::Sub": arn + "${ScheduleGroup}/*"})}, function
    longest = f"send-{'c' * 64}-resume"
    assert len(stored_name("fanmail-", longest)) <= NAME_MAX


@pytest.mark.parametrize("stack_name", ["fan", "f" + "-x" * 27])
def test_every_name_fits_its_limit_for_stack_names_up_to_55_characters(stack_name: str) -> None:
    """Function names carry the stack's name (functions invoke themselves by it): 55 characters
    is the longest stack name every named resource takes (docs/deploying.md)."""
    limits = {
        ("AWS::Lambda::Function", "FunctionName"): 64,
        ("AWS::SES::ConfigurationSet", "Name"): 64,
        ("AWS::Lambda::LayerVersion", "LayerName"): 140,
        ("AWS::Events::EventBus", "Name"): 256,
        ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,
        ("AWS::WAFv2::WebACL", "Name"): 128,
    }
    resolved = ResolvedStack(
        stack(),
        {
            "SenderIdentity": "news@example.com",
            "UnsubscribeMailbox": "u@example.com",
            "PublicApiFirewall": "true",
        },
        stack_name=stack_name,
    )
    checked = 0
    for logical, resource in resolved.resources.items():
        for (kind, key), limit in limits.items():
            if resource["Type"] == kind and key in resource["Properties"]:
                name = str(resource["Properties"][key])
                assert len(name) <= limit, (logical, name)
                checked += 1
    destination = resolved.resources["SesEventDestination"]["Properties"]["EventDestination"]
    assert len(destination["Name"]) <= 64 and destination["Name"].startswith(stack_name)
    assert checked >= 8


def test_two_stacks_on_one_configuration_set_and_their_layers_do_not_collide() -> None:
    destination = props("SesEventDestination")["EventDestination"]
    assert destination["Name"] == {"Fn::Sub": "${AWS::StackName}-feedback"}
    layers = of_type("AWS::Lambda::LayerVersion")
    assert len(layers) == 2
    for layer in layers.values():
        assert "${AWS::StackName}" in layer["Properties"]["LayerName"]["Fn::Sub"]
        assert layer["DeletionPolicy"] == "Delete"  # old versions go, not pile up


def test_every_parameter_is_bounded() -> None:
    """Strings by allowed values or a pattern and a length, numbers by a range."""
    for name, spec in stack()["Parameters"].items():
        if "AllowedValues" in spec:
            continue
        if spec["Type"] == "Number":
            assert "MinValue" in spec and "MaxValue" in spec, name
        else:
            assert "AllowedPattern" in spec and "MaxLength" in spec, name
        default = spec.get("Default")
        if default is not None and spec["Type"] == "String":
            assert re.fullmatch(spec["AllowedPattern"], str(default)), name


def test_every_parameter_is_in_the_deploy_table() -> None:
    page = (ROOT / "docs/deploying.md").read_text()
    table = page.split("# Deploying", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in stack()["Parameters"] if f"`{name}`" not in table]
    assert missing == []


# -- the public API's firewall ------------------------------------------------------------------
def test_an_optional_firewall_limits_sign_ups_per_source() -> None:
    acl = resources()["PublicApiFirewallAcl"]
    assert (
        acl["Condition"] == "Firewall"
        and stack()["Parameters"]["PublicApiFirewall"]["Default"] == "false"
    )
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    signups = rules["sign-ups-per-source"]["Statement"]["RateBasedStatement"]
    assert signups["AggregateKeyType"] == "IP" and signups["Limit"] == {"Ref": "SignUpsPerSource"}
    scope = signups["ScopeDownStatement"]["AndStatement"]["Statements"]
    matches = {s["ByteMatchStatement"]["SearchString"] for s in scope}
    assert matches == {"POST", "/subscribe"}
    assert rules["sign-ups-per-source"]["Action"] == {"Block": {}}
    association = props("PublicApiFirewallAssociation")
    assert association["ResourceArn"]["Fn::Sub"].endswith("/restapis/${PublicApi}/stages/v1")
    assert resources()["PublicApiFirewallAssociation"]["DependsOn"] == "PublicApiv1Stage"
