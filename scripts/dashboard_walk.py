"""The dashboard walked as a user walks it, in a real browser: create a list, import a CSV with
a column mapping and a bad row, find a subscriber, write a template in the editor, preview it
and save it, create a campaign (a double click makes one draft), send a test, schedule it, send it,
watch a breaker pause it, resume it anyway to 100 %, read who bounced, open a sent email.

At every state the walk calls `look(name)`: the browser tests check accessibility (axe-core)
and the layout there; `make demo` saves a screenshot. One walk per width (1280 px, a 390 px
phone), each with lists and campaigns of its own, on one stand-in and one browser.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

DRIVER = "/usr/bin/chromedriver"  # Debian's chromium-driver, matching its chromium (make installs)
SENDER = "Fanmail News <news@fanmail.example>"
BOUNCING = 24
DELIVERED = 96
"""The walk's list: a fifth of it bounces (SES's mailbox simulator), enough for the bounce
breaker to pause the run once its sample is reached."""


def chrome(width: int = 1280, height: int = 900) -> WebDriver:
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(DRIVER))


def viewport(browser: WebDriver, width: int, height: int) -> None:
    """The page's width and height as a screen of that size shows them: headless chromium's
    window is never narrower than 500 px, so a phone is emulated (as its devtools do)."""
    browser.set_window_size(max(width, 500), height)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


class ScreenNotReached(Exception):
    """A page never showed what the walk needs: said in one line, with what it showed."""


def until(
    browser: WebDriver, check: Callable[[WebDriver], object], what: str, timeout: float = 120
) -> None:
    """Wait for `check`. An element missing, or gone while it was read (redrawn every second:
    a stale element), is asked again; the timeout (generous: a loaded machine) ends a wait that
    never holds with what the page showed instead of a traceback."""
    wait = WebDriverWait(
        browser, timeout, poll_frequency=0.2, ignored_exceptions=(WebDriverException,)
    )
    try:
        wait.until(check)
    except TimeoutException:
        try:
            shown = " ".join(browser.find_element(By.TAG_NAME, "body").text.split())[:400]
            invalid = browser.execute_script(
                "return [...document.querySelectorAll(':invalid')].map((e) => e.name || e.id)"
            )
            if invalid:
                shown += f" (fields the browser finds invalid: {invalid})"
        except WebDriverException:
            shown = "(nothing readable)"
        raise ScreenNotReached(
            f"waited {timeout:.0f} s for {what} at {browser.current_url}; "
            f"the page showed: {shown!r}"
        ) from None


def members_file(folder: Path, suffix: str) -> Path:
    """A spreadsheet's export: its own column names, a notes column, one bad address (line 3)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["E-mail", "First name", "Notes"])
    writer.writerow([f"success+first-{suffix}@simulator.amazonses.com", "Ada", "vip"])
    writer.writerow(["not-an-address", "Broken Row", ""])
    for n in range(BOUNCING):
        writer.writerow([f"bounce+{n}-{suffix}@simulator.amazonses.com", f"Bounce {n}", ""])
    for n in range(DELIVERED - 1):
        writer.writerow([f"success+{n}-{suffix}@simulator.amazonses.com", f"Reader {n}", ""])
    path = folder / f"members-{suffix}.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@dataclass
class Walk:
    browser: WebDriver
    base: str
    suffix: str
    look: Callable[[str], None]
    folder: Path

    @property
    def list_id(self) -> str:
        return f"fans-{self.suffix}"

    def open(self, section: str) -> None:
        self.browser.get(f"{self.base}/#{section}")
        until(
            self.browser,
            lambda b: b.execute_script("return document.readyState") == "complete",
            "the page",
        )

    def find(self, css: str) -> WebElement:
        return self.browser.find_element(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def type(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def click(self, css: str) -> None:
        element = self.find(css)
        self.browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def show(self, css: str, state: str) -> None:
        """Scroll `css` to the top of the window, then look at the state."""
        self.browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", self.find(css))
        self.look(state)

    def confirm(self, typed: str | None = None) -> str:
        """Answer the open confirmation (typing what it asks for first); its question."""
        until(self.browser, lambda b: self.find("#confirm").is_displayed(), "the confirmation")
        question = self.text("#confirm-text")
        if typed is not None:
            self.find("#confirm-typed").send_keys(typed)
        self.click("#confirm-yes")
        return question

    def walk(self) -> None:
        self.browser.get("about:blank")  # a fresh page: nothing of an earlier walk on it
        self.create_list()
        self.add_a_topic()
        self.import_members()
        self.find_a_subscriber()
        self.write_a_template()
        self.create_a_campaign()
        self.test_send()
        self.schedule()
        self.send_until_the_breaker()
        self.resume_anyway_to_100()
        self.read_who_bounced()
        self.open_a_sent_email()

    def create_list(self) -> None:
        self.open("lists")
        until(self.browser, lambda b: self.find("#list-form").is_displayed(), "the list form")
        self.type("#list-form [name=list_id]", self.list_id)
        self.type("#list-form [name=name]", f"Fans {self.suffix}")
        self.type("#list-form [name=brand]", "Fanmail")
        self.type("#list-form [name=postal_address]", "1 Main St, Springfield")
        self.click("#list-create")
        until(
            self.browser,
            lambda b: f"Created Fans {self.suffix}" in self.text("#list-notice"),
            "the list created",
        )
        until(
            self.browser,
            lambda b: self.find(f"#lists tr[data-id='{self.list_id}']"),
            "the list in the table",
        )
        self.show("#lists", "lists")

    def add_a_topic(self) -> None:
        settings = f"#lists tr[data-id='{self.list_id}'] .row-actions button"  # its settings

        def opened(browser: WebDriver) -> bool:
            """The table is redrawn every second: click the row's button as it is now."""
            if not self.find("#topic-form").is_displayed():
                self.click(settings)
            return bool(self.find("#topic-form").is_displayed())

        until(self.browser, opened, "the list's settings with its topics")
        self.type("#topic-form [name=id]", "weekly-digest")
        self.type("#topic-form [name=name]", "Weekly digest")
        self.type("#topic-form [name=description]", "The week's news, on Fridays")
        self.click("#topic-save")
        until(
            self.browser,
            lambda b: "Weekly digest" in self.text("#topics tbody"),
            "the topic in the list's topics",
        )
        self.show("#list-settings", "list-topics")

    def import_members(self) -> None:
        Select(self.find("#import-list")).select_by_value(self.list_id)
        self.find("#import-file").send_keys(str(members_file(self.folder, self.suffix).resolve()))
        until(self.browser, lambda b: self.find("#mapping").is_displayed(), "the column mapping")
        name_row = "#mapping-table tr[data-column='First name']"
        self.type(f"{name_row} input", "first_name")
        Select(self.find("#mapping-table tr[data-column='Notes'] select")).select_by_value("skip")
        self.show("#import-card", "import-mapping")
        self.click("#import-start")
        until(
            self.browser, lambda b: self.text("#import-text").startswith("Done"), "the import done"
        )
        until(self.browser, lambda b: self.find("#rejects").is_displayed(), "the rejected rows")
        self.show("#import-progress", "import-done")

    def find_a_subscriber(self) -> None:
        self.open(f"subscribers/{self.list_id}")
        until(
            self.browser,
            lambda b: self.find("#subscribers tbody tr[data-email]"),
            "the subscribers",
        )
        self.type("#subscribers-search", f"Success+First-{self.suffix}@simulator.amazonses.com")
        self.click("#subscribers-find")
        until(self.browser, lambda b: self.find("#subscriber").is_displayed(), "the subscriber")
        self.show("#subscriber", "subscriber")

    def write_a_template(self) -> None:
        self.open("templates")
        until(
            self.browser, lambda b: self.find("#editor-view").is_displayed(), "the editor's preview"
        )
        option = f"#editor-list option[value='{self.list_id}']"
        until(self.browser, lambda b: self.find(option), "the list to preview as one of")
        Select(self.find("#editor-list")).select_by_value(self.list_id)
        self.type("#editor-as", f"success+first-{self.suffix}@simulator.amazonses.com")
        self.type("#editor-subject", "{{ list.brand }} for {{ first_name }}")
        until(
            self.browser,
            lambda b: self.text("#editor-view .email-title") == "Preview: Fanmail for Ada",
            "the live preview",
        )
        self.type("#editor-name", f"greeting-{self.suffix}")
        self.click("#editor-save")
        saved = f"Saved greeting-{self.suffix}@v1"
        until(self.browser, lambda b: saved in self.text("#save-notice"), "the template saved")
        self.show("#view-templates", "template-editor")

    def create_a_campaign(self) -> None:
        self.open("campaigns")
        if self.find("#new-campaign").get_attribute("open") is None:  # as a user sees it
            self.click("#new-campaign summary")
        until(
            self.browser,
            lambda b: self.find(f"#create-form option[value='{self.list_id}']"),
            "the lists",
        )
        until(self.browser, lambda b: self.find("#create-form [name=name]").is_displayed(), "form")
        self.type("#create-form [name=name]", f"December {self.suffix}")
        Select(self.find("#create-form [name=list_id]")).select_by_value(self.list_id)
        Select(self.find("#create-form [name=template]")).select_by_value("newsletter")
        self.type("#create-form [name=sender]", SENDER)
        self.click("#add-variable")
        variable = self.browser.find_elements(By.CSS_SELECTOR, "#variables .variable input")
        variable[0].send_keys("headline")
        variable[1].send_keys("Snow is coming")
        button = self.find("#create")
        self.browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        ActionChains(self.browser).double_click(button).perform()  # one draft, not two
        until(
            self.browser,
            lambda b: self.text("#campaign-title") == f"December {self.suffix}",
            "the draft",
        )
        self.show("#campaign", "campaign-draft")

    def test_send(self) -> None:
        self.click("#test")
        self.type("#test-to", "proof@example.com")
        self.click("#test-yes")
        until(
            self.browser,
            lambda b: "Test sent to proof@example.com" in self.text("#campaign-notice"),
            "the test sent",
        )

    def schedule(self) -> None:
        self.click("#schedule")
        until(
            self.browser,
            lambda b: self.find("#schedule-dialog").is_displayed(),
            "the schedule form",
        )
        self.browser.execute_script(
            "const at = new Date(Date.now() + 86400000); at.setMinutes(0, 0, 0);"
            "document.getElementById('schedule-at').value = "
            "new Date(at - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16)"
        )
        self.look("schedule-form")
        self.click("#schedule-yes")
        until(
            self.browser,
            lambda b: self.text("#schedule-text").startswith("Scheduled once"),
            "the schedule shown",
        )
        self.show("#campaign", "campaign-scheduled")

    def send_until_the_breaker(self) -> None:
        self.click("#send")
        question = self.confirm()
        people = BOUNCING + DELIVERED
        subject = "Fanmail news: Snow is coming"
        expected = f"Send “{subject}” to {people} subscribers of Fans {self.suffix}?"
        assert question == expected, question
        until(self.browser, lambda b: self.find("#breaker").is_displayed(), "the breaker pause")
        self.show("#campaign", "campaign-breaker")

    def resume_anyway_to_100(self) -> None:
        self.click("#resume-anyway")
        self.confirm(typed="resume anyway")
        until(
            self.browser,
            lambda b: (
                self.text("#status") == "sent"
                and self.find("#progress").get_attribute("aria-valuenow") == "100"
            ),
            "the campaign sent",
        )
        self.show("#campaign", "campaign-sent")

    def read_who_bounced(self) -> None:
        until(
            self.browser,
            lambda b: (
                len(self.browser.find_elements(By.CSS_SELECTOR, "#events tbody tr"))
                >= BOUNCING // 2
                and "5.1.1" in self.text("#events tbody")
            ),
            "who bounced",
        )
        self.show("#events", "who-bounced")

    def open_a_sent_email(self) -> None:
        self.open("outbox")
        until(self.browser, lambda b: self.find("#outbox tr[data-name]"), "the outbox")
        self.click("#outbox tr[data-name]")
        until(
            self.browser,
            lambda b: self.text("#outbox-email .email-title").startswith("Sent to"),
            "the email",
        )
        self.look("outbox-email")
