"""Every recorded call held to the policies of the function that made it, both ways: a call no
policy allows is denied (the test fails naming function, action and resource), and a grant no
call used is reported -- accepted only with why in tests/iam/unused_grants.yaml.

The stack is resolved for the sender identity the recording function ran with (the harness's
verified sender where it had none), with the unsubscribe mailbox on so the inbound function
exists; every other parameter keeps its default.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests import scripts
from tests.iam.calls import Call, Deployment, Untranslatable, requests_for
from tests.iam.policy import Request, Statement, evaluate
from tests.iam.resolve import ResolvedStack

ROOT = Path(__file__).resolve().parents[2]
ACCEPTED = Path(__file__).with_name("unused_grants.yaml")
LOCAL_IDENTITY = "fanmail.example"  # the harness's verified sender, news@fanmail.example

AWS_MANAGED: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        },
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        },
    ],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        },
    ],
}
"""The AWS managed policies SAM attaches, as AWS publishes them (not checked for use)."""

Grant = tuple[str, str, str, int]  # (function, statement, action pattern, resource index)


@dataclass
class Verdict:
    denied: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    grants: dict[Grant, str] = field(default_factory=dict)
    """Every grant of the functions' own policies, with how it reads in the default stack."""
    used: set[Grant] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)
    """Functions tests registered that the stack does not have: their calls are not judged."""

    def unused(self) -> list[tuple[Grant, str]]:
        return sorted((g, shown) for g, shown in self.grants.items() if g not in self.used)


def function_id(local_name: str) -> str:
    return f"{local_name.capitalize()}Function"


@functools.cache
def template() -> dict[str, Any]:
    """The shipped template.yaml through the SAM transform (scripts/validate_template.py)."""
    module = scripts.load("scripts/validate_template.py")
    transformed: dict[str, Any] = module.transformed(ROOT / "template.yaml")
    return transformed


class Judge:
    """Holds calls to one transformed template (the shipped one unless given)."""

    def __init__(self, transformed: Mapping[str, Any] | None = None) -> None:
        self.template = transformed if transformed is not None else template()
        self._stacks: dict[str, ResolvedStack] = {}

    def stack(self, identity: str) -> ResolvedStack:
        if identity not in self._stacks:
            domain = identity.rpartition("@")[2]
            parameters = {
                "SenderIdentity": identity,
                "UnsubscribeMailbox": f"optout@{domain}",
                "TrackOpensAndClicks": "true",  # local mode sees opens and clicks: both sets
            }
            self._stacks[identity] = ResolvedStack(self.template, parameters)
        return self._stacks[identity]

    def statements(
        self, stack: ResolvedStack, function: str
    ) -> tuple[list[Statement], list[Statement]]:
        """(the function's own statements: inline and this stack's managed policies; the AWS
        managed ones SAM attaches)."""
        role = self.template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
        properties = stack.resources[role]["Properties"]
        own = [
            Statement.parse(raw, f"{role}/{policy['PolicyName']}")
            for policy in properties.get("Policies", [])
            for raw in _as_list(policy["PolicyDocument"]["Statement"])
        ]
        managed: list[Statement] = []
        for arn in properties.get("ManagedPolicyArns", []):
            name = str(arn).split(":policy/", 1)[1]
            if str(arn).startswith("arn:aws:iam::aws:"):
                managed += [Statement.parse(raw, f"aws/{name}") for raw in AWS_MANAGED[name]]
                continue
            [logical] = [
                k
                for k, r in stack.resources.items()
                if r["Type"] == "AWS::IAM::ManagedPolicy" and stack.ref(k) == arn
            ]
            document = stack.resources[logical]["Properties"]["PolicyDocument"]
            own += [Statement.parse(raw, logical) for raw in _as_list(document["Statement"])]
        return own, managed

    def judge(
        self, calls: Iterable[Call], environments: Mapping[str, Mapping[str, str]]
    ) -> Verdict:
        verdict = Verdict()
        self._list_grants(verdict)
        seen: set[tuple[str, Request]] = set()
        for call in sorted(calls):
            self._judge_one(call, environments[call.environment], verdict, seen)
        verdict.requests = len(seen)
        return verdict

    def _list_grants(self, verdict: Verdict) -> None:
        stack = self.stack(LOCAL_IDENTITY)
        for logical, resource in self.template["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            for statement in self.statements(stack, logical)[0]:
                for action in statement.actions:
                    for index, shown in enumerate(statement.resources):
                        key = (logical, statement.where, action, index)
                        verdict.grants[key] = shown

    def _judge_one(
        self,
        call: Call,
        environment: Mapping[str, str],
        verdict: Verdict,
        seen: set[tuple[str, Request]],
    ) -> None:
        function = function_id(call.function)
        what = f"{call.service} {call.operation} {dict(call.names)}"
        if function not in self.template["Resources"]:
            verdict.foreign.add(call.function)  # a test's own stand-in function, not the stack's
            return
        stack = self.stack(environment.get("FANMAIL_SENDER_IDENTITY") or LOCAL_IDENTITY)
        try:
            requests = requests_for(call, Deployment(stack, function, environment))
        except (Untranslatable, KeyError) as exc:
            verdict.problems.append(f"{function} {what}: {exc}")
            return
        own, managed = self.statements(stack, function)
        for request in requests:
            if (function, request) in seen:
                continue
            seen.add((function, request))
            decision = evaluate(own + managed, request)
            if not decision.allowed:
                by = f", denied by {decision.denied_by.where}" if decision.denied_by else ""
                how = " (a presigned URL)" if call.presigned else ""
                verdict.denied.append(
                    f"{function} may not {request.action} on {request.resource}{by} "
                    f"-- its handler called {call.service} {call.operation}{how}"
                )
            for statement in decision.allowed_by:
                self._mark_used(verdict, function, statement, request)

    @staticmethod
    def _mark_used(verdict: Verdict, function: str, statement: Statement, request: Request) -> None:
        for action in statement.actions:
            if not Statement(effect="Allow", actions=(action,), resources=("*",)).matches_action(
                request.action
            ):
                continue
            for index, pattern in enumerate(statement.resources):
                if Statement(effect="Allow", actions=("*",), resources=(pattern,)).matches_resource(
                    request.resource
                ):
                    verdict.used.add((function, statement.where, action, index))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def accepted_unused() -> dict[tuple[str, str, str, str], str]:
    """(function, statement, action, resource) -> why, from tests/iam/unused_grants.yaml."""
    entries: Any = yaml.safe_load(ACCEPTED.read_text()) or []
    table: dict[tuple[str, str, str, str], str] = {}
    for entry in entries:
        why = str(entry.get("why", "")).strip()
        if not why:
            raise ValueError(f"{ACCEPTED}: {entry} is accepted without a reason")
        key = (entry["function"], entry["statement"], entry["action"], entry["resource"])
        table[key] = why
    return table


def report(verdict: Verdict, calls: int, *, whole_suite: bool) -> tuple[list[str], bool]:
    """The lines to print, and whether the check fails."""
    accepted = accepted_unused()
    lines = [f"DENIED {line}" for line in verdict.denied]
    lines += [f"UNCHECKED {line}" for line in verdict.problems]
    unused = verdict.unused()
    fresh = []
    for (function, where, action, _), shown in unused:
        key = (function, where, action, shown)
        mark = "unused (accepted)" if key in accepted else "UNUSED"
        if key not in accepted:
            fresh.append(key)
        lines.append(f"{mark} {function} {where}: {action} on {shown}")
    used_keys = {
        (f, w, a, shown)
        for (f, w, a, _), shown in verdict.grants.items()
        if (f, w, a, _) in verdict.used
    }
    stale = sorted(k for k in accepted if k in used_keys)
    lines += [f"STALE accepted-unused grant is used now: {' '.join(k)}" for k in stale]
    failed = bool(verdict.denied or verdict.problems)
    if whole_suite:
        failed = failed or bool(fresh or stale)
    lines.append(
        f"IAM: {calls} distinct calls, {verdict.requests} requests: "
        f"{verdict.requests - len(verdict.denied)} allowed, {len(verdict.denied)} denied, "
        f"{len(verdict.problems)} unchecked; {len(verdict.grants)} grants, {len(unused)} unused "
        f"({len(unused) - len(fresh)} accepted)"
        + ("" if whole_suite else " -- unused grants judged only when the whole suite runs")
    )
    if verdict.foreign:
        lines.append(f"not judged: calls of tests' own functions {sorted(verdict.foreign)}")
    if failed:
        lines.append(
            "FAILED: the IAM test fails this run (DENIED, UNCHECKED, UNUSED or STALE above)"
        )
    return lines, failed
