"""A page on another origin attacks `fanmail serve` in a real browser (Debian's chromium,
Selenium), as in #18 items 1-3: cross-site posts and fetches to the console, a rebound name
(DNS rebinding, emulated with chromium's host resolver rules), and cross-origin requests to the
stand-in's moto endpoint. Every one is refused and nothing changes; the console's own page
still works in the same browser."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.model import ListSettings, SubscriberStatus
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime
from tests.e2e.test_dashboard import DRIVER

pytestmark = pytest.mark.e2e
REBOUND = "rebind.test"

ATTACK = (Path(__file__).parent / "cross_origin_attack.html").read_text()
"""The page: its script tries each attack and leaves what it could do in `window.attack`."""


def chrome() -> WebDriver:
    assert shutil.which("chromium") and Path(DRIVER).exists(), "apt-get install chromium-driver"
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(DRIVER))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, str]]:
    settings = Settings(templates_dir=default_templates_dir(), progress_interval_s=0.3)
    outbox = tmp_path_factory.mktemp("outbox")
    with LocalRuntime(
        settings, sender_identity=SENDER_ADDRESS, max_send_rate=25.0, outbox=outbox
    ) as runtime:
        app = runtime.app
        app.lists.create(CreateList("news", "News", ListSettings(postal_address="1 Main St")))
        app.imports.load(generate_subscribers("news", 20, seed=3))
        for campaign_id in ("first", "second"):
            app.campaigns.create(
                CreateCampaign("news", "newsletter", SENDER_ADDRESS, campaign_id=campaign_id)
            )
        gateway = LocalApiGateway(
            runtime.invoker, "127.0.0.1", 0, Console(ConsoleConfig("local"), runtime.recorder)
        )
        gateway.start()
        try:
            yield runtime, gateway.url
        finally:
            gateway.stop()


def attacker_site(page: str) -> tuple[ThreadingHTTPServer, str]:
    """Another site: `localhost` and a port of its own (the console is 127.0.0.1)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = page.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}/"


def emails_sent_by_moto() -> float:
    client = boto3.client("ses", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    return float(client.get_send_quota()["SentLast24Hours"])


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = chrome()
    yield driver
    driver.quit()


def test_a_page_on_another_origin_changes_and_reads_nothing(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    runtime, console = served
    ports = runtime.ports
    victim = ports.subscribers.page("news", None, 1).subscribers[0]
    table = runtime.settings.subscribers_table
    replacements = {
        "CONSOLE": console,
        "MOTO": os.environ["AWS_ENDPOINT_URL"],
        "VICTIM": victim.email,
        "SENDER_ADDRESS": SENDER_ADDRESS,
        "SENDER": SENDER_ADDRESS,
        "TABLE": table,
    }
    page = ATTACK
    for placeholder, value in replacements.items():  # in this order: SENDER_ADDRESS first
        page = page.replace(placeholder, value)
    mailed_before = emails_sent_by_moto()
    server, url = attacker_site(page)
    try:
        browser.get(url)
        results = WebDriverWait(browser, 30, 0.2).until(
            lambda b: b.execute_script("return window.attack")
        )
    finally:
        server.shutdown()
    runtime.invoker.drain()
    assert results["read_lists"] == results["read_outbox"] == "refused", results
    assert results["json_send"] == results["moto_scan"] == "refused", results
    for campaign_id in ("first", "second"):
        found = ports.campaigns.get(campaign_id)
        assert found is not None and found.status is CampaignStatus.DRAFT, campaign_id
    assert ports.campaigns.get("evil") is None
    current = ports.subscribers.get("news", victim.email)
    assert current is not None and current.status is SubscriberStatus.SUBSCRIBED
    assert runtime.recorder is not None and runtime.recorder.listing() == []  # no proof went out
    assert emails_sent_by_moto() == mailed_before


def test_a_rebound_name_reads_and_writes_nothing(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """The attacker's name now points at 127.0.0.1: its page's script is same-origin with
    everything it asks for, but Host names the attacker's name."""
    runtime, console = served
    port = console.rsplit(":", 1)[1]
    browser.get(f"http://{REBOUND}:{port}/")
    assert "not this console" in browser.find_element(By.TAG_NAME, "body").text
    script = """
      const done = arguments[arguments.length - 1];
      Promise.all([fetch('/lists'), fetch('/outbox'),
                   fetch('/campaigns/first/send', {method: 'POST'})])
        .then((answers) => done(answers.map((a) => a.status)));
    """
    assert browser.execute_async_script(script) == [403, 403, 403]
    found = runtime.ports.campaigns.get("first")
    assert found is not None and found.status is CampaignStatus.DRAFT


def test_the_consoles_own_page_still_drives_it(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    _, console = served
    browser.get(console + "/#lists")
    WebDriverWait(browser, 10, 0.2).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#lists tr[data-id=news]")
    )
    script = """
      const done = arguments[arguments.length - 1];
      const token = document.querySelector('meta[name="fanmail-token"]').content;
      fetch('/campaigns/second/pause', {method: 'POST', headers: {'x-fanmail-token': token}})
        .then((a) => a.text().then((t) => done([a.status, t])));
    """
    status, body = browser.execute_async_script(script)
    assert status == 409 and json.loads(body)["error"]["status"] == "draft"  # reached the API
