from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.functions import FUNCTIONS
from fanmail.settings import Settings


def test_defaults_and_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "FANMAIL_MAX_SEND_RATE": "14",
            "FANMAIL_BRANCHING": "4",
            "FANMAIL_TEMPLATES_DIR": str(tmp_path),
            "FANMAIL_CONFIGURATION_SET": "",
            "FANMAIL_PACING_FACTOR": "0.975",
        }
    )
    assert settings.max_send_rate == 14.0 and settings.branching == 4
    assert settings.plan_limits().pacing_factor == 0.975
    assert settings.templates_dir == tmp_path and settings.configuration_set is None
    assert (
        settings.plan_limits().sender_budget_s == settings.sender_timeout_s - settings.time_margin_s
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FANMAIL_MAX_SEND_RATE", "fast", "FANMAIL_MAX_SEND_RATE='fast': not a number$"),
        ("FANMAIL_MAX_THREADS", "2.5", "FANMAIL_MAX_THREADS='2.5': not a whole number$"),
        ("FANMAIL_MAX_SEND_RATE", "-3", "must be a positive number"),
        ("FANMAIL_MAX_SEND_RATE", "nan", "must be a positive number"),
        ("FANMAIL_MAX_THREADS", "0", "FANMAIL_MAX_THREADS='0': must be a whole number >= 1"),
        ("FANMAIL_BRANCHING", "1", "FANMAIL_BRANCHING='1': must be a whole number >= 2"),
        ("FANMAIL_SUBSCRIBERS_TABLE", "a b", "without spaces"),
        ("FANMAIL_TEMPLATES_DIR", "/no/such/dir", "is not a directory"),
        ("FANMAIL_PACING_FACTOR", "1.02", "PACING_FACTOR='1.02': must be a fraction above 0"),
        ("FANMAIL_PACING_FACTOR", "0", "at most 1"),
        ("FANMAIL_SWITCH_INTERVAL_MS", "0", "must be a positive number"),
        ("FANMAIL_TIME_MARGIN_S", "5000", "must be below the function timeouts"),
        ("FANMAIL_SENDER_IDENTITY", "not an identity", "address or a domain"),
        ("FANMAIL_SENDER_IDENTITY", "a@b@c", "email address"),
        ("FANMAIL_FUNCTION_QUALIFIER", "live alias", "alias name"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Settings.from_env({name: value})


def test_every_setting_is_in_the_settings_table() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[3] / "docs/settings.md").read_text()
    missing = [
        f.name
        for f in dataclasses.fields(Settings)
        if f"| `FANMAIL_{f.name.upper()}` |" not in readme
    ]
    assert missing == []


def test_the_stack_wiring_settings() -> None:
    """#11: the identity campaigns must send as, the alias functions are invoked through, and
    the dead-letter queue the schedules name."""
    settings = Settings.from_env(
        {
            "FANMAIL_SENDER_IDENTITY": "News.Example.COM.",
            "FANMAIL_FUNCTION_QUALIFIER": "live",
            "FANMAIL_SENDER_FUNCTION": "s-sender",
            "FANMAIL_SCHEDULE_DEAD_LETTER_ARN": "arn:aws:sqs:eu-west-1:1:dlq",
        }
    )
    assert settings.sender_identity == "news.example.com"
    assert settings.function_names()["sender"] == "s-sender:live"
    assert settings.schedule_dead_letter_arn == "arn:aws:sqs:eu-west-1:1:dlq"
    assert Settings.from_env({}).function_names()["trigger"] == "fanmail-trigger"


def test_function_names_are_the_invoked_functions_of_fanmail_functions() -> None:
    """Review #1: `functions.FUNCTIONS` says which functions fanmail invokes; Settings holds a
    deployed name for each of them (FANMAIL_<NAME>_FUNCTION) and for no other."""
    invoked = {f.name for f in FUNCTIONS if f.invoked}
    env = {f"FANMAIL_{name.upper()}_FUNCTION": f"x-{name}" for name in invoked}
    assert Settings.from_env(env).function_names() == {name: f"x-{name}" for name in invoked}
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {n.removesuffix("_function") for n in fields if n.endswith("_function")} == invoked


def test_the_stack_sets_the_gil_switch_interval_it_is_given() -> None:
    import sys
    from dataclasses import replace

    from fanmail_local.harness import memory_stack

    before = sys.getswitchinterval()
    settings = replace(Settings.from_env({}), switch_interval_ms=2.0)
    try:
        memory_stack(settings).close()
        assert sys.getswitchinterval() == pytest.approx(0.002)
    finally:
        sys.setswitchinterval(before)


def test_local_modes_own_settings_are_in_the_readme_and_checked() -> None:
    import dataclasses
    from pathlib import Path

    from fanmail_local.settings import LocalSettings

    readme = (Path(__file__).parents[3] / "docs/settings.md").read_text()
    names = [f"FANMAIL_LOCAL_{f.name.upper()}" for f in dataclasses.fields(LocalSettings)]
    assert [n for n in names if f"| `{n}` |" not in readme] == []
    assert LocalSettings.from_env({"FANMAIL_LOCAL_OPEN_RATE": "0.5"}).open_rate == 0.5
    for bad in ("1.5", "-0.1", "half"):
        with pytest.raises(InvalidInput, match=f"FANMAIL_LOCAL_CLICK_RATE='{bad}'"):
            LocalSettings.from_env({"FANMAIL_LOCAL_CLICK_RATE": bad})
