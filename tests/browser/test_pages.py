"""Every main page, in French and in English, as a visitor, a volunteer (carol), a manager (bob) and the
administrator (ada) see it on b:
a screenshot at 390 px and at 1280 px, no sideways scrolling and 44 px tap targets on the phone, and no serious
or critical accessibility violation found by axe-core."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from tests.browser.checks import DESKTOP, look
from tests.browser.conftest import ADA, BOB, CAROL
from tests.browser.support import log_in
from tests.e2e.servers import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

RESTOS = "/associations/restos"
PAGES: dict[str, list[str]] = {
    "visitor": ["/", "/login", "/register", "/associations", RESTOS, "/about", "/password/reset", "/verify"],
    "volunteer": [
        "/dashboard",
        "/entries/new",
        "/entries",
        "/me",
        "/me/edit",
        "/me/attestation",
        f"/me/attestation?association=restos&year={dt.date.today().year}",
        "/me/record",
        "/me/data",
        "/follows",
        "/notifications",
    ],
    "manager": [
        RESTOS,
        f"{RESTOS}/edit",
        f"{RESTOS}/members",
        f"{RESTOS}/roles",
        f"{RESTOS}/moderation",
        f"{RESTOS}/projects",
        f"{RESTOS}/categories",
        f"{RESTOS}/levels",
        f"{RESTOS}/statistics",
        f"{RESTOS}/valuation",
        f"{RESTOS}/exports",
    ],
    "admin": [
        "/admin",
        "/admin/users",
        "/admin/settings",
        "/admin/announcements",
        "/admin/statistics",
        "/admin/federation",
        "/admin/mail",
    ],
}
ACCOUNTS = {"visitor": None, "volunteer": CAROL, "manager": BOB, "admin": ADA}


def slug(path: str) -> str:
    name = path.strip("/").replace("/", "-").replace("?", "-").replace("&", "-").replace("=", "-")
    return name or "home"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_main_pages_at_phone_and_desktop_widths(
    language: str, chromium: Browser, servers: tuple[Server, Server], carol_member: None, axe: str
) -> None:
    _, b = servers
    problems: list[str] = []
    for who, paths in PAGES.items():
        context = chromium.new_context(viewport=DESKTOP, locale=language, bypass_csp=True)
        page = context.new_page()
        account = ACCOUNTS[who]
        if account is not None:
            log_in(page, b, account)
        for path in paths:
            response = page.goto(b.base_url + path)
            assert response is not None and response.status == 200, f"{who} {path}: {response and response.status}"
            assert page.locator("html").get_attribute("lang") == language, f"{who} {path} is not in {language}"
            problems += look(page, f"{language}-{who}-{slug(path)}", axe)
        context.close()
    assert not problems, "\n".join(problems)
