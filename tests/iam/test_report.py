"""The IAM test's verdict both ways: a denied call fails any run; an unused grant fails a whole
run unless unused_grants.yaml accepts it, and an accepted one that is used now fails it too."""

from __future__ import annotations

from tests.iam.check import Verdict, accepted_unused, report

GRANT = ("SenderFunction", "SenderFunctionRole/Policy/Ledger", "dynamodb:UpdateItem", 0)
SHOWN = "arn:aws:dynamodb:us-east-1:123456789012:table/fanmail-iam-LedgerTable"


def test_a_denied_call_fails_every_run() -> None:
    verdict = Verdict(denied=["SenderFunction may not ses:SendEmail on ..."], requests=1)
    for whole in (True, False):
        lines, failed = report(verdict, 1, whole_suite=whole)
        assert failed and lines[0].startswith("DENIED SenderFunction may not ses:SendEmail")


def test_an_unused_grant_fails_only_a_whole_run() -> None:
    verdict = Verdict(grants={GRANT: SHOWN}, requests=1)
    lines, failed = report(verdict, 1, whole_suite=True)
    assert failed and f"UNUSED SenderFunction {GRANT[1]}: dynamodb:UpdateItem on {SHOWN}" in lines
    assert report(verdict, 1, whole_suite=False)[1] is False  # a part uses part of the grants
    verdict.used.add(GRANT)
    assert report(verdict, 1, whole_suite=True)[1] is False


def test_accepted_unused_grants_are_listed_and_a_used_one_is_stale() -> None:
    [(function, statement, action, shown), *_] = accepted_unused()
    grant = (function, statement, action, 0)
    verdict = Verdict(grants={grant: shown}, requests=1)
    lines, failed = report(verdict, 1, whole_suite=True)
    assert not failed and any(line.startswith("unused (accepted)") for line in lines)
    verdict.used.add(grant)
    lines, failed = report(verdict, 1, whole_suite=True)
    assert failed and any(line.startswith("STALE") for line in lines)
