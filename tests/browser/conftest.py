"""Fixtures of the browser tests: two real instances on loopback (web and worker processes, mail to a real SMTP
server), Debian's Chromium driven by Playwright, and axe-core from the npm registry.

The whole folder is skipped, with the reason, when Chromium or Playwright is missing: ``.ci/run`` installs both.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from tests.browser.support import AXE_PATH, CHROMIUM, Mail, Visitor, fetch_axe, first, skip_reason
from tests.conftest import PASSWORD, Mailbox
from tests.e2e.servers import Server, loopback_available

if TYPE_CHECKING:
    from playwright.sync_api import Browser

A_ADDRESS, B_ADDRESS = ("127.0.0.2", "127.0.0.3") if loopback_available("127.0.0.2") else ("127.0.0.1", "127.0.0.1")
START_TIMEOUT = 90.0
BOB = "bob@b.test"
CAROL = "carol@b.test"
ADA = "ada@b.test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = skip_reason()
    if reason:
        here = Path(__file__).parent
        for item in items:
            if here in item.path.parents:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package")
def mail() -> Iterator[Mail]:
    """A real SMTP server on loopback that keeps what the instances send."""
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Mail(mailbox, port)
    finally:
        controller.stop()


@pytest.fixture(scope="package")
def servers(tmp_path_factory: pytest.TempPathFactory, mail: Mail) -> Iterator[tuple[Server, Server]]:
    """a: nobody yet (people sign up); b: bob, manager of restos (membership and entries moderated), carol and
    ada, the administrator."""
    folder = tmp_path_factory.mktemp("browser")
    a = Server(A_ADDRESS, folder / "a", smtp_port=mail.port, settings={"BENEVALIBRE_INSTANCE_NAME": "Entraide Nord"})
    b = Server(B_ADDRESS, folder / "b", smtp_port=mail.port, settings={"BENEVALIBRE_INSTANCE_NAME": "Entraide Sud"})
    try:
        seeds = [
            a.seed,
            lambda: b.seed(
                ["create-user", BOB, "--password", PASSWORD, "--name", "Bob Durand"],
                ["create-user", CAROL, "--password", PASSWORD, "--name", "Carole Petit"],
                ["create-user", ADA, "--password", PASSWORD, "--name", "Ada Lefèvre", "--admin"],
                [
                    "create-association",
                    "restos",
                    "--name",
                    "Les Restos du quartier",
                    "--owner",
                    BOB,
                    "--moderate-membership",
                    "--moderate-entries",
                ],
            ),
        ]
        with ThreadPoolExecutor(2) as pool:  # both at once: most of the time goes to starting Python
            list(pool.map(lambda seed: seed(), seeds))
        for server in (a, b):
            server.start_worker()
            server.start_web(wait=False)
        for server in (a, b):  # generous: on a busy machine, importing the app alone can take seconds
            server.wait_ready(worker=True, timeout=START_TIMEOUT)
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a loaded machine runs two instances, their workers and the browser
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def axe() -> str:
    """The source of axe-core, fetched with npm into .cache/ when it is not there yet."""
    fetch_axe()
    return AXE_PATH.read_text()


@pytest.fixture(scope="package")
def carol_member(servers: tuple[Server, Server]) -> Iterator[None]:
    """On b, carol is a member of restos with 2 h approved and 1 h pending (prepared with plain HTTP)."""
    _, b = servers
    bob, carol = Visitor(b.base_url, BOB), Visitor(b.base_url, CAROL)
    try:
        carol.submit("/associations/restos", "/associations/restos/join", {})
        members = bob.page("/associations/restos/members")
        member = first(r"(?s)Carole Petit.*?/associations/restos/members/(\d+)/approve", members)
        bob.submit("/associations/restos/members", f"/associations/restos/members/{member}/approve", {})
        form = carol.page("/entries/new?association=restos")
        category = first(r'(?s)id="f-category".*?<option value="(\d+)"', form)
        today = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
        for title, minutes in (("Accueil du public", "120"), ("Distribution du soir", "60")):
            entry = {"start_date": today, "duration": minutes, "title": title, "category": category}
            carol.submit("/entries/new?association=restos", "/entries/new", {"association": "restos", **entry})
        queue = bob.page("/associations/restos/moderation")
        entry_id = first(r'(?s)Accueil du public.*?name="approve_only" value="(\d+)"', queue)
        bob.submit(
            "/associations/restos/moderation", "/associations/restos/moderation/decide", {"approve_only": entry_id}
        )
        yield
    finally:
        bob.close()
        carol.close()
