from __future__ import annotations

from pathlib import Path

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.settings import Settings


def test_defaults_and_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "FANMAIL_MAX_SEND_RATE": "14",
            "FANMAIL_BRANCHING": "4",
            "FANMAIL_TEMPLATES_DIR": str(tmp_path),
            "FANMAIL_CONFIGURATION_SET": "",
        }
    )
    assert settings.max_send_rate == 14.0 and settings.branching == 4
    assert settings.templates_dir == tmp_path and settings.configuration_set is None
    assert (
        settings.plan_limits().sender_budget_s == settings.sender_timeout_s - settings.time_margin_s
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FANMAIL_MAX_SEND_RATE", "fast", "FANMAIL_MAX_SEND_RATE='fast': malformed"),
        ("FANMAIL_MAX_SEND_RATE", "-3", "must be a positive number"),
        ("FANMAIL_MAX_SEND_RATE", "nan", "must be a positive number"),
        ("FANMAIL_MAX_THREADS", "0", "FANMAIL_MAX_THREADS='0': must be a whole number >= 1"),
        ("FANMAIL_SUBSCRIBERS_TABLE", "a b", "without spaces"),
        ("FANMAIL_TEMPLATES_DIR", "/no/such/dir", "is not a directory"),
        ("FANMAIL_BRANCHING", "1", "branching"),
        ("FANMAIL_TIME_MARGIN_S", "5000", "must be below the function timeouts"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Settings.from_env({name: value})


def test_every_setting_is_in_the_readme_table() -> None:
    import dataclasses
    from pathlib import Path

    readme = (Path(__file__).parents[3] / "README.md").read_text()
    missing = [
        f.name
        for f in dataclasses.fields(Settings)
        if f"| `FANMAIL_{f.name.upper()}` |" not in readme
    ]
    assert missing == []
