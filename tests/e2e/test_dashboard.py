"""The dashboard in a real browser (Debian's chromium, headless, driven by Selenium) against
`fanmail serve`'s gateway on the embedded stand-in: load it, send a campaign and watch its bar
reach 100 %, pause and resume another, send a test, open an email from the outbox."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fanmail.domain.model import ListSettings
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e
DRIVER = "/usr/bin/chromedriver"  # Debian's chromium-driver, matching its chromium (make installs)


def chrome() -> WebDriver:
    assert shutil.which("chromium") and Path(DRIVER).exists(), "apt-get install chromium-driver"
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(DRIVER))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, str]]:
    settings = Settings(templates_dir=default_templates_dir(), progress_interval_s=0.3)
    outbox = tmp_path_factory.mktemp("outbox")
    with LocalRuntime(
        settings, sender_identity=SENDER_ADDRESS, max_send_rate=25.0, outbox=outbox
    ) as runtime:
        app = runtime.app
        brand = ListSettings(brand="Fanmail", postal_address="1 Main St, Springfield")
        app.lists.create(CreateList("news", "Fanmail News", brand))
        app.imports.load(generate_subscribers("news", 200, seed=5))
        for campaign_id in ("first", "second"):
            app.campaigns.create(
                CreateCampaign("news", "newsletter", SENDER_ADDRESS, campaign_id=campaign_id)
            )
        console = Console(ConsoleConfig(mode="local"), runtime.recorder)
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", 0, console)
        gateway.start()
        try:
            yield runtime, gateway.url
        finally:
            gateway.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = chrome()
    yield driver
    driver.quit()


def wait(browser: WebDriver, timeout: float = 60.0) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, timeout, poll_frequency=0.2)


def text(browser: WebDriver, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def confirm(browser: WebDriver, button: str) -> None:
    wait(browser, 10).until(lambda b: b.find_element(By.ID, button).is_enabled())
    browser.find_element(By.ID, button).click()
    wait(browser, 5).until(lambda b: b.find_element(By.ID, "confirm").is_displayed())
    browser.find_element(By.ID, "confirm-yes").click()


def percent(browser: WebDriver) -> int:
    return int(browser.find_element(By.ID, "progress").get_attribute("aria-valuenow") or 0)


def test_load_send_and_watch_the_bar_reach_100(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    _, url = served
    browser.get(url + "/")
    wait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#campaigns tr[data-id]"))
    # the lists arrive by their own request: either may be drawn first
    wait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#lists tr[data-id=news]"))
    lists = browser.find_element(By.CSS_SELECTOR, "#lists tr[data-id=news]").text
    assert "Fanmail News" in lists and "unsubscribed" in lists
    browser.find_element(By.CSS_SELECTOR, "#campaigns tr[data-id=first]").click()
    wait(browser, 10).until(lambda b: text(b, "campaign-title") == "first")
    assert text(browser, "status") == "draft" and percent(browser) == 0

    confirm(browser, "send")
    wait(browser, 10).until(lambda b: 0 < percent(b) < 100)  # moving, not jumping at the end
    assert "sends/s of MaxSendRate 25" in text(browser, "rate")
    wait(browser).until(lambda b: text(b, "status") == "sent" and percent(b) == 100)
    figures = browser.execute_script(  # read at once: the live view redraws them meanwhile
        "return Object.fromEntries([...document.querySelectorAll('#figures .figure')]"
        ".map((f) => [f.dataset.name, f.querySelector('strong').textContent]))"
    )
    assert int(figures["sent"]) > 0 and "delivered" in figures and "bounce rate" in figures
    assert browser.find_elements(By.CSS_SELECTOR, "#chart svg rect.bar")
    logged = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert not [e for e in logged if e["level"] == "SEVERE"]


def test_pause_and_resume(served: tuple[LocalRuntime, str], browser: WebDriver) -> None:
    runtime, url = served
    browser.get(url + "/?campaign=second")
    wait(browser, 10).until(lambda b: text(b, "campaign-title") == "second")
    confirm(browser, "send")
    wait(browser, 20).until(lambda b: text(b, "status") == "sending")
    confirm(browser, "pause")
    wait(browser).until(lambda b: text(b, "status").startswith("paused"))
    runtime.invoker.drain()  # the run notices, checkpoints and stops
    paused_at = percent(browser)
    assert paused_at < 100
    confirm(browser, "resume")
    # the bar moves on from where the pause left it while the resumed run sends (it stayed on
    # the paused run's summary until the end), and the rate is the resumed run's
    wait(browser, 20).until(
        lambda b: text(b, "status") == "sending" and paused_at < percent(b) < 100
    )
    wait(browser, 10).until(lambda b: "at 0.0 sends/s" not in text(b, "rate"))
    wait(browser).until(lambda b: text(b, "status") == "sent" and percent(b) == 100)


def test_test_send_and_open_an_email(served: tuple[LocalRuntime, str], browser: WebDriver) -> None:
    _, url = served
    browser.get(url + "/?campaign=first")
    wait(browser, 10).until(lambda b: text(b, "campaign-title") == "first")
    browser.find_element(By.ID, "test").click()
    browser.find_element(By.ID, "test-to").send_keys("proof@example.com")
    browser.find_element(By.ID, "test-yes").click()
    wait(browser, 10).until(lambda b: "Test sent to proof@example.com" in text(b, "notice"))

    newest = "#outbox tr[data-name]"
    wait(browser, 10).until(
        lambda b: "proof@example.com" in b.find_element(By.CSS_SELECTOR, newest).text
    )
    browser.find_element(By.CSS_SELECTOR, newest).click()
    wait(browser, 10).until(lambda b: text(b, "email-title") == "Sent to proof@example.com")
    frame = browser.find_element(By.ID, "email-html")
    assert frame.get_attribute("sandbox") == ""  # no scripts in a shown email
    browser.switch_to.frame(frame)
    body = browser.find_element(By.TAG_NAME, "body").text
    browser.switch_to.default_content()
    assert "Unsubscribe" in body and "1 Main St, Springfield" in body
    browser.find_element(By.CSS_SELECTOR, "[data-tab=headers]").click()
    headers = text(browser, "email-headers")
    assert "List-Unsubscribe-Post List-Unsubscribe=One-Click" in headers
    assert "Subject [TEST] " in headers and "=?utf-8?" not in headers


def test_the_campaign_form_estimates_a_segment_and_creates_with_it(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    runtime, url = served
    browser.get(url)
    wait(browser, 10).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#create-form select[name=list_id] option")
    )
    browser.find_element(By.CSS_SELECTOR, "#new-campaign summary").click()
    form = browser.find_element(By.ID, "create-form")
    form.find_element(By.NAME, "segment").send_keys("city exists")
    browser.find_element(By.ID, "estimate").click()
    wait(browser, 20).until(lambda b: "would get it" in text(b, "segment-size"))
    every = sum(1 for s in runtime.ports.subscribers.page("news", None, 1000).subscribers)
    assert f"of {every:,} would get it" in text(browser, "segment-size")
    form.find_element(By.NAME, "sender").send_keys(SENDER_ADDRESS)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, 20).until(lambda b: text(b, "campaign-title").startswith("cmp-"))
    created = runtime.app.campaigns.get(text(browser, "campaign-title"))
    assert created.segment is not None
    assert created.segment.segment().render() == "city exists"
