"""A person in the Prefect UI, in Debian's Chromium driven by Playwright (no browser
download: `apt-get install chromium`): their own session, screenshots kept for CI, and the
UI's forms as a person fills them in.

Screenshots go under `test-artifacts/screenshots/<test>/` (in .gitignore; .ci/run says CI
keeps `test-artifacts/`), on success too, and of every page as it was when a test failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from tests.conftest import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # No software GPU (SwiftShader): the run page's graph is drawn with WebGL, redrawn many
    # times a second, and in software that alone took 32 of the browser's 50 CPU seconds in
    # the approval test. The graph stays blank in the screenshots; no test reads it.
    "--disable-software-rasterizer",
    "--disable-gpu-compositing",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
UI_TIMEOUT_MS = 30_000  # a loaded 2-core CI machine renders the UI slowly

expect.set_options(timeout=UI_TIMEOUT_MS)


class Person:
    """One person's browser session (own cookies and local storage), screenshots in `folder`."""

    def __init__(
        self,
        browser: Browser,
        name: str,
        folder: Path,
        *,
        width: int = 1400,
        height: int = 1100,
    ) -> None:
        self.name = name
        self.folder = folder
        self.context: BrowserContext = browser.new_context(
            viewport={"width": width, "height": height}
        )
        self.context.set_default_timeout(UI_TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        # What the UI sent and got back (not GETs): kept with the screenshots.
        self.calls: list[str] = []
        self.page.on("response", self._record)

    def _record(self, response: Any) -> None:
        request = response.request
        if request.method != "GET" and "/api/" in response.url:
            body = (request.post_data or "")[:500]
            self.calls.append(f"{response.status} {request.method} {response.url} {body}")

    def save_calls(self) -> None:
        (self.folder / f"{self.name.lower()}-api-calls.txt").write_text("\n".join(self.calls))

    def shot(self, label: str, *, full_page: bool = True) -> Path:
        path = self.folder / f"{self.name.lower()}-{label}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def log_in(self, ui_url: str, auth_string: str) -> None:
        """The server has an auth string: the UI shows its login form; type it in."""
        self.page.goto(ui_url)
        password = self.page.get_by_placeholder("admin:pass")
        expect(password).to_be_visible()
        self.shot("login")
        password.fill(auth_string)
        self.page.get_by_role("button", name="Login").click()
        expect(self.page.get_by_role("button", name="Logout")).to_be_visible()

    def step_away(self) -> None:
        """The person leaves the UI while a run goes on (a blank tab). A page left on a run
        asks the API every few seconds and redraws; on a 2-core machine three such pages
        cost more CPU than the runs they watch."""
        self.page.goto("about:blank")

    def close(self) -> None:
        self.save_calls()
        self.context.close()


def click_until_taken(person: Person, press: Callable[[], None], endpoint: str) -> None:
    """`press` (the clicks that POST to the API path ending in `endpoint`) until the server
    takes it.

    On SQLite a busy database answers 503 ("Service Unavailable", Prefect's retryable error;
    its Python client retries, the UI shows an error toast and keeps the form): a person
    clicks again (the README says so), so does this, at most three times, and says so.
    """
    for attempt in range(1, 4):
        with person.page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith(endpoint)
        ) as answer:
            press()
        status = answer.value.status
        if status < 300:
            return
        assert status == 503, f"{endpoint} answered {status}: {answer.value.text()}"
        person.shot(f"{endpoint.strip('/')}-503-{attempt}")
        print(f"{person.name}: {endpoint} answered 503 (database busy), clicking again")
        person.page.wait_for_timeout(1000)
    raise AssertionError(f"{person.name}: {endpoint} answered 503 three times")


def submit(person: Person, dialog: Locator, button: str) -> None:
    """Click the resume form's button; the dialog closes once the server took the answer."""
    click_until_taken(person, dialog.get_by_role("button", name=button).click, "/resume")
    expect(dialog).to_be_hidden()


def no_horizontal_scroll(box: Locator) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of `box` and of everything in it that scrolls; asserts
    nothing is wider than its box (a person would have to scroll sideways to read it)."""
    widths: list[tuple[int, int, str]] = box.evaluate(
        """(root) => [root, ...root.querySelectorAll('*')]
            .filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
                    && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
            .map(e => [e.scrollWidth, e.clientWidth, e.outerHTML.slice(0, 120)])"""
    )
    assert widths == [], f"scrolls sideways: {widths}"
    outer: tuple[int, int] = box.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
    return outer


def field(name: str) -> re.Pattern[str]:
    """A form field's accessible name as the UI writes it: the parameter's name or title,
    then " (Optional)" when it has a default ("requested_by", "Comment (Optional)")."""
    return re.compile(f"^{re.escape(name)}( \\(Optional\\))?$", re.IGNORECASE)


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def fresh_folder(name: str) -> Path:
    """`test-artifacts/screenshots/<name>/`, emptied of an earlier run's files."""
    folder = ARTIFACTS / "screenshots" / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    return folder
