"""The web console in a real browser (Debian's Chromium through chromedriver) against the stack's
services as processes: each user signs in and does their main job through the pages.

Screenshots of the main pages go to test-artifacts/console/. The tests run in file order: later
ones use what earlier ones made (an asset, its license, a period), as the users would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from ipshare.auth import Role
from ipshare_devtools.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
    "--lang=en-US",
)
PERIOD = "E2E-2025"
WAIT = 30.0

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):  # `make install` puts them there
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)


Bearer = Callable[..., dict[str, str]]


@dataclass
class World:
    """What the users made along the way (ids the next test needs)."""

    members: dict[str, str] = field(default_factory=dict)
    researchers: dict[str, str] = field(default_factory=dict)
    asset_id: str = ""
    license_id: str = ""
    spin_off_id: str = ""
    seed_project_id: str = ""


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads  # type: ignore[attr-defined]
    yield driver
    driver.quit()


class Console:
    """The pages as a user works them: sign in, follow links, fill forms, read what shows."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver = driver
        self.url = url

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)

    def sign_in(self, role: str, member_id: str = "", name: str = "", screenshots: bool = False) -> None:
        """As people do: through the identity provider (here the development issuer's page to pick a person)."""
        self.driver.delete_all_cookies()
        self.open("/sign-in")
        if screenshots:
            self.screenshot("sign-in")
        self.press("#provider-sign-in")
        self.wait_until(lambda: self.driver.find_elements(By.CSS_SELECTOR, "form[action='/authorize']"), "the provider")
        Select(self.field("role")).select_by_value(role)
        for field_name, value in (("member_id", member_id), ("name", name)):
            if value:
                self.field(field_name).send_keys(value)
        if screenshots:
            self.screenshot("sign-in-provider")
        self.press("button[value=sign-in]")
        self.wait_until(
            lambda: self.driver.current_url.startswith(self.url) and "/sign-in" not in self.driver.current_url
            and self.driver.find_elements(By.NAME, "lang"),
            f"the sign-in as {role}",
        )  # fmt: skip

    def all_cookies(self) -> dict[str, dict[str, Any]]:
        """Every cookie of the browser, by name, whatever its path (WebDriver shows only the page's)."""
        return {c["name"]: c for c in self.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}

    def wait_until(self, done: Callable[[], Any], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            assert time.monotonic() < deadline, f"{what} did not come: {self.driver.current_url}\n{self.text()}"
            time.sleep(0.1)

    def field(self, name: str) -> WebElement:
        return self.driver.find_element(By.NAME, name)

    def fill(self, **values: str) -> None:
        for name, value in values.items():
            element = self.field(name.replace("__", "."))
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            elif element.get_attribute("type") == "date":
                self.driver.execute_script("arguments[0].value = arguments[1]", element, value)
            else:
                element.clear()
                element.send_keys(value)

    def press(self, selector: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def wait_for_language(self, code: str) -> None:
        """Until the page that a language switch redirects to has loaded in that language."""
        deadline = time.monotonic() + WAIT
        while self._language() != code:
            if time.monotonic() > deadline:
                raise AssertionError(f"the console did not switch to {code!r}")
            time.sleep(0.1)

    def _language(self) -> str:
        try:
            return str(self.driver.find_element(By.TAG_NAME, "html").get_attribute("lang"))
        except WebDriverException:  # the page is being replaced by the next
            return ""

    def text(self) -> str:
        """The page's main text; empty while a page is being replaced by the next."""
        try:
            return str(self.driver.find_element(By.TAG_NAME, "main").text)
        except WebDriverException:
            return ""

    def wait_for(self, words: str, refresh: bool = False, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while words not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{words!r} did not appear on {self.driver.current_url}:\n{self.text()}")
            if refresh:
                self.driver.refresh()
            time.sleep(0.3)

    @staticmethod
    def _text_of(element: WebElement) -> str:
        try:
            return str(element.text)
        except WebDriverException:  # swapped out meanwhile
            return ""

    def wait_for_element(self, selector: str, words: str, timeout: float = WAIT) -> None:
        """Words inside one element: what htmx swapped in, not text elsewhere on the page."""
        deadline = time.monotonic() + timeout
        while not any(words in self._text_of(e) for e in self.driver.find_elements(By.CSS_SELECTOR, selector)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{words!r} did not appear in {selector} on {self.driver.current_url}")
            time.sleep(0.2)

    def screenshot(self, name: str) -> None:
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(max(int(height), 800), 2400))
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        self.driver.set_window_size(1280, 1000)


@pytest.fixture(scope="module")
def console(browser: WebDriver, stack: Stack) -> Console:
    return Console(browser, stack.settings.console_url)


def api(
    stack: Stack, bearer: Bearer, method: str, service: str, path: str, role: Role, member: str = "", **kwargs: Any
) -> Any:
    base = {s.name: s.base_url for s in stack.settings.services()}[service]
    answer = httpx.request(method, base + path, headers=bearer(role, member or None), timeout=30, **kwargs)
    assert answer.is_success, answer.text
    return answer.json()


def test_members_are_admitted(stack: Stack, bearer: Bearer, world: World) -> None:
    """Set-up through the APIs (admission is the admin's): two members, a researcher at each."""
    for name, code in (("清华 Laser University", "121100004000009999"), ("Institute of Forming", "12100000MB0A222220")):
        body = {"name": name, "kind": "university", "state_established": True, "credit_code": code}
        world.members[name] = api(stack, bearer, "POST", "ip-registry", "/members", Role.ADMIN, json=body)["id"]
    for (name, member), staff in zip(
        (("王芳", "清华 Laser University"), ("Chen Gang", "Institute of Forming")), ("E-1", "E-2"), strict=True
    ):
        body = {"name": name, "member_id": world.members[member], "staff_number": staff, "effective_date": "2024-01-01"}
        created = api(
            stack, bearer, "POST", "ip-registry", "/researchers", Role.MEMBER, world.members[member], json=body
        )
        world.researchers[name] = created["id"]


def test_a_person_signs_in_at_the_identity_provider_and_out_again(console: Console, world: World, stack: Stack) -> None:
    """The authorization code flow in the browser: the console's page, the issuer's, and back with a session;
    signing out ends the session at the issuer too, and the next sign-in goes through the issuer's page."""
    issuer_url = stack.settings.issuer_url
    university, _ = world.members.values()
    console.sign_in("member", university, name="Liu Yang", screenshots=True)
    console.wait_for("Portfolio")
    assert "/sign-in/callback" not in console.driver.current_url  # moved on to the member's home
    cookies = {c["name"]: c for c in console.driver.get_cookies()}
    assert cookies["ipshare_session"]["httpOnly"]
    assert cookies["ipshare_session"]["sameSite"] == "Strict"
    assert "ipshare_sign_in" not in cookies  # the attempt's state is spent
    id_token = console.all_cookies()["ipshare_id_token"]  # kept for the sign-out, sent to it alone
    assert (id_token["path"], id_token["httpOnly"], id_token["sameSite"]) == ("/sign-out", True, "Strict")
    console.screenshot("signed-in")
    console.press("form[action='/sign-out'] button")
    # Through the provider's end-session endpoint and back to the sign-in page, with the console's state.
    console.wait_for("You are signed out, at the identity provider too.")
    assert console.driver.current_url.startswith(f"{console.url}/sign-in?state=")
    assert not {"ipshare_session", "ipshare_id_token", "ipshare_sign_out"} & console.all_cookies().keys()
    console.screenshot("signed-out")
    console.press("#provider-sign-in")  # the provider asks who signs in again, rather than letting them straight in
    console.wait_until(lambda: console.driver.find_elements(By.CSS_SELECTOR, "form[action='/authorize']"),
                       "the provider's page")  # fmt: skip
    assert console.driver.current_url.startswith(f"{issuer_url}/authorize?")
    console.screenshot("sign-in-again-provider")
    console.open("/portfolio")
    console.wait_until(lambda: "/sign-in?next=" in console.driver.current_url, "the sign-in page")


def test_an_ip_officer_registers_a_co_owned_asset(console: Console, world: World) -> None:
    university, institute = world.members.values()
    console.sign_in("member", university, name="Liu Yang")
    console.wait_for("Portfolio")
    console.open("/assets/new")
    console.fill(
        title="Forming of titanium blades",
        application_number="202510999888.2",
        filing_date="2025-01-02",
        ownership_effective_date="2025-01-02",
        technology_field="metal forming",
        owners__0__share="60",
        owners__1__member_id=institute,
        owners__1__share="50",
        inventors__0__researcher_id=world.researchers["王芳"],
        inventors__0__contribution="70",
        inventors__1__researcher_id=world.researchers["Chen Gang"],
        inventors__1__contribution="30",
    )
    console.press("form button.primary")
    console.wait_for("must")  # 60% + 50%: the registry's message, beside the shares
    assert console.driver.find_elements(By.CSS_SELECTOR, ".field-error, .form-error")
    assert console.field("title").get_attribute("value") == "Forming of titanium blades"  # nothing typed is lost
    console.screenshot("register-asset-error")
    console.fill(owners__1__share="40")
    console.press("form button.primary")
    console.wait_for("Registered.")
    world.asset_id = console.driver.current_url.split("/assets/")[1].split("?")[0]
    assert "Awaiting confirmation" in console.text()
    console.screenshot("asset-registered")


def test_the_co_owner_confirms_its_share(console: Console, world: World) -> None:
    _, institute = world.members.values()
    console.sign_in("member", institute)
    console.open("/confirmations")
    console.wait_for("Forming of titanium blades")
    console.screenshot("confirmations")
    console.press("button[name=decision][value=confirm]")
    console.wait_for("Your co-ownership is confirmed.")
    text = console.text()
    assert "60.00%" in text
    assert "40.00%" in text
    assert "Institute of Forming" in text  # a member reads its own name; the registry decides what else
    assert "王芳" in text
    console.screenshot("asset")


def test_the_portfolio_filters_and_pages(console: Console, world: World) -> None:
    university, _ = world.members.values()
    console.sign_in("member", university)
    console.open("/portfolio?status=filed")
    console.wait_for("Forming of titanium blades")
    console.open("/portfolio?status=granted")
    console.wait_for("No assets match.")
    console.open("/portfolio?limit=1")
    console.wait_for("Forming of titanium blades")
    console.screenshot("portfolio")


def test_finance_records_a_receipt_and_closes_the_period(
    console: Console, stack: Stack, bearer: Bearer, world: World
) -> None:
    university, _ = world.members.values()
    terms = {"currency": "CNY", "running_royalty": {"CNY": [{"threshold": 0, "rate_bps": 500}]}}
    license_body = {
        "licensee": "Xi'an Blades Co., Ltd.",
        "asset_ids": [world.asset_id],
        "license_type": "non_exclusive",
        "territory": ["CN"],
        "start_date": "2025-02-01",
        "effective_date": "2025-02-01",
        "terms": terms,
    }
    created = api(stack, bearer, "POST", "commercialization", "/licenses", Role.MEMBER, university, json=license_body)
    world.license_id = created["license_id"]
    line = {"product": "blades", "country": "CN", "currency": "CNY", "gross_sales": 2_000_000_00, "deductions": 0}
    report = {"period_start": "2025-04-01", "period_end": "2025-06-30", "lines": [line]}
    path = f"/licenses/{world.license_id}/royalty-reports"
    api(stack, bearer, "POST", "commercialization", path, Role.FINANCE, json=report)

    console.sign_in("finance", name="Zhou Jie")
    console.open("/periods")
    console.fill(period_id=PERIOD, start="2025-01-01", end="2025-12-31")
    console.press("form button.primary")
    console.wait_for(f"Period {PERIOD}")
    console.open(f"/receipts/new?license_id={world.license_id}")
    console.fill(amount="100,000.001", received_date="2025-07-15", payer_reference="XB-2025-Q2")
    console.press("form button.primary")
    console.wait_for("CNY has 2 decimals")  # beside the amount, the rest kept
    assert console.field("payer_reference").get_attribute("value") == "XB-2025-Q2"
    console.fill(amount="100,000.00")
    console.press("form button.primary")
    console.wait_for("The receipt is recorded")
    assert "¥100,000.00" in console.text()

    console.open(f"/periods/{PERIOD}")
    console.wait_for_element("#totals table", "¥100,000.00")  # the provisional totals, asked every few seconds
    console.wait_for("王芳", refresh=True)  # the statements, once revenue-share has the receipt
    text = console.text()
    payouts = api(stack, bearer, "GET", "revenue-share", "/payouts", Role.FINANCE, params={"period_id": PERIOD})
    [wang] = [p["entitled"] for p in payouts if p["payee"]["id"] == world.researchers["王芳"]]
    assert wang > 0
    assert f"¥{wang // 100:,}.{wang % 100:02d}" in text  # her line as the service computed it, in yuan
    console.driver.find_elements(By.CSS_SELECTOR, "details.explain summary")[0].click()
    console.wait_for_element("details.explain .explained", "source")  # the line's source events, one click away
    console.screenshot("period-open")

    console.fill(confirm="wrong")
    console.press("#close-form button")
    console.wait_for_element("#close-form .field-error", "Type the period's id to confirm")
    console.fill(confirm=PERIOD)
    console.press("#close-form button")
    console.wait_for(f"Period {PERIOD} is closed")
    assert "closed" in console.text()
    console.screenshot("period-closed")

    console.press(f"a[href='/periods/{PERIOD}/downloads/statements.csv']")
    downloads: Path = console.driver.downloads  # type: ignore[attr-defined]
    csv_file = downloads / f"statements-{PERIOD}.csv"
    deadline = time.monotonic() + WAIT
    while not csv_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    content = csv_file.read_text(encoding="utf-8-sig")
    assert "王芳" in content
    assert f",{wang // 100}.{wang % 100:02d},{wang}," in content  # exact in yuan and in fen
    assert content.splitlines()[1].endswith(",Zhou Jie,dev-finance,")  # who closed the period, for no member


def test_a_member_reads_its_statement_and_payouts(console: Console, world: World) -> None:
    university, _ = world.members.values()
    console.sign_in("member", university)
    console.open(f"/my-statements?period={PERIOD}")
    console.wait_for("Statement lines")
    text = console.text()
    assert "清华 Laser University" in text
    assert "owner share" in text
    assert "¥" in text
    console.screenshot("member-statements")


def test_finance_reads_receivables_and_a_printable_statement(console: Console, world: World) -> None:
    console.sign_in("finance")
    console.open("/receivables?as_of=2025-12-31")
    console.wait_for("Receivables ageing")
    console.screenshot("receivables")
    console.open(f"/periods/{PERIOD}")
    link = console.driver.find_element(By.PARTIAL_LINK_TEXT, "Printable statement")
    cookies = {c["name"]: c["value"] for c in console.driver.get_cookies()}
    pdf = httpx.get(link.get_attribute("href") or "", cookies=cookies, timeout=30)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_an_incubator_approves_a_milestone_and_finance_releases_its_tranche(
    console: Console, stack: Stack, bearer: Bearer, world: World
) -> None:
    university, institute = world.members.values()
    founding = {
        "name": "Titan Blades Co., Ltd.",
        "asset_ids": [world.asset_id],
        "founded_via": "license",
        "license_id": world.license_id,
        "share_classes": {"common": 10_000_000},
        "effective_date": "2025-03-01",
    }
    world.spin_off_id = api(stack, bearer, "POST", "incubation", "/spin-offs", Role.INCUBATOR, json=founding)[
        "spin_off_id"
    ]
    for holder, quantity in (
        (("member", university), 4_000_000),
        (("researcher", world.researchers["王芳"]), 1_000_000),
    ):
        movement = {
            "kind": "issuance",
            "share_class": "common",
            "quantity": quantity,
            "holder": {"kind": holder[0], "id": holder[1]},
            "effective_date": "2025-03-01",
        }
        api(
            stack,
            bearer,
            "POST",
            "incubation",
            f"/spin-offs/{world.spin_off_id}/share-movements",
            Role.INCUBATOR,
            json=movement,
        )
    for period, revenue in (("2025-Q2", 50_000_00), ("2025-Q3", 120_000_00)):
        kpi = {"period": period, "revenue": {"amount_minor": revenue, "currency": "CNY"}, "headcount": 12}
        api(
            stack, bearer, "POST", "incubation", f"/spin-offs/{world.spin_off_id}/kpi-reports", Role.INCUBATOR, json=kpi
        )
    plan = {"name": "2025 plan", "share_class": "common", "pool_size": 1_000_000, "effective_date": "2025-03-01"}
    path = f"/spin-offs/{world.spin_off_id}"
    plan_id = api(stack, bearer, "POST", "incubation", f"{path}/plans", Role.INCUBATOR, json=plan)["plan_id"]
    grant = {
        "plan_id": plan_id,
        "researcher_id": world.researchers["Chen Gang"],
        "quantity": 48_000,
        "vesting": {"start": "2025-03-01", "total_months": 48, "cliff_months": 12, "frequency_months": 12},
        "expires_on": "2035-02-28",
        "exercise_price": {"amount_minor": 100, "currency": "CNY"},
        "post_departure_window": {"length": 90, "unit": "days"},
        "effective_date": "2025-03-01",
    }
    api(stack, bearer, "POST", "incubation", f"{path}/grants", Role.INCUBATOR, json=grant)
    money = {"amount_minor": 500_000_00, "currency": "CNY"}
    committed = {"amount_minor": 1_000_000_00, "currency": "CNY"}
    project = {
        "title": "Titanium pilot line",
        "spin_off_id": world.spin_off_id,
        "commitments": [{"funder_kind": "member", "funder_id": institute, "amount": committed}],
        "milestones": [
            {"description": "pilot line qualified", "due_date": "2025-09-30", "tranche": money},
            {"description": "first order", "due_date": "2026-03-31", "tranche": money},
        ],
        "effective_date": "2025-04-01",
    }
    opened = api(stack, bearer, "POST", "incubation", "/seed-projects", Role.INCUBATOR, json=project)
    world.seed_project_id = opened["seed_project_id"]

    console.sign_in("incubator")
    console.wait_for("Titanium pilot line")
    console.screenshot("board")
    console.driver.find_element(By.LINK_TEXT, "Titanium pilot line").click()
    console.wait_for("pilot line qualified")
    first = console.driver.find_elements(By.CSS_SELECTOR, "section.card")[0]
    first.find_element(By.NAME, "evidence").send_keys("qualification report QR-2025-09")
    first.find_element(By.XPATH, ".//button[text()='Submit evidence']").click()
    console.wait_for("Done: evidence submitted.")
    first = console.driver.find_elements(By.CSS_SELECTOR, "section.card")[0]
    first.find_element(By.XPATH, ".//button[text()='Approve']").click()
    console.wait_for("Done: milestone approved.")
    assert "approved" in console.text()

    console.sign_in("finance")
    console.open(f"/seed-projects/{world.seed_project_id}")
    second = console.driver.find_elements(By.CSS_SELECTOR, "section.card")[1]
    second.find_element(By.XPATH, ".//button[text()='Release the tranche']").click()
    console.wait_for("Refused: milestone 'first order' is open")  # the 409, in words, beside its milestone
    console.screenshot("release-refused")
    first = console.driver.find_elements(By.CSS_SELECTOR, "section.card")[0]
    first.find_element(By.XPATH, ".//button[text()='Release the tranche']").click()
    console.wait_for("Done: tranche released.")
    assert "¥500,000.00" in console.text()  # released so far
    console.screenshot("seed-project")


def test_the_spin_off_shows_its_cap_table_and_kpis(console: Console, world: World) -> None:
    console.sign_in("admin")  # the registry shows an incubator manager ids, not names; an admin reads both
    console.open(f"/spin-offs/{world.spin_off_id}?as_of=2025-12-31")
    console.wait_for("Cap table on 2025-12-31")
    text = console.text()
    assert "王芳" in text
    assert "清华 Laser University" in text
    assert "66.66%" in text  # 4,000,000 of 5,000,000 issued and the pool of 1,000,000, fully diluted
    assert len(console.driver.find_elements(By.CSS_SELECTOR, "svg.chart")) >= 3
    assert "Chen Gang" in text  # the option grant, with its vesting schedule
    assert "2026-03-01" in text  # the cliff: a quarter vests after a year
    assert "12,000" in text
    console.screenshot("spin-off")
    console.open(f"/spin-offs/{world.spin_off_id}?as_of=2025-01-01")
    console.wait_for("Cap table on 2025-01-01")


def test_an_auditor_verifies_the_logs_and_reads_an_assets_history(console: Console, world: World) -> None:
    console.sign_in("auditor")
    console.wait_for("Events in the log")
    assert len(console.driver.find_elements(By.CSS_SELECTOR, ".log-size")) == 4
    console.press("form[action='/audit/verification'] button")
    console.wait_for("Everything verified", timeout=90)
    console.screenshot("audit")
    console.fill(aggregate_id=world.asset_id)
    console.press("form[action='/audit/history'] button")
    console.wait_for("AssetRegistered")
    assert "Liu Yang" in console.text()  # the name the IP officer signed in with at the provider
    console.screenshot("asset-history")


def test_the_console_speaks_chinese(console: Console, world: World) -> None:
    console.sign_in("finance")
    Select(console.driver.find_element(By.ID, "lang-switch")).select_by_value("zh")
    console.press("header form.inline button")
    console.wait_for_language("zh-Hans")  # else the switch's redirect may land after the next page is opened
    console.open(f"/periods/{PERIOD}")
    console.wait_for("各收款人结算单")
    assert "已结" in console.text()
    console.screenshot("period-zh")
