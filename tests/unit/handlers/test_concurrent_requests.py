"""Local mode answers HTTP requests concurrently in one process, while powertools keeps the
request it is answering on its router *class* (one per process, as a Lambda environment runs one
invocation at a time): each request must still be answered from its own headers and body. A
browser's sign-up form got the JSON answer meant for the dashboard's fetches that ran beside it
(and `make demo` waited for a page that never came)."""

from __future__ import annotations

import json
import threading
from urllib.parse import urlencode

from fanmail.domain.model import ListSettings, OptIn
from fanmail.services.lists import CreateList
from fanmail_local.apigateway import api_event
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack

ROUNDS = 500


def form_post(email: str) -> dict[str, object]:
    event = api_event("POST", "/subscribe", body=urlencode({"list_id": "news", "email": email}))
    event["headers"] = {
        "content-type": "application/x-www-form-urlencoded",
        "accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    }
    return event


def test_concurrent_requests_each_get_their_own_answer(stack: MemoryStack) -> None:
    settings = ListSettings(
        brand="News", sender=SENDER_ADDRESS, opt_in=OptIn.SINGLE, public_signup=True
    )
    stack.app.lists.create(CreateList("news", "News", settings))
    pages: list[str] = []
    documents: list[str] = []
    errors: list[BaseException] = []

    def sign_ups() -> None:
        try:
            for n in range(ROUNDS):
                answer = stack.invoker.invoke("public", form_post(f"reader{n}@example.com"))
                pages.append(str(answer["multiValueHeaders"]["Content-Type"][0]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def dashboard() -> None:
        try:
            for _ in range(ROUNDS):
                answer = stack.invoker.invoke("api", api_event("GET", "/lists"))
                documents.append(str(answer["multiValueHeaders"]["Content-Type"][0]))
                assert "news" in json.loads(str(answer["body"]))["lists"][0]["list_id"]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sign_ups)]
    threads += [threading.Thread(target=dashboard) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(pages) == ROUNDS and all(p.startswith("text/html") for p in pages), pages
    assert all(d.startswith("application/json") for d in documents)
