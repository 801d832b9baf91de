"""`fanmail topic ...`, `campaigns create --topic` and `lists subscribers --topic`: what they
print, and one line for each clumsy input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fanmail.domain.model import Subscriber
from fanmail.services.lists import UpsertSubscriber
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.unit.cli.test_commands import cli  # noqa: F401 (the fixture)

PINPOINT_FIXTURE = Path(__file__).parents[2] / "fixtures" / "pinpoint" / "export.jsonl"


def test_topics_from_the_command_line(cli: Any, stack: MemoryStack) -> None:  # noqa: F811
    assert cli("lists", "create", "news")[0] == 0
    code, made, _ = cli("topic", "create", "news", "weekly-digest", "--name", "Weekly digest")
    assert code == 0 and made == {
        "id": "weekly-digest",
        "name": "Weekly digest",
        "description": "",
        "default": "in",
    }
    code, changed, _ = cli("topic", "set", "news", "weekly-digest", "--default", "out")
    assert changed["default"] == "out" and changed["name"] == "Weekly digest"
    assert cli("topic", "list", "news")[1]["topics"][0]["id"] == "weekly-digest"
    assert cli("lists", "show", "news")[1]["topics"][0]["default"] == "out"
    stack.subscribers.put_many([Subscriber("news", "a@example.com"), Subscriber("news", "b@x.com")])
    stack.app.lists.upsert(
        UpsertSubscriber("news", "a@example.com", topics={"weekly-digest": True})
    )
    code, page, _ = cli("lists", "subscribers", "news", "--topic", "weekly-digest")
    assert [s["email"] for s in page["subscribers"]] == ["a@example.com"]
    assert page["subscribers"][0]["topics"] == {"weekly-digest": True}
    code, page, _ = cli("lists", "subscribers", "news", "--not-in-topic", "weekly-digest")
    assert [s["email"] for s in page["subscribers"]] == ["b@x.com"]
    create = ["campaign", "create", "--list", "news", "--template", "newsletter"]
    code, campaign, _ = cli(*create, "--sender", SENDER_ADDRESS, "--topic", "weekly-digest")
    assert code == 0 and campaign["topic"]["id"] == "weekly-digest"
    assert cli("topic", "delete", "news", "weekly-digest")[1]["deleted"]["id"] == "weekly-digest"


def test_bad_topic_commands_are_one_line_each(cli: Any) -> None:  # noqa: F811
    assert cli("lists", "create", "news")[0] == 0
    code, _, err = cli("topic", "create", "news", "Bad Id")
    assert code == 2 and err.count("\n") == 1 and "topic id 'Bad Id' is not valid" in err
    code, _, err = cli("topic", "show", "news", "nope")
    assert code == 2 and "no topic 'nope'" in err
    code, _, err = cli("topic", "create", "nope", "x")
    assert code == 2 and "not found" in err


@pytest.mark.parametrize("given", [["--format", "pinpoint"], []])  # without: by ChannelType
def test_import_a_pinpoint_export(
    cli: Any,  # noqa: F811
    stack: MemoryStack,
    tmp_path: Path,
    given: list[str],
) -> None:
    export = tmp_path / "endpoints.json"
    export.write_bytes(PINPOINT_FIXTURE.read_bytes())
    code, job, err = cli("import", str(export), "--list", "news", "--create-list", *given)
    assert code == 0, err
    assert job["options"]["format"] == "pinpoint"
    assert job["counts"]["rows"] == 16 and job["counts"]["skipped"] == 4
    assert job["counts"]["rejected"] == 6 and job["status"] == "done"
    assert stack.app.lists.subscriber("news", "grace@example.org").status.value == "unsubscribed"
