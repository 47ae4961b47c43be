"""Screenshots of the console for people to look at (docs/console.md):

    python -m tests.support.console_screens http://127.0.0.1:6080 OUT-DIR

Signs in as the demo operator `tver`, gives the busiest incident of the queue an
interim answer (so the card shows an action the pipeline applied), and writes
console-queue-1400.png, console-card-1400.png, console-queue-390.png and
console-card-390.png (long pages are cut at a few screens).
"""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

from tests.support.browser import Browser, Page
from tests.support.chromium import goto, login, submit, wait_js


async def shot(page: Page, path: Path, height: int) -> None:
    size = (await page.send("Page.getLayoutMetrics"))["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(height, size["height"])}
    r = await page.send(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}},
    )
    path.write_bytes(base64.b64decode(r["data"]))
    print(path)


async def main(base: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    async with Browser() as browser:
        page = await login(browser, base, "tver", 1400)
        rows = await page.evaluate(
            "Array.from(document.querySelectorAll('#queue tr.row'), (r) => [r.dataset.id,"
            " Number(r.querySelector('td.n').firstChild.textContent.trim())])"
        )
        target = max(rows, key=lambda r: r[1])[0]
        await goto(page, f"{base}/incident/{target}")
        await submit(
            page,
            'form[action$="/respond"]',
            {
                "kind": "interim",
                "text": "Здравствуйте! Обращение принято в работу, выезд бригады — завтра.",
            },
            "button[value=respond]",
        )
        await wait_js(page, "!!document.querySelector('.pending li.applied')", "the answer")
        for width, queue_h, card_h in ((1400, 1100, 2600), (390, 2200, 5000)):
            await page.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
            )
            await goto(page, f"{base}/?w={width}")
            await shot(page, out / f"console-queue-{width}.png", queue_h)
            await goto(page, f"{base}/incident/{target}")
            await page.evaluate(
                "document.querySelectorAll('details.copies').forEach(d => d.open = true); true"
            )
            await shot(page, out / f"console-card-{width}.png", card_h)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/"), Path(sys.argv[2])))
