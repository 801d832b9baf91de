"""Screenshots of what people see, for `make demo`: every state of the dashboard's walk
(scripts/dashboard_walk.py: a list created, an import mapped and done, a subscriber, the
template editor, a campaign drafted, scheduled, paused by a breaker, sent, who bounced, an email
from the outbox) at 1280 px and on a 390 px phone, a run in phases (a local-time A/B test with
quiet hours: its timeline and decision), and the subscriber's pages (sign-up form,
confirmation, preferences, unsubscribe), in headless chromium driven by Selenium.

Runs its own embedded stand-in (like `fanmail serve`) with a list set up for double opt-in.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import time
from pathlib import Path

from dashboard_walk import SENDER, ScreenNotReached, Walk, chrome, until, viewport
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from fanmail.domain.model import ListSettings, OptIn
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.cli.common import quiet_functions
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.phased_example import phased_campaign
from fanmail_local.runtime import LocalRuntime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
        templates_dir=default_templates_dir(),
        public_url=base,
        progress_interval_s=0.3,
        breaker_min_sample=20,  # the walk's list is small: its bounces trip the breaker
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
            public_signup=True,  # the walk shows its sign-up form
        )
        app.lists.create(CreateList("news", "Fanmail News", list_settings))
        app.lists.create(CreateList("offers", "Fanmail Offers", list_settings))
        subscribers = generate_subscribers("news", args.subscribers, seed=11)
        app.imports.load(subscribers)
        app.imports.load(generate_subscribers("offers", 50, seed=11))
        app.campaigns.create(CreateCampaign("news", "newsletter", SENDER, campaign_id="november"))
        runtime.ports.campaigns.create(phased_campaign("news", "december"))
        console = Console(ConsoleConfig(mode="local"), runtime.recorder)
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", port, console)
        gateway.start()
        browser = chrome()
        try:
            shots = dashboard(browser, base, out) + phases(browser, base, out)
            shots += subscriber_pages(runtime, base, out)
        except ScreenNotReached as exc:
            print(f"screenshots: {exc}", file=sys.stderr)
            return 1
        finally:
            browser.quit()
            gateway.stop()
    print(f"wrote {len(shots)} screenshots to {out}/: {', '.join(shots)}", file=sys.stderr)
    return 0


def dashboard(browser: WebDriver, base: str, out: Path) -> list[str]:
    """The dashboard walked at 1280 px and on a 390 px phone: a screenshot of every state."""
    shots: list[str] = []
    for label, (width, height) in {"wide": (1280, 900), "phone": (390, 844)}.items():
        viewport(browser, width, height)

        def look(state: str, label: str = label) -> None:
            name = f"dashboard-{label}-{state}.png"
            painted(browser)
            browser.save_screenshot(str(out / name))
            shots.append(name)

        Walk(browser, base, label, look, out.parent).walk()
    return shots


def painted(browser: WebDriver) -> None:
    """What the walk did is on screen: every email shown has loaded in its frame, no transition
    runs (the progress bar glides to its width), the fonts are loaded, then two animation
    frames (the second comes after the first's paint). Waits on the page, not a fixed time."""
    until(
        browser,
        lambda b: b.execute_script(
            "return [...document.querySelectorAll('iframe[srcdoc]')]"
            ".every((f) => f.dataset.loaded)"
            " && document.getAnimations().every((a) => a.playState !== 'running')"
        ),
        "the emails shown to load and the page's transitions to end",
    )
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(done)));"
    )


def phases(browser: WebDriver, base: str, out: Path) -> list[str]:
    """The timeline of a run in phases and its A/B decision, wide and on a phone."""
    shots = []
    for label, (width, height) in {"wide": (1280, 900), "phone": (390, 844)}.items():
        viewport(browser, width, height)
        browser.get(f"{base}/?campaign=december")
        until(browser, lambda b: b.find_element(By.ID, "phases").is_displayed(), "the phases")
        painted(browser)
        name = f"dashboard-{label}-phases.png"
        browser.find_element(By.ID, "phases").screenshot(str(out / name))
        shots.append(name)
    return shots


def subscriber_pages(runtime: LocalRuntime, base: str, out: Path) -> list[str]:
    recorder = runtime.recorder
    assert recorder is not None
    phone = chrome()
    viewport(phone, 390, 844)  # what most people open these pages on
    try:
        phone.get(f"{base}/subscribe/news")
        until(phone, lambda b: b.find_element(By.NAME, "email").is_enabled(), "the sign-up form")
        painted(phone)
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
        painted(phone)
        phone.save_screenshot(str(out / "subscribe-sent.png"))
        confirm_url = link_in_mail(runtime, "new.reader@example.com", r"/c/[\w.-]+")
        phone.get(confirm_url)
        painted(phone)
        phone.save_screenshot(str(out / "confirm.png"))
        phone.find_element(By.CSS_SELECTOR, "form button").click()
        until(
            phone,
            lambda b: b.find_element(By.TAG_NAME, "h1").text == "You are subscribed",
            "the confirmation's answer page",
        )
        painted(phone)
        phone.save_screenshot(str(out / "confirmed.png"))
        sent_to = next(to for _, to, _ in recorder.listing() if to.endswith("@example.com"))
        unsubscribe_url = link_in_mail(runtime, sent_to, r"/u/[\w.-]+")
        phone.get(unsubscribe_url.replace("/u/", "/p/"))
        painted(phone)
        phone.save_screenshot(str(out / "preferences.png"))
        phone.get(unsubscribe_url)
        painted(phone)
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
    deadline = time.monotonic() + 60  # the mail is sent in the background: a loaded machine
    while time.monotonic() < deadline:
        names = [name for name, address, _ in recorder.listing() if address == to]
        raw = recorder.message(names[-1]) if names else None
        found = re.search(r"https?://[^\s\"'<>]+" + pattern, raw.decode()) if raw else None
        if found:
            return found.group(0)
        time.sleep(0.1)
    raise SystemExit(f"no mail to {to} with a link like {pattern}")


if __name__ == "__main__":
    sys.exit(main())
