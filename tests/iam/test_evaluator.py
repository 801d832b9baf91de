"""The IAM test's evaluator against IAM's documented rules: allow, the implicit and the explicit
deny, wildcards, NotAction and NotResource, and conditions (a key the request lacks, negated
operators, IfExists, operators it does not know)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.iam.policy import Request, Statement, evaluate, wildcard

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/subscribers"


def statement(**raw: Any) -> Statement:
    return Statement.parse({"Effect": "Allow", **raw}, "test")


def allowed(statements: list[Statement], action: str, resource: str, **keys: str) -> bool:
    return evaluate(statements, Request(action, resource, tuple(keys.items()))).allowed


def test_an_allow_grants_its_action_on_its_resource_and_nothing_else() -> None:
    grant = [statement(Action="dynamodb:GetItem", Resource=TABLE)]
    assert allowed(grant, "dynamodb:GetItem", TABLE)
    assert not allowed(grant, "dynamodb:PutItem", TABLE)  # the implicit deny
    assert not allowed(grant, "dynamodb:GetItem", TABLE + "-other")
    assert not allowed(grant, "dynamodb:GetItem", TABLE + "/index/by_email")
    assert not allowed([], "dynamodb:GetItem", TABLE)


def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements = [
        statement(Action="s3:*", Resource="*"),
        Statement.parse({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}, "d"),
    ]
    decision = evaluate(statements, Request("s3:DeleteObject", "arn:aws:s3:::b/k"))
    assert not decision.allowed and decision.denied_by is statements[1]
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::b/k")


def test_wildcards_match_across_separators_and_actions_ignore_case() -> None:
    grant = [statement(Action=["dynamodb:Get*", "SES:sendemail"], Resource=TABLE + "*")]
    assert allowed(grant, "dynamodb:GetItem", TABLE + "/index/by_email")
    assert allowed(grant, "ses:SendEmail", TABLE)
    assert not allowed(grant, "dynamodb:Query", TABLE)
    assert wildcard(
        "arn:aws:lambda:*:function:s-sender:?ive", "arn:aws:lambda:r:1:function:s-sender:live"
    )
    assert not wildcard("identity/*@example.com", "identity/example.com")
    assert not wildcard("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/k")  # resources keep case
    assert not wildcard("table/[ab]", "table/a")  # IAM has no character sets
    assert wildcard("table/[ab]", "table/[ab]")


def test_not_action_and_not_resource_grant_everything_else() -> None:
    everything_but = [statement(NotAction="iam:*", NotResource="arn:aws:s3:::secret/*")]
    assert allowed(everything_but, "s3:GetObject", "arn:aws:s3:::public/k")
    assert not allowed(everything_but, "iam:PassRole", "arn:aws:s3:::public/k")
    assert not allowed(everything_but, "s3:GetObject", "arn:aws:s3:::secret/k")


def test_conditions_every_operator_and_key_and_any_value() -> None:
    send = statement(
        Action="ses:SendEmail",
        Resource="*",
        Condition={"StringLike": {"ses:FromAddress": ["news@example.com", "*@example.org"]}},
    )
    assert allowed([send], "ses:SendEmail", "*", **{"ses:FromAddress": "news@example.com"})
    assert allowed([send], "ses:SendEmail", "*", **{"ses:FromAddress": "a@example.org"})
    assert not allowed([send], "ses:SendEmail", "*", **{"ses:FromAddress": "a@example.com"})
    assert not allowed([send], "ses:SendEmail", "*")  # a key the request lacks fails it
    both = statement(
        Action="iam:PassRole",
        Resource="*",
        Condition={
            "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"},
            "StringNotEquals": {"aws:RequestedRegion": "eu-west-1"},
        },
    )
    keys = {"iam:PassedToService": "scheduler.amazonaws.com"}
    assert allowed([both], "iam:PassRole", "r", **keys)  # a negated operator passes a missing key
    assert not allowed([both], "iam:PassRole", "r", **keys, **{"aws:RequestedRegion": "eu-west-1"})
    assert not allowed(
        [both], "iam:PassRole", "r", **{"iam:PassedToService": "events.amazonaws.com"}
    )


def test_if_exists_null_and_unknown_operators() -> None:
    maybe = statement(Action="*", Resource="*", Condition={"StringEqualsIfExists": {"k": "v"}})
    assert allowed([maybe], "s3:GetObject", "r")
    assert allowed([maybe], "s3:GetObject", "r", k="v") and not allowed(
        [maybe], "s3:GetObject", "r", k="w"
    )
    absent = statement(Action="*", Resource="*", Condition={"Null": {"k": "true"}})
    assert allowed([absent], "a:b", "r") and not allowed([absent], "a:b", "r", k="v")
    for operator in ("NumericLessThan", "ForAnyValue:StringEquals"):
        unknown = statement(Action="*", Resource="*", Condition={operator: {"k": "1"}})
        with pytest.raises(ValueError, match="not evaluated here"):
            allowed([unknown], "a:b", "r", k="1")
