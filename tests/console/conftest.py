"""Fixtures of the console tests: a real headless Chromium driven by Playwright, and pages that record errors."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright

# The flags of a quiet, sandbox-free headless run (CI runs as root in a container).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEY_ITEM = "taskgate.apiKey"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless system Chromium; fail (never skip) with an install hint when it is missing."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium chromium-driver (.ci/run installs it)")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


@dataclass
class Tab:
    """A page and every console error or uncaught exception it showed."""

    page: Page
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_tab(browser: Browser) -> Callable[..., object]:
    """Return ``open(base_url, key=None, width=1280, dark=False)``: a new page recording errors.

    ``key`` is preset in the tab's sessionStorage; ``dark`` asks for the dark colour scheme.
    """

    async def open_(
        base_url: str, key: str | None = None, width: int = 1280, height: int = 900, dark: bool = False
    ) -> Tab:
        context = await browser.new_context(
            base_url=base_url,
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
        )
        if key:
            await context.add_init_script(f"sessionStorage.setItem({KEY_ITEM!r}, {key!r})")
        page = await context.new_page()
        tab = Tab(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                tab.errors.append(f"{message.text} at {message.location.get('url')}")

        def on_error(error: Error) -> None:
            tab.errors.append(f"uncaught: {error.message}")

        page.on("console", on_console)
        page.on("pageerror", on_error)
        page.on("dialog", lambda dialog: dialog.accept())
        return tab

    return open_
