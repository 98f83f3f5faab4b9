"""The page checks find what they look for: a page built to break them is caught on each count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.checks import PHONE, SCREENSHOTS, look

if TYPE_CHECKING:
    from playwright.sync_api import Browser

BROKEN = """<!doctype html><html><body><main>
<img src="/nowhere.png">
<p style="color: #ccc; background: #fff">Pale text</p>
<form><button style="height: 20px">Go</button></form>
<div style="width: 900px">Too wide</div>
</main></body></html>"""


def test_the_checks_catch_a_broken_page(chromium: Browser, axe: str) -> None:
    context = chromium.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    page.set_content(BROKEN)
    try:
        problems = "\n".join(look(page, "checks-self-test", axe))
    finally:
        context.close()
        for width in (390, 1280):
            (SCREENSHOTS / f"checks-self-test-{width}.png").unlink(missing_ok=True)
    assert "page is 908 px wide for 390 px" in problems
    assert 'button "Go" is 20.0 px high' in problems
    for rule in ("image-alt (critical)", "color-contrast (serious)", "html-has-lang (serious)"):
        assert f"axe {rule}" in problems
