"""What the browser tests need besides the instances: Chromium, axe-core, the mail the instances send, and a few
plain-HTTP steps that prepare data (so that the browser time goes to what is being tested)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.conftest import CSRF_RE, PASSWORD, Mailbox
from tests.e2e.servers import ROOT, Server

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Debian's Chromium, or the one named by $CHROMIUM (another build, another system)
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE_VERSION = "4.14.1"
AXE_FOLDER = ROOT / ".cache" / "axe-core"
AXE_PATH = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
MAIL_TIMEOUT = 20.0
FEDERATION_TIMEOUT = 30.0


def skip_reason() -> str:
    """Why the browser tests cannot run here, or "" when they can."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium, or set CHROMIUM); .ci/run installs it"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    return ""


def fetch_axe() -> None:
    """Put axe-core in .cache/axe-core with npm, once (.ci/run does it before the tests)."""
    if AXE_PATH.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch axe-core for the accessibility checks")
    subprocess.run(  # noqa: S603 (a fixed command line)
        [
            npm,
            "install",
            "--prefix",
            str(AXE_FOLDER),
            "--no-save",
            "--no-audit",
            "--no-fund",
            f"axe-core@{AXE_VERSION}",
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "npm_config_update_notifier": "false"},
    )


@dataclass
class Mail:
    """The real SMTP server the instances send to."""

    mailbox: Mailbox
    port: int

    def link(self, to: str, base_url: str, path_prefix: str) -> str:
        """The first link to ``base_url + path_prefix…`` in a mail to ``to``, once it has arrived."""
        pattern = re.compile(re.escape(base_url + path_prefix) + r"\S+")
        deadline = time.monotonic() + MAIL_TIMEOUT
        while time.monotonic() < deadline:
            for message in self.mailbox.to(to):
                found = pattern.search(Mailbox.body(message))
                if found:
                    return found.group(0)
            time.sleep(0.2)
        raise AssertionError(f"no mail to {to} with a link to {path_prefix} after {MAIL_TIMEOUT} s")


class Visitor:
    """Someone using an instance with plain HTTP requests (no browser): forms are sent with their CSRF token."""

    def __init__(self, base_url: str, email: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Accept-Language": "en"}, timeout=10.0)
        self.submit("/login", "/login", {"email": email, "password": PASSWORD})

    def page(self, path: str) -> str:
        response = self.http.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        return response.text

    def submit(self, page: str, action: str, data: dict[str, str]) -> httpx.Response:
        token = CSRF_RE.search(self.page(page))
        assert token is not None, f"no form on {page}"
        response = self.http.post(action, data={"csrf_token": token.group(1), **data})
        assert response.status_code == 303, f"{action}: {response.status_code} {response.text[:500]}"
        return response

    def close(self) -> None:
        self.http.close()


def first(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not found"
    return found.group(1)


# -- in the browser ----------------------------------------------------------------------------------------


def log_in(page: Page, server: Server, email: str) -> None:
    page.goto(f"{server.base_url}/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def until(page: Page, url: str, seen: Callable[[Page], bool], what: str, servers: tuple[Server, ...]) -> None:
    """Reload ``url`` until ``seen``: what comes from the other instance arrives through the workers."""
    deadline = time.monotonic() + FEDERATION_TIMEOUT
    while time.monotonic() < deadline:
        page.goto(url)
        if seen(page):
            return
        time.sleep(0.3)
    raise AssertionError(f"{what}: not after {FEDERATION_TIMEOUT} s\n" + "\n".join(s.logs() for s in servers))
