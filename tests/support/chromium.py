"""A thin layer over tests/support/browser.py for clicking through the console."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.support.browser import Browser, BrowserError, Page


async def wait_js(page: Page, expression: str, what: str, timeout: float = 90.0) -> Any:
    """Poll a script until it returns something truthy (a navigation in between is fine)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await page.evaluate(expression)
        except BrowserError as exc:  # the page is navigating
            last = str(exc)
        else:
            if last:
                return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"gave up waiting for {what}; last: {last!r}")


async def goto(page: Page, url: str) -> None:
    await page.evaluate(f"location.href = {json.dumps(url)}; true")
    await wait_js(
        page,
        f"location.href === {json.dumps(url)} && document.readyState === 'complete'",
        f"page {url}",
    )


async def login(browser: Browser, base: str, name: str, width: int = 1400) -> Page:
    """Sign in through the form, as a person would; returns the queue page."""
    page = await browser.open(base + "/login", width)
    await page.evaluate(
        f"""(() => {{
        document.querySelector('input[name=name]').value = {json.dumps(name)};
        document.querySelector('input[name=password]').value = 'demo';
        document.querySelector('form.login-box button').click(); return true }})()"""
    )
    await wait_js(
        page,
        "location.pathname === '/' && document.readyState === 'complete' && "
        "!!document.querySelector('#queue')",
        f"{name}'s queue",
    )
    return page


async def submit(page: Page, form_selector: str, fields: dict[str, str], button: str) -> None:
    """Fill a form's fields and press one of its buttons."""
    await page.evaluate(
        f"""(() => {{
        const form = document.querySelector({json.dumps(form_selector)});
        const fields = {json.dumps(fields)};
        for (const [name, value] of Object.entries(fields)) {{
          const el = form.querySelector(`[name="${{name}}"]`);
          if (el.type === 'radio') {{
            form.querySelector(`[name="${{name}}"][value="${{value}}"]`).checked = true;
          }} else {{ el.value = value; }}
        }}
        form.querySelector({json.dumps(button)}).click();
        return true }})()"""
    )
