"""The IAM test as a pytest plugin (tests/conftest.py registers it): records from the start of
the run, in every pytest-xdist worker, and judges the calls of all of them once at the end. A
denied call fails the run; so does an unused grant that unused_grants.yaml does not accept,
when the whole suite ran and passed (a part of it uses only part of the grants)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.iam import recorder
from tests.iam.check import ROOT, Judge, report

EXPORT = "fanmail_iam_calls"
REPORT = ROOT / "build" / "iam-report.txt"


class IamPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.recorder = recorder.CallRecorder()
        self.exports: list[dict[str, Any]] = []
        self.lines: list[str] = []
        recorder.start(self.recorder)

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(EXPORT)
        if output:
            self.exports.append(json.loads(output))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        recorder.stop(self.recorder)
        if self.is_worker:
            self.config.workeroutput[EXPORT] = json.dumps(self.recorder.export())  # type: ignore[attr-defined]
            return
        calls, environments = recorder.merge([*self.exports, self.recorder.export()])
        if not calls:
            return  # nothing ran a function (a deploy or lint-only selection)
        verdict = Judge().judge(calls, environments)
        whole = self._whole_suite(session)
        self.lines, failed = report(verdict, len(calls), whole_suite=whole)
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text("\n".join(self.lines) + "\n")
        if failed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _whole_suite(self, session: pytest.Session) -> bool:
        option = self.config.option
        selected = not (option.keyword or option.markexpr or getattr(option, "deselect", None))
        everything = self.config.args_source == pytest.Config.ArgsSource.TESTPATHS
        return (
            selected
            and everything
            and not getattr(option, "lf", False)
            and session.testsfailed == 0
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.lines:
            return
        terminalreporter.section("IAM: every AWS call against its function's policies")
        for line in self.lines:
            terminalreporter.write_line(line)
