"""Browser-test harness: the real app (``streamlit run app.py``) in Debian's headless Chromium.

One Streamlit server per test session, started on a free port with its own accounts file (one
user per role), audit log and data directory (a copy of ``data/`` without published briefings,
so what the tests publish stays in the temporary directory) in a temporary directory, and with
the file watcher off (other work on the checkout must not rerun the app mid-test), and one
Chromium (``/usr/bin/chromium``,
driven by Playwright's sync API; no browser is ever downloaded) with a fresh profile. Every test
gets a new tab, which is a new Streamlit session: nobody is signed in until the test signs in.
Screenshots go to ``out/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "out" / "screenshots"
#: Entries of ``data/`` the test server does not get: it publishes and signs in on its own.
PRIVATE_DATA = shutil.ignore_patterns("published", "accounts.toml", "audit.sqlite*", "uploads")
SERVER_START_TIMEOUT_S = 120
#: A page's first render builds the Area and runs analyses; generous under a loaded 2-core box.
PAGE_TIMEOUT_MS = 120_000

#: Contact data as the app could leak it: raw phone numbers of the sample (Ofcom drama range
#: 07700 900xxx, with or without spaces or +44) or their pseudonyms (P + 16 hex).
CONTACT_DATA = re.compile(r"(?:\+44\s?|\b0)7700\s?900\s?\d{3}\b|\bP[0-9a-f]{16}\b")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; CI installs it with ``make browser`` (``make test`` does)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's chromium; run "
                    "`make browser` (or `apt-get install chromium`) and run the tests again",
                    pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def contact_data() -> re.Pattern[str]:
    """What contact data look like on a page or in a file (see ``CONTACT_DATA``)."""
    return CONTACT_DATA


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``out/screenshots/`` (git-ignored), created."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app-server")


@pytest.fixture(scope="session")
def accounts(server_dir: Path) -> dict[str, Account]:
    """One account per role (fresh random passwords) written with ``geointel.auth``."""
    from geointel import auth

    path = server_dir / "accounts.toml"
    made = {role: Account(f"test-{role}", secrets.token_urlsafe(12), role) for role in auth.ROLES}
    for acc in made.values():
        auth.add_account(path, acc.username, role=acc.role, password=acc.password)
    return made


@pytest.fixture(scope="session")
def audit_file(server_dir: Path) -> Path:
    return server_dir / "audit.sqlite"


@pytest.fixture(scope="session")
def data_dir(server_dir: Path) -> Path:
    """The server's data directory: a copy of ``data/`` (open data, sample, key, Leaflet)."""
    source = ROOT / "data"
    if not (source / "samples").is_dir():
        pytest.fail(f"{source / 'samples'} is missing: run `make sample` (or `make test`)",
                    pytrace=False)
    return Path(shutil.copytree(source, server_dir / "data", ignore=PRIVATE_DATA))


@pytest.fixture(scope="session")
def app_url(server_dir: Path, data_dir: Path, accounts: dict[str, Account],
            audit_file: Path) -> Iterator[str]:
    """Base URL of ``streamlit run app.py`` serving the embedded sample; stopped at the end."""
    port = _free_port()
    env = dict(os.environ, GEOINTEL_ACCOUNTS_FILE=str(server_dir / "accounts.toml"),
               GEOINTEL_AUDIT_FILE=str(audit_file), GEOINTEL_DATA_DIR=str(data_dir),
               PYTHONUNBUFFERED="1")
    env.pop("GEOINTEL_CONFIG", None)
    log_path = server_dir / "streamlit.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             "--server.runOnSave", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n"
                            + log_path.read_text(errors="replace")[-3000:], pytrace=False)
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer {url}/_stcore/health within "
                            f"{SERVER_START_TIMEOUT_S} s:\n"
                            + log_path.read_text(errors="replace")[-3000:], pytrace=False)
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def browser_context(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One headless Chromium with a fresh profile, for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(chromium),
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1440, "height": 1000},
            accept_downloads=True)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    """Keep each phase's report on the item, so fixtures can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def tab(browser_context, request: pytest.FixtureRequest) -> Iterator:
    """A new tab (a new Streamlit session, nobody signed in); closed after the test.

    A failing test leaves ``out/screenshots/FAILED-<test>.png`` of what the tab showed.
    """
    browser_context.clear_cookies()
    tab = browser_context.new_page()
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            try:
                tab.screenshot(path=str(SCREENSHOTS / f"FAILED-{name}.png"), full_page=True)
            except Exception as err:  # the tab may be gone; the failure itself is reported
                print(f"no failure screenshot: {err}", file=sys.stderr)
        tab.close()


@dataclass
class AppDriver:
    """One tab on the running app, with the steps every browser test takes."""

    page: object
    base_url: str
    accounts: dict[str, Account]

    def goto(self, path: str = "") -> None:
        """Open ``base_url/path`` (a fresh load: a new Streamlit session) and wait for it."""
        self.page.goto(f"{self.base_url}/{path}")
        self.wait_idle()

    def wait_idle(self) -> None:
        """Wait until the app is connected and its script has finished running."""
        page = self.page
        page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]')
        # A rerun may be requested just after a run ends: require two idle reads 0.3 s apart.
        for _ in range(2):
            page.wait_for_selector('[data-testid="stApp"]'
                                   ':not([data-test-script-state="running"])'
                                   ':not([data-test-script-state="initial"])'
                                   ':not([data-test-script-state="rerunRequested"])')
            page.wait_for_timeout(300)

    def sign_in(self, role: str, path: str = "") -> None:
        """Open ``path`` and sign in as the test account of ``role``."""
        self.submit_sign_in(role, path)
        self.await_sign_in(role)

    def submit_sign_in(self, role: str, path: str = "") -> None:
        """Open ``path`` and submit the sign-in form of ``role`` without waiting for the app.

        Several tabs can submit first and :meth:`await_sign_in` afterwards, so the server
        works on them at the same time.
        """
        account = self.accounts[role]
        self.goto(path)
        page = self.page
        page.get_by_label("Username").fill(account.username)
        page.get_by_label("Password", exact=True).fill(account.password)
        page.get_by_role("button", name="Sign in").click()

    def await_sign_in(self, role: str) -> None:
        """Wait for the sign-in submitted by :meth:`submit_sign_in`; fail if it did not."""
        account = self.accounts[role]
        page = self.page
        signed_in = page.locator('[data-testid="stSidebar"]').get_by_text(
            f"Signed in as {account.username} ({role})")
        signed_in.or_(page.locator('[data-testid="stException"], '
                                   '[data-testid="stAlertContentError"]')).first.wait_for()
        self.wait_idle()
        if not signed_in.count():
            pytest.fail(f"signing in as {role} did not sign in; the app shows: "
                        f"{self.exceptions() + self.errors()}", pytrace=False)

    def nav_paths(self) -> list[str]:
        """URL paths of the sidebar navigation links, in order (``""`` for the default page).

        Empty when Streamlit shows no navigation (it hides it for a single page).
        """
        hrefs = self.page.locator('[data-testid="stSidebarNav"] a').evaluate_all(
            "els => els.map(e => new URL(e.href).pathname)")
        return [h.strip("/") for h in hrefs]

    def open_nav(self, path: str) -> None:
        """Click the sidebar link to ``path`` (same session) and wait for the page to run."""
        index = self.nav_paths().index(path)
        self.page.locator('[data-testid="stSidebarNav"] a').nth(index).click()
        self.page.wait_for_url(re.compile(rf"{re.escape(self.base_url)}/{re.escape(path)}$"))
        self.wait_idle()

    def metrics(self) -> dict[str, str]:
        """``st.metric`` label -> value shown."""
        out = {}
        for metric in self.page.locator('[data-testid="stMetric"]').all():
            label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
            out[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
        return out

    def download(self, button: str) -> Path:
        """Click the download button labelled ``button``; the saved file's path."""
        with self.page.expect_download() as info:
            self.page.get_by_role("button", name=button).click()
        download = info.value
        path = Path(download.path()).with_name(download.suggested_filename)
        download.save_as(path)
        return path

    def main_text(self) -> str:
        """Everything the main area and sidebar show, as text."""
        return self.page.locator('[data-testid="stApp"]').inner_text()

    def exceptions(self) -> list[str]:
        """Texts of Streamlit exception boxes on the page (there should be none)."""
        return self.page.locator('[data-testid="stException"]').all_inner_texts()

    def errors(self) -> list[str]:
        """Texts of ``st.error`` boxes on the page."""
        return self.page.locator('[data-testid="stAlertContentError"]').all_inner_texts()

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot as ``out/screenshots/<name>.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def app(tab, app_url: str, accounts: dict[str, Account]) -> AppDriver:
    """A tab on the running app, nobody signed in yet."""
    return AppDriver(tab, app_url, accounts)


@pytest.fixture
def more_tabs(browser_context, app_url: str,
              accounts: dict[str, Account]) -> Iterator[Callable[[], AppDriver]]:
    """Open further tabs on the app (each a new session); all closed after the test."""
    opened: list[AppDriver] = []

    def open_tab() -> AppDriver:
        opened.append(AppDriver(browser_context.new_page(), app_url, accounts))
        return opened[-1]

    yield open_tab
    for driver in opened:
        driver.page.close()
