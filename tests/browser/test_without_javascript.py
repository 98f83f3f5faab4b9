"""With JavaScript off, a volunteer logs time with a duration button or hours and minutes, and a visitor changes
the language: the forms work on their own, the small script of the entry form only saves a click."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.checks import PHONE
from tests.browser.conftest import CAROL
from tests.browser.support import log_in
from tests.e2e.servers import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_logging_time_without_javascript(chromium: Browser, servers: tuple[Server, Server], carol_member: None) -> None:
    _, b = servers
    context = chromium.new_context(viewport=PHONE, is_mobile=True, locale="en", java_script_enabled=False)
    page = context.new_page()
    log_in(page, b, CAROL)

    page.goto(f"{b.base_url}/entries/new")
    page.get_by_label("2 h", exact=True).check()
    page.fill("#f-title", "Rangement de la réserve")
    page.get_by_role("button", name="Save", exact=True).click()
    page.goto(f"{b.base_url}/entries")
    expect(page.locator("tr", has_text="Rangement de la réserve")).to_contain_text("2 h")

    # hours and minutes show once "Other" is chosen: style sheets only
    page.goto(f"{b.base_url}/entries/new")
    expect(page.locator("#f-hours")).to_be_hidden()
    page.get_by_label("Other", exact=True).check()
    expect(page.locator("#f-hours")).to_be_visible()
    page.fill("#f-hours", "1")
    page.fill("#f-minutes", "15")
    page.fill("#f-title", "Inventaire")
    page.get_by_role("button", name="Save", exact=True).click()
    page.goto(f"{b.base_url}/entries")
    expect(page.locator("tr", has_text="Inventaire")).to_contain_text("1 h 15")
    context.close()


def test_changing_the_language_without_javascript(chromium: Browser, servers: tuple[Server, Server]) -> None:
    _, b = servers
    context = chromium.new_context(viewport=PHONE, locale="fr", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{b.base_url}/associations")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.select_option("#language-choice", "en")
    page.locator(".language-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{b.base_url}/associations")
    context.close()
