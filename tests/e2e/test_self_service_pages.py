"""The preference page in a real browser (headless chromium, Selenium) against the local
gateway: the tracking toggle, "email me my data" (it arrives in the outbox, never on the page)
and "delete my data" through the link mailed to the address."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from fanmail.domain.erasure import ERASURE_STEPS
from fanmail.domain.model import ListSettings, Subscriber
from fanmail.domain.tracking import declines_tracking
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime
from tests.conftest import finished
from tests.e2e.test_dashboard import axe_violations, wait, walking

pytestmark = pytest.mark.e2e
ADA = "ada@example.com"
GRACE = "grace@example.com"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, str, Path]]:
    outbox = tmp_path_factory.mktemp("outbox")
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(
        settings, sender_identity=SENDER_ADDRESS, max_send_rate=25.0, outbox=outbox
    ) as runtime:
        brand = ListSettings(brand="Fanmail", sender=SENDER_ADDRESS, postal_address="1 Main St")
        runtime.app.lists.create(CreateList("news", "Fanmail News", brand))
        runtime.ports.subscribers.put_many(
            [
                Subscriber("news", ADA, attributes={"name": "Ada"}),
                Subscriber("news", GRACE, attributes={"name": "Grace"}),
            ]
        )
        console = Console(ConsoleConfig(mode="local"), runtime.recorder)
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", 0, console)
        gateway.start()
        try:
            yield runtime, gateway.url, outbox
        finally:
            gateway.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = walking.chrome()
    yield driver
    driver.quit()


def mails(outbox: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(outbox.glob("*.eml"))
    ]


def body_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def press(browser: WebDriver, label: str) -> None:
    browser.find_element(By.XPATH, f"//button[normalize-space()='{label}']").click()


def test_tracking_toggle_my_data_mailed_and_deleted(
    served: tuple[LocalRuntime, str, Path], browser: WebDriver
) -> None:
    runtime, url, outbox = served
    link = runtime.app.signer.token("news", ADA, runtime.ports.clock.now())
    browser.get(f"{url}/p/{link}")
    assert axe_violations(browser) == []
    box = browser.find_element(By.ID, "tracking")
    assert box.is_selected()
    box.click()
    press(browser, "Save")
    wait(browser, 10).until(lambda b: "Saved." in b.page_source)
    found = runtime.ports.subscribers.get("news", ADA)
    assert found is not None and declines_tracking(found.attributes)
    assert not browser.find_element(By.ID, "tracking").is_selected()

    press(browser, "Email me my data")
    wait(browser, 10).until(lambda b: "Check your mailbox" in b.page_source)
    assert axe_violations(browser) == []
    assert "name=Ada" not in browser.page_source
    [export] = mails(outbox)
    assert "name=Ada" in body_of(export) and export["To"] == ADA

    browser.get(f"{url}/p/{link}")
    press(browser, "Delete my data")
    wait(browser, 10).until(lambda b: "Check your mailbox" in b.page_source)
    assert runtime.ports.subscribers.get("news", ADA) is not None
    confirmation = mails(outbox)[-1]
    found_link = re.search(r"/e/(\S+)", body_of(confirmation))
    assert found_link is not None
    browser.get(f"{url}/e/{found_link.group(1)}")
    assert ADA in browser.page_source and axe_violations(browser) == []
    press(browser, "Delete my data")
    wait(browser, 10).until(lambda b: "Receipt" in b.page_source)
    assert axe_violations(browser) == []
    receipt = re.search(r"Receipt ([0-9a-f]{32})", browser.page_source)
    assert receipt is not None
    job = finished(runtime.app, runtime.app.erasures.job(receipt.group(1)))
    assert job.removed["memberships"] == 1 and job.requested_by.startswith("the subscriber")
    assert runtime.ports.subscribers.lists_of(ADA) == []


def test_the_dashboard_shows_a_person_and_erases_only_when_the_address_is_typed(
    served: tuple[LocalRuntime, str, Path], browser: WebDriver
) -> None:
    runtime, url, _ = served
    browser.get(url)
    browser.find_element(By.CSS_SELECTOR, 'nav a[data-view="people"]').click()
    browser.find_element(By.ID, "person-email").send_keys(GRACE.upper())
    press(browser, "Look up")
    wait(browser, 20).until(lambda b: "name" in b.find_element(By.ID, "person-data").text)
    assert "list news: subscribed" in browser.find_element(By.ID, "person-data").text
    assert axe_violations(browser) == []
    browser.find_element(By.ID, "erase-typed").send_keys("someone@example.com")
    press(browser, "Erase")
    wait(browser, 10).until(
        lambda b: "nothing was erased" in b.find_element(By.ID, "people-notice").text
    )
    assert runtime.ports.subscribers.get("news", GRACE) is not None
    typed = browser.find_element(By.ID, "erase-typed")
    typed.clear()
    typed.send_keys(GRACE)
    press(browser, "Erase")
    wait(browser, 20).until(lambda b: "Erased" in b.find_element(By.ID, "people-notice").text)
    assert runtime.ports.subscribers.lists_of(GRACE) == []
    status = browser.find_element(By.ID, "erasure-status").text
    assert status.startswith("Done") and "1 memberships" in status
    steps = browser.find_element(By.ID, "erasure-steps").text
    assert steps.count("done") == len(ERASURE_STEPS) and "ledger records" in steps
    erasure_id = browser.find_element(By.ID, "erasure-id").text
    wait(browser, 10).until(lambda b: erasure_id in b.find_element(By.ID, "erasures").text)
    assert axe_violations(browser) == []  # the job's steps, its receipt and the receipts
