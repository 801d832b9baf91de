"""Topics as columns: `topic:ID` on import (yes/no, 1/0, true/false, in/out; a bad value is a
rejected row naming its line and column; a topic the list lacks refuses the file) and on
export (what an import reads back); each change in the consent history as an import's."""

from __future__ import annotations

import csv
import io

import pytest

from fanmail.domain.import_jobs import ImportStatus
from fanmail.services.lists import CreateList
from fanmail.services.topics import TopicChange
from fanmail_local.harness import MemoryStack
from tests.conftest import import_text


@pytest.fixture
def news(stack: MemoryStack) -> MemoryStack:
    stack.app.lists.create(CreateList("news"))
    stack.app.topics.create("news", "weekly-digest", TopicChange("Weekly digest"))
    stack.app.topics.create("news", "product-news", TopicChange(default="out"))
    return stack


def where(stack: MemoryStack, email: str) -> dict[str, bool]:
    found = stack.app.lists.subscriber("news", email)
    return {t.slug: t.is_in(found.topics) for t in stack.app.topics.all("news")}


def test_topic_columns_set_choices_and_bad_values_are_rejected_by_line_and_column(
    news: MemoryStack,
) -> None:
    job = import_text(
        news,
        "email,first_name,topic:weekly-digest,topic:product-news\n"
        "a@example.com,A,no,YES\n"
        "b@example.com,B,1,\n"
        "c@example.com,C,maybe,true\n"
        "d@example.com,D,False,In\n",
    )
    assert job.status is ImportStatus.DONE
    assert (job.counts.created, job.counts.rejected) == (3, 1)
    assert where(news, "a@example.com") == {"weekly-digest": False, "product-news": True}
    assert where(news, "b@example.com") == {"weekly-digest": True, "product-news": False}
    assert where(news, "d@example.com") == {"weekly-digest": False, "product-news": True}
    rejected, _ = news.app.imports.rejects(job.import_id, 0, 10)
    assert [(r.line, r.email) for r in rejected] == [(4, "c@example.com")]
    assert "column 'topic:weekly-digest'" in rejected[0].reason
    assert "'maybe' is not yes/no" in rejected[0].reason
    history = news.app.lists.subscriber("news", "a@example.com").history
    assert [(c.how, c.topic, c.topic_in) for c in history if c.topic] == [
        ("import", "weekly-digest", False),
        ("import", "product-news", True),
    ]
    assert news.app.lists.subscriber("news", "a@example.com").attributes == {"first_name": "A"}


def test_a_topic_the_list_does_not_have_refuses_the_file(news: MemoryStack) -> None:
    job = import_text(news, "email,topic:nope\na@example.com,yes\n")
    assert job.status is ImportStatus.FAILED
    assert (
        job.error is not None and "column 'topic:nope': the list has no topic 'nope'" in job.error
    )
    assert "weekly-digest, product-news" in job.error


def test_a_later_import_without_the_column_keeps_the_choice(news: MemoryStack) -> None:
    import_text(news, "email,topic:weekly-digest\na@example.com,no\n")
    import_text(news, "email,city\na@example.com,Oslo\n")
    assert where(news, "a@example.com")["weekly-digest"] is False


def test_export_writes_a_column_per_topic_that_an_import_reads_back(news: MemoryStack) -> None:
    import_text(news, "email,topic:weekly-digest\na@example.com,no\nb@example.com,\n")
    out = io.StringIO()
    assert news.app.imports.export("news", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["email"], r["topic:weekly-digest"], r["topic:product-news"]) for r in rows] == [
        ("a@example.com", "no", "no"),
        ("b@example.com", "yes", "no"),
    ]
    news.app.lists.create(CreateList("copy"))
    news.app.topics.create("copy", "weekly-digest", TopicChange())
    news.app.topics.create("copy", "product-news", TopicChange(default="out"))
    job = import_text(news, out.getvalue(), list_id="copy")
    assert job.counts.created == 2 and job.counts.rejected == 0
    found = news.app.lists.subscriber("copy", "a@example.com")
    assert [t.is_in(found.topics) for t in news.app.topics.all("copy")] == [False, False]
