"""Open published report pages in a real headless Chromium and check what a reader sees.

For every HTML page of a published month: no console errors, no failed requests, no
request leaving the machine (pages must work offline), every image decoded, and a
full-page screenshot saved under ``reports/<month>/screenshots/`` for review.

Uses Playwright's Python client driving the system Chromium (Debian's ``chromium``
package): Playwright cannot download its own browser here, and does not need to.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserUnavailable(RuntimeError):
    """No Chromium or no Playwright client: says how to install them."""


@dataclass
class PageCheck:
    """What the browser saw on one page."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    broken_images: int = 0
    images: int = 0
    screenshot: str = ""

    @property
    def ok(self) -> bool:
        """True when the page has no problem at all."""
        return not (self.console_errors or self.failed_requests or self.external_requests or self.broken_images)


def find_chromium() -> str:
    """Path of a Chromium executable, or BrowserUnavailable with the install command."""
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    raise BrowserUnavailable("Chromium not found. Install it with: apt-get install -y chromium (make test does this).")


def check_month(month_dir: Path, screenshots: bool = True) -> list[PageCheck]:
    """Check every ``*.html`` page in a published month folder (and its index)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BrowserUnavailable("the Playwright client is missing: pip install -e '.[test]'") from exc
    month_dir = Path(month_dir)
    pages = sorted(month_dir.glob("*.html"))
    shots = month_dir / "screenshots"
    if screenshots:
        shots.mkdir(exist_ok=True)
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            for path in pages:
                results.append(_check_page(browser, path, shots if screenshots else None))
        finally:
            browser.close()
    return results


def _check_page(browser, path: Path, shots: Path | None) -> PageCheck:  # type: ignore[no-untyped-def]
    """Load one page in a fresh browser context and record every problem."""
    check = PageCheck(page=path.name)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda msg: check.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: check.console_errors.append(str(err)))
    page.on("requestfailed", lambda req: check.failed_requests.append(req.url))

    def block_network(route) -> None:  # type: ignore[no-untyped-def]
        # A published page must not reach the network: record the attempt and refuse it.
        check.external_requests.append(route.request.url)
        route.abort()

    context.route("http://**/*", block_network)
    context.route("https://**/*", block_network)
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.evaluate("document.fonts.ready")
    states = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
    check.images = len(states)
    check.broken_images = sum(1 for ok in states if not ok)
    if shots is not None:
        target = shots / f"{path.stem}.png"
        page.screenshot(path=str(target), full_page=True)
        check.screenshot = str(target)
    context.close()
    return check
