"""An export's `status` column read back by an import (review H1): moving a list keeps its
opt-outs, a re-import changes nothing, a bad status is a rejected row, and `status` is never an
attribute (a second `status` column would make the next export unreadable)."""

from __future__ import annotations

import io

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.domain.import_jobs import ImportMode, ImportOptions, ImportStatus
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.services.lists import CreateList
from fanmail.services.topics import TopicChange
from fanmail_local.harness import MemoryStack
from tests.conftest import import_text
from tests.unit.handlers.test_api_bad_input import finished, is_error, send_file

S = SubscriberStatus


def everyone(stack: MemoryStack, list_id: str) -> dict[str, Subscriber]:
    """Each subscriber of a list as `get` reads it: with consent history and topics."""
    found = {}
    for listed in stack.subscribers.page(list_id, None, 1000).subscribers:
        one = stack.subscribers.get(list_id, listed.email)
        assert one is not None
        found[one.email] = one
    return found


def exported(stack: MemoryStack, list_id: str) -> str:
    out = io.StringIO()
    stack.app.imports.export(list_id, out)
    return out.getvalue()


@pytest.fixture
def source(stack: MemoryStack) -> MemoryStack:
    """A list with one subscriber of each status, attributes and a topic choice."""
    stack.app.lists.create(CreateList("src"))
    stack.app.topics.create("src", "digest", TopicChange("Digest"))
    import_text(
        stack,
        "email,first_name,city,topic:digest\n"
        + "".join(f"{s.value}@example.com,{s.value[:3]},Oslo,no\n" for s in S),
        list_id="src",
    )
    for s in (S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED):
        stack.subscribers.set_status("src", f"{s.value}@example.com", s)
    return stack


def test_an_export_imported_into_a_new_list_keeps_every_status_and_attribute(
    source: MemoryStack,
) -> None:
    text = exported(source, "src")
    assert text.splitlines()[0] == "email,status,city,first_name,topic:digest"
    source.app.lists.create(CreateList("dst"))
    source.app.topics.create("dst", "digest", TopicChange("Digest"))
    job = import_text(source, text, list_id="dst")
    assert job.status is ImportStatus.DONE and job.counts.rejected == 0
    assert (job.counts.created, job.counts.unsubscribed) == (1, 3)
    moved = everyone(source, "dst")
    assert {e: s.status for e, s in moved.items()} == {f"{s.value}@example.com": s for s in S}
    assert all(
        s.attributes == {"first_name": s.status.value[:3], "city": "Oslo"} for s in moved.values()
    )
    history = moved["complained@example.com"].history
    assert [(c.how, c.status) for c in history if not c.topic] == [("import", S.COMPLAINED)]
    assert exported(source, "dst") == text  # the same file again: one status column


def test_re_importing_a_lists_own_export_changes_nothing(source: MemoryStack) -> None:
    before = everyone(source, "src")
    text = exported(source, "src")
    job = import_text(source, text, list_id="src")
    assert job.status is ImportStatus.DONE and job.counts.rejected == 0
    after = everyone(source, "src")
    assert {e: (s.status, s.attributes, s.history) for e, s in after.items()} == {
        e: (s.status, s.attributes, s.history) for e, s in before.items()
    }
    assert exported(source, "src") == text


def test_an_opt_out_in_the_file_applies_to_an_existing_address_in_every_mode(
    stack: MemoryStack,
) -> None:
    for mode in ImportMode:
        list_id = f"l-{mode.value}"
        stack.app.lists.create(CreateList(list_id))
        stack.subscribers.put_many(
            [
                Subscriber(list_id, "on@example.com", S.SUBSCRIBED, {"c": "old"}),
                Subscriber(list_id, "said-no@example.com", S.COMPLAINED),
            ]
        )
        text = "email,status,c\non@example.com,bounced,new\nsaid-no@example.com,unsubscribed,x\n"
        job = import_text(stack, text, list_id=list_id, mode=mode)
        found = everyone(stack, list_id)
        assert found["on@example.com"].status is S.BOUNCED, mode  # the file's own opt-out
        assert found["said-no@example.com"].status is S.COMPLAINED, mode  # not weakened
        expected = "new" if mode is ImportMode.UPSERT else "old"
        assert found["on@example.com"].attributes == {"c": expected}, mode
        assert job.counts.unsubscribed == 2 and job.counts.rows == job.counts.accounted


def test_subscribed_or_empty_status_never_re_subscribes_without_force(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many([Subscriber("news", "gone@example.com", S.UNSUBSCRIBED)])
    job = import_text(stack, "email,status\ngone@example.com,subscribed\nnew@example.com,\n")
    assert (job.counts.kept_opted_out, job.counts.created) == (1, 1)
    found = everyone(stack, "news")
    assert found["gone@example.com"].status is S.UNSUBSCRIBED
    assert found["new@example.com"].status is S.SUBSCRIBED
    import_text(stack, "email,status\ngone@example.com,Subscribed\n", force=True)
    assert everyone(stack, "news")["gone@example.com"].status is S.SUBSCRIBED


def test_an_opt_out_wins_over_other_rows_for_the_address_in_either_order(
    stack: MemoryStack,
) -> None:
    far = "".join(f"f{i}@example.com,\n" for i in range(150))  # the next row in another chunk
    text = (
        "email,status\na@example.com,unsubscribed\na@example.com,subscribed\n"
        "b@example.com,\nb@example.com,complained\nc@example.com,\n"
        + far
        + "c@example.com,bounced\n"
    )
    job = import_text(stack, text)
    found = everyone(stack, "news")
    assert [found[f"{x}@example.com"].status for x in "abc"] == [
        S.UNSUBSCRIBED,
        S.COMPLAINED,
        S.BOUNCED,
    ]
    assert job.counts.merged == 3 and job.counts.rows == job.counts.accounted


@pytest.mark.parametrize("force", [False, True])
def test_a_later_row_in_another_chunk_does_not_undo_the_files_opt_out(
    stack: MemoryStack, force: bool
) -> None:
    """Across chunks the later row merges into what this import wrote: even forced, a
    'subscribed' there does not re-subscribe an address the same file opted out."""
    far = "".join(f"f{i}@example.com,\n" for i in range(150))
    text = "email,status\nx1@example.com,unsubscribed\n" + far + "x1@example.com,subscribed\n"
    job = import_text(stack, text, force=force)
    found = everyone(stack, "news")["x1@example.com"]
    assert found.status is S.UNSUBSCRIBED, [(h.status, h.how) for h in found.history]
    assert [h.status for h in found.history] == [S.UNSUBSCRIBED]
    assert job.counts.unsubscribed == 1 and job.counts.rows == job.counts.accounted


@pytest.mark.parametrize("header", ["Status", "STATUS", " status "])
def test_a_status_column_in_any_case_is_the_status(stack: MemoryStack, header: str) -> None:
    """A `Status` read as an attribute would lose its opt-outs without a word."""
    job = import_text(stack, f"email,{header}\nk1@example.com,unsubscribed\n")
    found = everyone(stack, "news")["k1@example.com"]
    assert (found.status, found.attributes) == (S.UNSUBSCRIBED, {}), job
    text = '{"email": "k2@example.com", "STATUS": "bounced"}\n'
    import_text(stack, text, fmt="jsonl")
    assert everyone(stack, "news")["k2@example.com"].status is S.BOUNCED


@pytest.mark.parametrize("value", ["active", "unsubscribe", "yes", "pending"])
def test_any_other_status_rejects_the_row_naming_line_column_and_values(
    stack: MemoryStack, value: str
) -> None:
    job = import_text(stack, f"email,status\nok@example.com,subscribed\nbad@example.com,{value}\n")
    assert (job.counts.created, job.counts.rejected) == (1, 1)
    [rejected], _ = stack.app.imports.rejects(job.import_id, 0, 10)
    assert (rejected.line, rejected.email) == (3, "bad@example.com")
    assert f"column 'status': {value!r} is not one of" in rejected.reason
    assert "subscribed, unsubscribed, bounced, complained" in rejected.reason
    assert "--column status=ATTRIBUTE" in rejected.reason
    assert "bad@example.com" not in everyone(stack, "news")


def test_json_lines_status_is_read_the_same_way(stack: MemoryStack) -> None:
    text = '{"email": "j@example.com", "status": "unsubscribed", "plan": "pro"}\n'
    import_text(stack, text, fmt="jsonl")
    found = everyone(stack, "news")["j@example.com"]
    assert (found.status, found.attributes) == (S.UNSUBSCRIBED, {"plan": "pro"})


def test_a_status_column_of_the_files_own_can_be_mapped_or_skipped(stack: MemoryStack) -> None:
    text = "email,status\nm@example.com,gold\n"
    job = import_text(stack, text, columns=(("status", "member_status"),))
    found = everyone(stack, "news")["m@example.com"]
    assert job.counts.created == 1
    assert (found.status, found.attributes) == (S.SUBSCRIBED, {"member_status": "gold"})
    skipped = import_text(stack, "email,status\ns@example.com,gold\n", columns=(("status", ""),))
    assert skipped.counts.created == 1
    assert everyone(stack, "news")["s@example.com"].attributes == {}


def test_an_import_never_stores_status_as_an_attribute(stack: MemoryStack) -> None:
    with pytest.raises(InvalidInput, match="'State' cannot fill 'status'"):
        ImportOptions(columns=(("State", "status"),))
    job = import_text(stack, "email,status,plan\na@example.com,unsubscribed,pro\n")
    assert job.counts.unsubscribed == 1
    assert everyone(stack, "news")["a@example.com"].attributes == {"plan": "pro"}


def test_an_attribute_named_status_is_not_exported_as_a_second_status_column(
    stack: MemoryStack,
) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many(  # what an import before this fix stored, or the API
        [Subscriber("news", "old@example.com", S.UNSUBSCRIBED, {"status": "subscribed", "a": "1"})]
    )
    text = exported(stack, "news")
    assert text.splitlines() == ["email,status,a", "old@example.com,unsubscribed,1"]
    job = import_text(stack, text, list_id="copy")
    assert job.counts.rejected == 0
    assert everyone(stack, "copy")["old@example.com"].status is S.UNSUBSCRIBED


def test_the_api_reads_the_status_column_and_refuses_a_mapping_onto_it(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    text = b"email,status,plan\na@example.com,complained,pro\nb@example.com,gold,x\n"
    status, job = send_file(stack, text)
    assert status == 202
    done = finished(stack, job["import_id"])
    assert done["counts"]["unsubscribed"] == 1 and done["counts"]["rejected"] == 1
    assert "column 'status': 'gold'" in done["rejected_examples"][0]["reason"]
    found = everyone(stack, "news")["a@example.com"]
    assert (found.status, found.attributes) == (S.COMPLAINED, {"plan": "pro"})
    mapped = send_file(stack, text, columns='{"status": "member_status"}')
    assert mapped[0] == 202
    assert finished(stack, mapped[1]["import_id"])["counts"]["rejected"] == 0
    assert everyone(stack, "news")["b@example.com"].attributes == {
        "member_status": "gold",
        "plan": "x",
    }
    assert is_error(
        *send_file(stack, text, columns='{"plan": "status"}'), 400, "cannot fill 'status'"
    )
