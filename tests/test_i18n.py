"""Translations: both catalogs are complete, and pages come out in the chosen language."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from instance import i18n
from tests.conftest import post_form

ROOT = Path(__file__).parent.parent


def test_french_and_english_catalogs_are_complete() -> None:
    result = subprocess.run(  # noqa: S603 (our own tool)
        [sys.executable, str(ROOT / "tools" / "messages.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, "run `make messages` and translate:\n" + result.stdout[-3000:]


def test_language_negotiation() -> None:
    assert i18n.negotiate("en-GB,en;q=0.9,fr;q=0.5") == "en"
    assert i18n.negotiate("de-DE,fr;q=0.3") == "fr"
    assert i18n.negotiate("de-DE", default="en") == "en"
    assert i18n.negotiate("fr;q=0.2,en;q=0.8") == "en"


def test_french_catalog_translates_a_message() -> None:
    with i18n.language("fr"):
        assert i18n.gettext("Log in") != "Log in"
    with i18n.language("en"):
        assert i18n.gettext("Log in") == "Log in"


async def test_language_switch_is_remembered(client: httpx.AsyncClient) -> None:
    response = await post_form(client, "/language", {"language": "en", "next": "/"})
    assert response.status_code == 303
    page = await client.get("/", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in page.text
    away = await post_form(client, "/language", {"language": "fr", "next": "https://evil.example/"})
    assert away.headers["location"] == "/"
