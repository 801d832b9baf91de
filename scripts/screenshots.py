"""Screenshots of what people see, for `make demo`: the dashboard while a campaign sends and when
it has finished, an email opened from the outbox, and the subscriber's pages (sign-up form,
confirmation, preferences, unsubscribe), in headless chromium driven by Selenium.

Runs its own embedded stand-in (like `fanmail serve`) with a list set up for double opt-in.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fanmail.domain.model import ListSettings, OptIn
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.cli.common import quiet_functions
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime

SENDER = "Fanmail News <news@fanmail.example>"
DRIVER = "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chrome(width: int, height: int) -> WebDriver:
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(DRIVER))


class ScreenNotReached(Exception):
    """A page never showed what a screenshot needs: said in one line, with what it showed."""


def until(
    browser: WebDriver, check: Callable[[WebDriver], object], what: str, timeout: float = 120
) -> None:
    """Wait for `check`. An element missing, or gone while it was read (the page navigated
    between finding and reading it: a stale element, or Chrome's "Node with given id does not
    belong to the document"), is asked again; the timeout (generous: a loaded machine) ends a
    wait that never holds with what the page showed instead of a traceback."""
    wait = WebDriverWait(
        browser, timeout, poll_frequency=0.2, ignored_exceptions=(WebDriverException,)
    )
    try:
        wait.until(check)
    except TimeoutException:
        try:
            shown = " ".join(browser.find_element(By.TAG_NAME, "body").text.split())[:300]
        except WebDriverException:
            shown = "(nothing readable)"
        raise ScreenNotReached(
            f"waited {timeout:.0f} s for {what} at {browser.current_url}; "
            f"the page showed: {shown!r}"
        ) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-out/screens"))
    parser.add_argument("--subscribers", type=int, default=400)
    parser.add_argument("--rate", type=float, default=25.0, help="local SES MaxSendRate")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    quiet_functions()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        templates_dir=default_templates_dir(), public_url=base, progress_interval_s=0.3
    )
    with LocalRuntime(
        settings,
        sender_identity="news@fanmail.example",
        max_send_rate=args.rate,
        outbox=out.parent / "screens-outbox",
    ) as runtime:
        app = runtime.app
        list_settings = ListSettings(
            brand="Fanmail News",
            sender=SENDER,
            postal_address="1 Main Street, Springfield 12345",
            opt_in=OptIn.DOUBLE,
        )
        app.lists.create(CreateList("news", "Fanmail News", list_settings))
        app.lists.create(CreateList("offers", "Fanmail Offers", list_settings))
        subscribers = generate_subscribers("news", args.subscribers, seed=11)
        app.imports.load(subscribers)
        app.imports.load(generate_subscribers("offers", 50, seed=11))
        app.campaigns.create(CreateCampaign("news", "newsletter", SENDER, campaign_id="november"))
        console = Console(ConsoleConfig(mode="local"), runtime.recorder)
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", port, console)
        gateway.start()
        browser = chrome(1400, 1000)
        try:
            shots = dashboard(browser, base, out) + subscriber_pages(runtime, base, out)
        except ScreenNotReached as exc:
            print(f"screenshots: {exc}", file=sys.stderr)
            return 1
        finally:
            browser.quit()
            gateway.stop()
    print(f"wrote {len(shots)} screenshots to {out}/: {', '.join(shots)}", file=sys.stderr)
    return 0


def dashboard(browser: WebDriver, base: str, out: Path) -> list[str]:
    def percent(b: WebDriver) -> int:
        return int(b.find_element(By.ID, "progress").get_attribute("aria-valuenow") or 0)

    browser.get(f"{base}/?campaign=november")
    until(
        browser,
        lambda b: b.find_element(By.ID, "campaign-title").text == "november",
        "the campaign",
    )
    browser.find_element(By.ID, "send").click()
    browser.find_element(By.ID, "confirm-yes").click()
    until(browser, lambda b: percent(b) >= 40, "the bar at 40 %")
    time.sleep(0.5)
    browser.save_screenshot(str(out / "dashboard-sending.png"))
    until(
        browser,
        lambda b: b.find_element(By.ID, "status").text == "sent" and percent(b) == 100,
        "the campaign sent",
    )
    time.sleep(2.5)  # the feedback figures settle
    browser.save_screenshot(str(out / "dashboard-finished.png"))
    browser.find_element(By.CSS_SELECTOR, "#outbox tr[data-name]").click()
    until(
        browser,
        lambda b: b.find_element(By.ID, "email-title").text.startswith("Sent to"),
        "the email opened",
    )
    browser.find_element(By.CSS_SELECTOR, "[data-tab=headers]").click()
    browser.execute_script("document.getElementById('email').scrollIntoView()")
    browser.save_screenshot(str(out / "dashboard-email-headers.png"))
    browser.find_element(By.CSS_SELECTOR, "[data-tab=html]").click()
    browser.save_screenshot(str(out / "dashboard-email.png"))
    return [
        "dashboard-sending.png",
        "dashboard-finished.png",
        "dashboard-email.png",
        "dashboard-email-headers.png",
    ]


def subscriber_pages(runtime: LocalRuntime, base: str, out: Path) -> list[str]:
    recorder = runtime.recorder
    assert recorder is not None
    phone = chrome(390, 844)  # what most people open these pages on
    try:
        phone.get(f"{base}/subscribe/news")
        until(phone, lambda b: b.find_element(By.NAME, "email").is_enabled(), "the sign-up form")
        phone.save_screenshot(str(out / "subscribe.png"))
        field = phone.find_element(By.NAME, "email")
        field.send_keys("new.reader@example.com")
        # a required field still empty when the button is pressed keeps the form where it is
        until(
            phone,
            lambda b: field.get_attribute("value") == "new.reader@example.com",
            "the address typed in",
        )
        phone.find_element(By.CSS_SELECTOR, "form button").click()
        until(
            phone,
            lambda b: b.find_element(By.TAG_NAME, "h1").text not in ("", "Subscribe"),
            "the sign-up's answer page",
        )
        phone.save_screenshot(str(out / "subscribe-sent.png"))
        confirm_url = link_in_mail(runtime, "new.reader@example.com", r"/c/[\w.-]+")
        phone.get(confirm_url)
        phone.save_screenshot(str(out / "confirm.png"))
        phone.find_element(By.CSS_SELECTOR, "form button").click()
        until(
            phone,
            lambda b: b.find_element(By.TAG_NAME, "h1").text == "You are subscribed",
            "the confirmation's answer page",
        )
        phone.save_screenshot(str(out / "confirmed.png"))
        sent_to = next(to for _, to, _ in recorder.listing() if to.endswith("@example.com"))
        unsubscribe_url = link_in_mail(runtime, sent_to, r"/u/[\w.-]+")
        phone.get(unsubscribe_url.replace("/u/", "/p/"))
        phone.save_screenshot(str(out / "preferences.png"))
        phone.get(unsubscribe_url)
        phone.save_screenshot(str(out / "unsubscribe.png"))
    finally:
        phone.quit()
    return [
        "subscribe.png",
        "subscribe-sent.png",
        "confirm.png",
        "confirmed.png",
        "preferences.png",
        "unsubscribe.png",
    ]


def link_in_mail(runtime: LocalRuntime, to: str, pattern: str) -> str:
    """The first link matching `pattern` in the newest mail to `to` in the outbox."""
    recorder = runtime.recorder
    assert recorder is not None
    for _ in range(300):  # up to 30 s
        names = [name for name, address, _ in recorder.listing() if address == to]
        raw = recorder.message(names[-1]) if names else None
        found = re.search(r"https?://[^\s\"'<>]+" + pattern, raw.decode()) if raw else None
        if found:
            return found.group(0)
        time.sleep(0.1)
    raise SystemExit(f"no mail to {to} with a link like {pattern}")


if __name__ == "__main__":
    sys.exit(main())
