"""Untrusted text in every field people type: markup, template syntax, SQL and LIKE wildcards, control characters
and very long values go through the real forms, and every page that shows them again is read back.

Every HTML page a browser of these tests fetches is checked by :class:`Watch`: no server error, no payload markup
left raw (``<script>alert``, ``<img src=x``), no ``href`` with a ``javascript:`` scheme. ``World.shown`` then checks
that a value is really there, escaped (so that a page that lost it cannot pass for a safe one).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from base64 import b64encode
from dataclasses import dataclass
from email.header import decode_header, make_header
from typing import Any
from urllib.parse import urlencode

import httpx
import itsdangerous
import openpyxl
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from defusedxml import ElementTree
from markupsafe import escape
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.keys import generate_rsa, load_rsa_private, public_pem
from federation.local_keys import SigningKeys
from instance.models import Association, Category, Flag, Level, Project, Role, TimeEntry, User
from instance.runtime import Instance
from instance.services.associations import create_association
from instance.worker import Worker
from tests.accounts_support import browser
from tests.api_support import world as api_world
from tests.associations_support import smtp_settings
from tests.conftest import CSRF_RE, PASSWORD, Mailbox, create_user, log_in, make_client, post_form
from tests.federation_entries_support import MIRROR, Members
from tests.federation_support import Pair, Side, post_signed
from tests.test_import_support import StandInOrigin, export_for, mail_settings, origin, preview_then_import, vector
from tests.test_import_support import upload as import_upload
from tests.test_reports_support import add_member, quick_user, sign_in
from web.app import SESSION_COOKIE

SCRIPT = '<script>alert("x1")</script>'
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
TEMPLATE = "{{7*7}} {% raw %}x3{% endraw %}"
SQL = "'; DROP TABLE users; --"
LIKE = "%' OR '1'='1"
JAVASCRIPT = "javascript:alert(6)"
PAYLOADS = (SCRIPT, ATTRIBUTE, TEMPLATE, SQL, LIKE, JAVASCRIPT)
FORMULAS = ("=1+2", "+3-4", "-5+6", "@SUM(A1)")
CONTROL = "bell\x07 escape\x1b[31m right-to-left\u202e nul\x00 end"

__all__ = ["origin"]  # the stand-in Bénévalibre server, a fixture

# what must never reach a page: the payloads' markup left as markup, or a link that runs script
RAW = re.compile(r"<script>alert|<img src=x|href\s*=\s*[\"']?\s*(javascript|vbscript|data):", re.IGNORECASE)
ODS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


@pytest.fixture
def settings_overrides(smtp: tuple[Mailbox, int]) -> dict[str, Any]:
    return mail_settings(smtp)  # the real mail server, and the stand-in Bénévalibre server on loopback allowed


class Watch:
    """An httpx response hook: every page fetched is read and checked; counts the HTML pages."""

    def __init__(self) -> None:
        self.pages = 0

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        where = f"{response.request.method} {response.request.url.path}"
        assert response.status_code < 500, f"{where}: {response.status_code}"
        if response.headers.get("content-type", "").startswith("text/html"):
            self.pages += 1
            found = RAW.search(response.text)
            assert found is None, f"{where} holds {found.group(0)!r} raw"


@dataclass
class World:
    app: Starlette
    instance: Instance
    watch: Watch
    restos: Association
    root: httpx.AsyncClient  # the instance's administrator
    mia: httpx.AsyncClient  # manages restos
    vic: httpx.AsyncClient  # a volunteer of restos

    async def browser(self, user: User) -> httpx.AsyncClient:
        client = make_client(self.app)
        client.headers["Accept-Language"] = "en"
        client.event_hooks["response"] = [self.watch]
        return await sign_in(client, self.instance, user)

    async def shown(self, client: httpx.AsyncClient, path: str, *values: str) -> None:
        """The page at ``path`` shows each of ``values``, escaped (and, as every page, nothing raw)."""
        page = await client.get(path)
        assert page.status_code == 200, f"{path}: {page.status_code}"
        for value in values:
            assert str(escape(value)) in page.text, f"{path} does not show {value!r}"

    async def category(self) -> int:
        return await self.newest(Category)

    async def newest(self, model: type[Category] | type[Level] | type[Project] | type[Role]) -> int:
        async with self.instance.sessions() as db:
            found = await db.scalar(
                select(model.id).where(model.association_id == self.restos.id).order_by(model.id.desc())
            )
        assert found is not None
        return int(found)

    async def last_entry(self) -> TimeEntry:
        async with self.instance.sessions() as db:
            entry = await db.scalar(select(TimeEntry).order_by(TimeEntry.id.desc()))
        assert entry is not None
        return entry


@pytest.fixture
async def world(app: Starlette, instance: Instance) -> World:
    root = await quick_user(instance, "root@example.org", "root", "Root", admin=True)
    mia = await quick_user(instance, "mia@example.org", "mia", "Mia Manager")
    vic = await quick_user(instance, "vic@example.org", "vic", "Vic Volunteer")
    async with instance.sessions() as db:
        for user in (root, mia, vic):
            row = await db.get(User, user.id)
            assert row is not None
            row.language = "en"
        restos = await create_association(db, instance.settings, mia, handle="restos", name="Restos", approved=True)
        await add_member(db, restos, vic, "Bénévole")
        await db.commit()
    made = World(app, instance, Watch(), restos, make_client(app), make_client(app), make_client(app))
    made.root, made.mia, made.vic = [await made.browser(u) for u in (root, mia, vic)]
    return made


SCRIPT_ADDRESSES = (
    "javascript:alert(6)",
    " JaVaScRiPt:alert(7)",
    "data:text/html,<script>alert(8)</script>",
    "vbscript:msgbox(9)",
    "java\tscript:alert(10)",
    "//evil.example/x",
    "https://exa mple.org",
)


def entry_form(category: int, **values: str) -> dict[str, str]:
    return {
        "association": "restos",
        "start_date": dt.date.today().isoformat(),
        "duration": "60",
        "title": "Tri",
        "category": str(category),
        **values,
    }


async def mails(worker: Worker, mailbox: Mailbox, address: str) -> list[tuple[str, str, str]]:
    """(subject, content type, body) of every mail ``address`` received."""
    await worker.run_until_idle()
    return [
        (str(make_header(decode_header(m["Subject"]))), m.get_content_type(), Mailbox.body(m))
        for m in mailbox.to(address)
    ]


def plain_text_mails_hold(found: list[tuple[str, str, str]], *values: str) -> None:
    """Mails are plain text (no HTML part to escape for), and hold each value as it was typed."""
    assert found
    assert {content_type for _subject, content_type, _body in found} == {"text/plain"}
    everything = "\n".join(subject + "\n" + body for subject, _type, body in found)
    for value in values:
        assert value in everything, value


# -- time entries: title, description, rejection reason ------------------------------------------------------


async def test_entry_texts_are_shown_escaped_on_every_page_and_kept_as_typed_in_mails(
    world: World, worker: Worker, smtp: tuple[Mailbox, int]
) -> None:
    category = await world.category()
    for index, payload in enumerate(PAYLOADS):
        description = f"{payload} (described {index})"
        reason = f"{payload} (reason {index})"
        data = entry_form(category, title=payload, description=description)
        assert (await post_form(world.vic, "/entries/new", data, page="/entries/new")).status_code == 303
        entry = await world.last_entry()
        await world.shown(world.vic, "/entries", payload)
        await world.shown(world.vic, f"/entries/{entry.id}/edit", payload, description)
        await world.shown(world.mia, "/associations/restos/moderation", payload, description)
        await world.shown(world.mia, "/notifications", payload)

        decided = await post_form(
            world.mia,
            "/associations/restos/moderation/decide",
            {"reject_only": str(entry.id), "reason": reason, "back": "status=all"},
            page="/associations/restos/moderation",
        )
        assert decided.status_code == 303
        await world.shown(world.vic, "/entries", payload, reason)
        await world.shown(world.vic, "/notifications", payload, reason)
        await world.shown(world.mia, "/associations/restos/moderation?status=rejected", payload, reason)

        withdrawn = await post_form(world.vic, f"/entries/{entry.id}/withdraw", {}, page="/entries")
        assert withdrawn.status_code == 303
        await world.shown(world.vic, "/entries", payload)  # the flash message names it

    plain_text_mails_hold(await mails(worker, smtp[0], "vic@example.org"), *PAYLOADS)
    plain_text_mails_hold(await mails(worker, smtp[0], "mia@example.org"), *PAYLOADS)


async def test_time_entered_for_others_and_through_anonymous_links_is_shown_escaped(world: World) -> None:
    category = await world.category()
    for index, payload in enumerate(PAYLOADS):
        participant = f"{payload} p{index}"
        data = {**entry_form(category, title=f"t{index} {payload}"), "participant_name": participant}
        entered = await post_form(world.mia, "/associations/restos/moderation/new", data, page="/associations/restos")
        assert entered.status_code == 303
        await world.shown(world.mia, "/associations/restos/moderation?status=all", participant, f"t{index} {payload}")

        link_name = f"{payload} link {index}"
        made = await post_form(
            world.mia, "/associations/restos/anonymous-links", {"name": link_name}, page="/associations/restos"
        )
        assert made.status_code == 303
        links = await world.mia.get("/associations/restos/anonymous-links")
        await world.shown(world.mia, "/associations/restos/anonymous-links", link_name)
        tokens = re.findall(r"/a/([A-Za-z0-9_-]+)", links.text)
        assert tokens
        stranger = make_client(world.app)
        stranger.headers["Accept-Language"] = "en"
        stranger.event_hooks["response"] = [world.watch]
        path = f"/a/{tokens[0]}"
        await world.shown(stranger, path, "Restos")
        anonymous = {**entry_form(category, title=f"a{index} {payload}"), "participant_name": f"{payload} a{index}"}
        assert (await post_form(stranger, path, anonymous, page=path)).status_code == 303
        await world.shown(stranger, path, f"a{index} {payload}")  # the thank-you message names it
        await world.shown(world.mia, "/associations/restos/moderation", f"{payload} a{index}", f"a{index} {payload}")
        assert (await post_form(stranger, path, {**anonymous, "participant_name": ""}, page=path)).status_code == 400


# -- the catalog and the roles ---------------------------------------------------------------------------------


async def test_catalog_and_role_names_are_shown_escaped_wherever_they_are_offered(world: World) -> None:
    for index, payload in enumerate(PAYLOADS):
        names = {kind: f"{payload} {kind[0]}{index}" for kind in ("categories", "levels", "projects")}
        description = f"{payload} about {index}"
        for kind, name in names.items():
            data = {"name": name, "description": description, "common_category": "other", "hourly_rate": "12"}
            response = await post_form(world.mia, f"/associations/restos/{kind}", data, page="/associations/restos")
            assert response.status_code == 303, response.text
            await world.shown(world.mia, f"/associations/restos/{kind}", name)
        category, level, project = [await world.newest(m) for m in (Category, Level, Project)]
        await world.shown(
            world.mia, f"/associations/restos/categories/{category}/edit", names["categories"], description
        )
        await world.shown(world.mia, f"/associations/restos/levels/{level}/edit", names["levels"], description)
        await world.shown(world.mia, f"/associations/restos/projects/{project}/edit", names["projects"], description)

        entry = entry_form(category, title=f"e{index}", level=str(level), project=str(project), duration="120")
        assert (await post_form(world.vic, "/entries/new", entry, page="/entries/new")).status_code == 303
        await world.shown(world.vic, "/entries/new", *names.values())
        await world.shown(world.vic, "/entries", *names.values())
        await world.shown(world.mia, "/associations/restos/moderation", names["categories"], names["projects"])
        last = await world.last_entry()
        assert (
            await post_form(
                world.mia,
                "/associations/restos/moderation/decide",
                {"approve_only": str(last.id)},
                page="/associations/restos/moderation",
            )
        ).status_code == 303
        year = dt.date.today().year
        await world.shown(world.mia, f"/associations/restos/statistics?year={year}", *names.values())
        await world.shown(world.mia, f"/associations/restos/valuation?year={year}", names["levels"])
        await world.shown(world.mia, "/associations/restos/exports", names["categories"], names["projects"])
        await world.shown(world.vic, f"/me/attestation?association=restos&year={year}", f"e{index}")

        role = f"{payload} r{index}"
        made = await post_form(
            world.mia, "/associations/restos/roles/new", {"name": role, "description": description}, page="/"
        )
        assert made.status_code == 303, made.text
        await world.shown(world.mia, "/associations/restos/roles", role, description)
        await world.shown(world.mia, f"/associations/restos/roles/{await world.newest(Role)}/edit", role, description)
        await world.shown(world.mia, "/associations/restos/members", role)


# -- associations, accounts, news and messages ----------------------------------------------------------------


async def test_association_fields_are_shown_escaped_and_a_script_address_is_refused(world: World) -> None:
    for index, payload in enumerate(PAYLOADS):
        name, description = f"{payload} n{index}", f"{payload}\n\nsecond paragraph {index}"
        data = {
            "handle": f"club{index}",
            "name": name,
            "description": description,
            "website": f"https://example.org/{index}?q={payload.replace(' ', '+')}",
            "moderate_entries": "1",
        }
        created = await post_form(world.vic, "/associations/new", data, page="/associations/new")
        assert created.status_code == 303, created.text
        profile = f"/associations/club{index}"
        await world.shown(world.vic, profile, name, payload, data["website"])
        await world.shown(world.vic, f"{profile}/edit", name, data["website"])
        await world.shown(world.vic, "/associations", name)
        await world.shown(world.vic, f"/associations?{urlencode({'q': payload})}", payload)  # kept in the search box
        await world.shown(world.vic, "/me", name)
        await world.shown(world.root, "/admin/users?q=vic", "Vic Volunteer")
        refused = await post_form(world.vic, f"{profile}/edit", {**data, "postal_code": payload}, page=profile)
        assert refused.status_code == 400
        assert "postal code" in refused.text and str(escape(payload)) in refused.text

    for address in SCRIPT_ADDRESSES:
        data = {"name": "Club 0 again", "website": address}
        refused = await post_form(world.vic, "/associations/club0/edit", data, page="/associations/club0")
        assert refused.status_code == 400, address
        assert "https://" in refused.text
        await world.shown(world.vic, "/associations/club0")
        assert address.strip() not in (await world.vic.get("/associations/club0")).text


async def test_names_people_give_themselves_are_shown_escaped(world: World) -> None:
    category = await world.category()
    assert (await post_form(world.vic, "/entries/new", entry_form(category), page="/entries/new")).status_code == 303
    for index, payload in enumerate(PAYLOADS):
        display, pseudonym = f"{payload} v{index}", f"{payload} ps{index}"
        saved = await post_form(world.vic, "/me/edit", {"display_name": display, "pseudonym": ""}, page="/me/edit")
        assert saved.status_code == 303
        await world.shown(world.vic, "/me", display)
        await world.shown(world.vic, "/me/edit", display)
        await world.shown(world.mia, "/associations/restos/members", display)
        await world.shown(world.mia, "/associations/restos/moderation", display)
        await world.shown(world.root, "/admin/users", display)
        saved = await post_form(world.vic, "/me/edit", {"display_name": display, "pseudonym": pseudonym}, page="/me")
        assert saved.status_code == 303
        await world.shown(world.mia, "/associations/restos/members", pseudonym)
        await world.shown(world.mia, "/associations/restos/moderation/new", pseudonym)

        stranger = make_client(world.app)
        stranger.event_hooks["response"] = [world.watch]
        data = {"email": f"new{index}@example.org", "display_name": display, "pseudonym": pseudonym, "handle": payload}
        refused = await post_form(stranger, "/register", {**data, "password": "short"}, page="/register")
        assert refused.status_code == 400
        assert str(escape(display)) in refused.text and str(escape(payload)) in refused.text


async def test_news_join_messages_tokens_and_reports_are_shown_escaped(
    world: World, instance: Instance, worker: Worker, smtp: tuple[Mailbox, int]
) -> None:
    async with instance.sessions() as db:
        restos = await db.get(Association, world.restos.id)
        assert restos is not None
        restos.moderate_membership = True
        await db.commit()
    for index, payload in enumerate(PAYLOADS):
        note = f"{payload}\nnews {index}"
        assert (await post_form(world.mia, "/associations/restos/news", {"text": note}, page="/")).status_code == 303
        await world.shown(world.mia, "/associations/restos", payload, f"news {index}")
        await world.shown(world.vic, "/associations/restos", payload)
        await world.shown(world.vic, "/notifications", payload)

        token = f"{payload} token {index}"
        made = await post_form(world.vic, "/me/tokens", {"name": token, "scope": "read"}, page="/me/tokens")
        assert made.status_code == 200 and str(escape(token)) in made.text
        await world.shown(world.vic, "/me/tokens", token)

    category = await world.category()
    assert (
        await post_form(world.vic, "/entries/new", entry_form(category, title=SQL), page="/entries/new")
    ).is_redirect
    entry = await world.last_entry()
    for kind, target, reason in (
        ("association", "restos", f"{SCRIPT} report"),
        ("user", "mia", f"{ATTRIBUTE} report"),
        ("entry", str(entry.id), f"{LIKE} report"),
    ):
        await world.shown(world.vic, f"/report?kind={kind}&target={target}", "Restos" if kind != "user" else "Mia")
        sent = await post_form(world.vic, "/report", {"kind": kind, "target": target, "reason": reason})
        assert sent.status_code == 303
        await world.shown(world.root, "/admin/reports", reason)
    await world.shown(world.root, "/admin/reports", SQL)  # the entry's title, in the report's label

    joiner = await quick_user(instance, "joe@example.org", "joe", SCRIPT)
    joe = await world.browser(joiner)
    message = f"{ATTRIBUTE} let me in"
    assert (await post_form(joe, "/associations/restos/join", {"message": message}, page="/")).status_code == 303
    await world.shown(world.mia, "/associations/restos/members", message, SCRIPT)
    await world.shown(world.mia, "/notifications", SCRIPT)
    async with instance.sessions() as db:
        flag_id = await db.scalar(select(Flag.id))
    assert flag_id is not None
    resolution = f"{TEMPLATE} done"
    resolved = await post_form(world.root, f"/admin/reports/{flag_id}/resolve", {"resolution": resolution})
    assert resolved.status_code == 303
    await world.shown(world.root, "/admin/reports?state=resolved", resolution)
    await world.shown(world.vic, "/notifications", resolution)
    plain_text_mails_hold(await mails(worker, smtp[0], "mia@example.org"), SCRIPT)
    plain_text_mails_hold(await mails(worker, smtp[0], "root@example.org"), SCRIPT)


async def test_what_administrators_write_is_shown_escaped(world: World, instance: Instance) -> None:
    for index, payload in enumerate(PAYLOADS):
        title, body = f"{payload} title {index}", f"{payload}\n\nbody {index}"
        data = {"title": title, "body": body, "audience": "everyone", "banner": "1", "notify": "1"}
        assert (await post_form(world.root, "/admin/announcements", data, page="/admin")).status_code == 303
        await world.shown(world.root, "/admin/announcements", title)
        await world.shown(world.vic, "/", title, payload)  # the banner, on every page
        await world.shown(world.vic, "/notifications", title)

        settings = {
            "instance_name": f"{payload} {index}"[:100],
            "description": body,
            "charter": f"{payload} charter",
            "contact": "https://example.org/contact" if index % 2 else "admins@example.org",
        }
        saved = await post_form(world.root, "/admin/settings", settings, page="/admin/settings")
        assert saved.status_code == 303, saved.text
        await world.shown(world.vic, "/about", settings["instance_name"], payload, settings["contact"])
        await world.shown(world.vic, "/", settings["instance_name"])
        plain = await post_form(world.root, "/admin/settings", {**settings, "contact": JAVASCRIPT}, page="/admin")
        assert plain.status_code == 303  # any text is a contact; only https:// and mail addresses become links
        await world.shown(world.vic, "/about", JAVASCRIPT)

        blocked = await post_form(
            world.root,
            "/admin/federation/domains",
            {"action": "block", "domain": f"evil{index}.example", "reason": f"{payload} blocked"},
            page="/admin/federation",
        )
        assert blocked.status_code == 303
        await world.shown(world.root, "/admin/federation", f"{payload} blocked")

    async with instance.sessions() as db:
        owner = await db.scalar(select(User).where(User.handle == "mia"))
        assert owner is not None
        pending = await create_association(
            db, instance.settings, owner, handle="wait", name=SCRIPT, description=ATTRIBUTE, approved=False
        )
        await db.commit()
    await world.shown(world.root, "/admin", SCRIPT)
    refused = await post_form(world.root, f"/admin/associations/{pending.id}/refuse", {"reason": f"{ATTRIBUTE} no"})
    assert refused.status_code == 303
    await world.shown(world.mia, "/associations/wait", SCRIPT, f"{ATTRIBUTE} no")
    await world.shown(world.mia, "/notifications", SCRIPT)


# -- searches and filters ----------------------------------------------------------------------------------------


async def test_sql_and_wildcards_in_searches_and_filters_match_only_themselves(world: World) -> None:
    category = await world.category()
    assert (await post_form(world.vic, "/entries/new", entry_form(category), page="/entries/new")).status_code == 303
    nothing = "%"  # a LIKE wildcard taken as such would match every row
    for value in (*PAYLOADS, nothing, "_", "\\", "restos' --", "9" * 30, "9" * 5000, "٣", "-1", "2025-13-45"):
        pages = {
            world.vic: [
                ("/associations", {"q": value}),
                ("/entries", {"association": value, "category": value, "status": value, "from": value, "to": value}),
                ("/entries", {"page": value}),
                ("/entries/new", {"association": value}),
                ("/dashboard", {"year": value}),
                ("/me/cec", {"year": value}),
                ("/report", {"kind": "entry", "target": value}),
            ],
            world.mia: [
                ("/associations/restos/moderation", {k: value for k in ("member", "project", "category", "from")}),
                ("/associations/restos/moderation", {"status": value, "page": value}),
                ("/associations/restos/statistics", {"year": value}),
                ("/associations/restos/export.csv", {"from": value, "to": value, "project": value}),
            ],
            world.root: [
                ("/admin/users", {"q": value, "page": value}),
                ("/admin/federation", {"q": value}),
                ("/admin/federation/queue", {"domain": value}),
                ("/admin/federation/actors", {"q": value}),
                ("/admin/statistics", {"year": value}),
            ],
        }
        for client, queries in pages.items():
            for path, params in queries:
                response = await client.get(path, params=params)
                assert response.status_code in (200, 400, 404), (path, value[:20], response.status_code)
        found = await world.vic.get("/associations", params={"q": value})
        assert 'href="/associations/restos"' not in found.text, value
        users = await world.root.get("/admin/users", params={"q": value})
        assert "mia@example.org" not in users.text, value
    assert 'href="/associations/restos"' in (await world.vic.get("/associations", params={"q": "rest"})).text
    assert "mia@example.org" in (await world.root.get("/admin/users", params={"q": "mia"})).text
    async with world.instance.sessions() as db:  # the tables are all still there
        assert await db.scalar(select(func.count()).select_from(User)) == 3


# -- control characters and very long values ---------------------------------------------------------------------


async def test_control_characters_never_break_a_form(world: World) -> None:
    """A NUL is dropped (no database text holds one); other control characters are kept as text."""
    category = await world.category()
    forms = [
        (world.vic, "/entries/new", entry_form(category, title=CONTROL, description=CONTROL)),
        (world.vic, "/me/edit", {"display_name": CONTROL, "pseudonym": CONTROL}),
        (world.vic, "/associations/new", {"handle": "ctl", "name": CONTROL, "description": CONTROL}),
        (world.mia, "/associations/restos/projects", {"name": CONTROL, "description": CONTROL}),
        (world.mia, "/associations/restos/roles/new", {"name": CONTROL, "description": CONTROL}),
        (world.mia, "/associations/restos/news", {"text": CONTROL}),
        (world.mia, "/associations/restos/anonymous-links", {"name": CONTROL}),
        (world.vic, "/me/tokens", {"name": CONTROL, "scope": "read"}),
        (world.vic, "/report", {"kind": "association", "target": "restos", "reason": CONTROL}),
        (world.root, "/admin/announcements", {"title": CONTROL, "body": CONTROL, "audience": "users", "banner": "1"}),
        (world.root, "/admin/settings", {"instance_name": "Ctl", "description": CONTROL, "charter": CONTROL}),
        (world.vic, "/login", {"email": CONTROL, "password": CONTROL}),
        (world.vic, "/password/reset", {"email": CONTROL}),
    ]
    for client, path, data in forms:
        response = await post_form(client, path, data)
        assert response.status_code in (200, 303, 400), (path, response.status_code)
    kept = CONTROL.replace("\x00", "")
    async with world.instance.sessions() as db:
        entry = await db.scalar(select(TimeEntry))
        person = await db.scalar(select(User).where(User.handle == "vic"))
    assert entry is not None and entry.description == kept
    assert entry.title == " ".join(kept.split())
    assert person is not None and person.pseudonym == " ".join(kept.split())
    for path in ("/entries", "/associations/restos", "/associations/restos/projects", "/about", "/me/tokens"):
        assert "\x00" not in (await world.vic.get(path)).text
    for path, params in (("/associations", {"q": CONTROL}), ("/associations/re%00stos", {})):
        assert (await world.vic.get(path, params=params)).status_code == 200


LONG = "x" * 100_000


async def test_very_long_values_get_a_form_error(world: World) -> None:
    category = await world.category()
    forms = [
        (world.vic, "/entries/new", entry_form(category, title=LONG), "127 characters"),
        (world.vic, "/entries/new", entry_form(category, description=LONG), "at most 5000 characters"),
        (world.vic, "/me/edit", {"display_name": LONG}, "150 characters"),
        (world.vic, "/me/edit", {"display_name": "Vic", "pseudonym": LONG}, "150 characters"),
        (world.vic, "/associations/new", {"handle": "long", "name": LONG}, "150 characters"),
        (world.vic, "/associations/new", {"handle": "long", "name": "L", "description": LONG}, "5000 characters"),
        (world.vic, "/associations/new", {"handle": "long", "name": "L", "website": "https://x.org/" + LONG}, "300"),
        (world.mia, "/associations/restos/categories", {"name": LONG, "common_category": "other"}, "255 characters"),
        (world.mia, "/associations/restos/projects", {"name": "P", "description": LONG}, "5000 characters"),
        (world.mia, "/associations/restos/levels", {"name": "L", "hourly_rate": "1", "description": LONG}, "5000"),
        (world.mia, "/associations/restos/roles/new", {"name": LONG}, "100 characters"),
        (world.mia, "/associations/restos/roles/new", {"name": "R", "description": LONG}, "2000 characters"),
        (world.mia, "/associations/restos/anonymous-links", {"name": LONG}, "150 characters"),
        (world.mia, "/associations/restos/moderation/new", {**entry_form(category), "participant_name": LONG}, "150"),
        (world.vic, "/me/tokens", {"name": LONG, "scope": "read"}, "100 characters"),
        (world.vic, "/report", {"kind": "association", "target": "restos", "reason": LONG}, "3000 characters"),
        (world.root, "/admin/announcements", {"title": LONG, "audience": "users", "banner": "1"}, "200 characters"),
        (world.root, "/admin/announcements", {"title": "T", "body": LONG, "audience": "users", "banner": "1"}, "5000"),
        (world.root, "/admin/settings", {"instance_name": LONG}, "100 characters"),
        (world.root, "/admin/settings", {"contact": LONG}, "300 characters"),
        (world.root, "/admin/federation/domains", {"action": "block", "domain": "x.example", "reason": LONG}, "2000"),
        (world.vic, "/login", {"email": LONG, "password": LONG}, "Wrong email or password"),
        (world.vic, "/register", {"email": LONG, "password": LONG, "handle": LONG}, "valid email address"),
    ]
    for client, path, data, error in forms:
        response = await post_form(client, path, data)
        assert response.status_code == 400, (path, list(data), response.status_code)
        assert error in response.text, (path, list(data))

    entry = await post_form(world.vic, "/entries/new", entry_form(category), page="/entries/new")
    assert entry.status_code == 303
    last = await world.last_entry()
    for path, data in (
        ("/associations/restos/moderation/decide", {"reject_only": str(last.id), "reason": LONG}),
        ("/associations/restos/news", {"text": LONG}),
    ):  # these forms answer with a message on the page they come from
        response = await post_form(world.mia, path, data, page="/associations/restos")
        assert response.status_code == 303
        assert "at most 2000 characters" in (await world.mia.get(response.headers["location"])).text
    assert (await world.last_entry()).status == "pending"


# -- exports -------------------------------------------------------------------------------------------------------


async def test_exports_keep_formulas_as_text_in_every_column_and_format(world: World) -> None:
    """Text that a spreadsheet would run (``= + - @``) is neutralised in CSV; XLSX and ODS hold it as text cells."""
    heads = iter(FORMULAS)
    names = {kind: f"{next(heads)} {kind}" for kind in ("categories", "levels", "projects")}
    for kind, name in names.items():
        data = {"name": name, "common_category": "other", "hourly_rate": "10"}
        assert (await post_form(world.mia, f"/associations/restos/{kind}", data, page="/")).status_code == 303
    saved = await post_form(world.vic, "/me/edit", {"display_name": "@cmd|calc", "pseudonym": "-2+3"}, page="/me")
    assert saved.status_code == 303
    category, level, project = [await world.newest(m) for m in (Category, Level, Project)]
    values = entry_form(
        category, title="=HYPERLINK(1)", description="+SUM(1)\n=2", level=str(level), project=str(project)
    )
    assert (await post_form(world.vic, "/entries/new", values, page="/entries/new")).status_code == 303
    typed = {"@cmd|calc", "-2+3", "=HYPERLINK(1)", "+SUM(1)\n=2", *names.values()}
    year = dt.date.today().year

    for client, base in ((world.mia, "/associations/restos/export"), (world.vic, "/me/entries/export")):
        response = await client.get(f"{base}.csv", params={"year": year, "status": "all"})
        assert response.status_code == 200, response.text
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
        cells = {cell for row in rows[1:] for cell in row}
        assert {"'" + value for value in typed} <= cells, cells
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], cells

        params = {"year": year, "status": "all"}
        book = openpyxl.load_workbook(io.BytesIO((await client.get(f"{base}.xlsx", params=params)).content))
        sheet_cells = [c for row in book.active.iter_rows(min_row=2) for c in row if c.value is not None]
        assert typed <= {c.value for c in sheet_cells}
        assert {c.data_type for c in sheet_cells if c.value in typed} == {"s"}  # strings, not formulas ("f")

        ods = (await client.get(f"{base}.ods", params=params)).content
        content = ElementTree.fromstring(zipfile.ZipFile(io.BytesIO(ods)).read("content.xml"))
        found = {}
        for cell in content.iter(f"{{{ODS['table']}}}table-cell"):
            text = "\n".join(p.text or "" for p in cell.iter(f"{{{ODS['text']}}}p"))
            found[text] = cell
        for value in typed:
            cell = found[value]
            assert cell.get(f"{{{ODS['table']}}}formula") is None
            assert cell.get(f"{{{ODS['office']}}}value-type") == "string"


# -- the API -------------------------------------------------------------------------------------------------------


async def test_the_api_gives_text_back_as_plain_data(app: Starlette) -> None:
    """JSON carries the text as it was typed (no markup to escape there); a NUL is dropped as from the forms."""
    w = await api_world(app)
    async with w.client(app, "bob") as bob:
        for payload in PAYLOADS:
            body = {
                "association": "restos",
                "duration_minutes": 60,
                "title": payload,
                "description": f"{payload}\x00 described",
                "category_id": w.categories[0],
            }
            created = await bob.post("/api/v1/me/entries", json=body)
            assert created.status_code == 201, created.text
            assert created.headers["content-type"] == "application/json"
            assert created.headers["x-content-type-options"] == "nosniff"
            entry = (await bob.get(f"/api/v1/me/entries/{created.json()['id']}")).json()
            assert (entry["title"], entry["description"]) == (payload, f"{payload} described")
        renamed = await bob.patch("/api/v1/me", json={"display_name": f"{SCRIPT}\x00", "pseudonym": ATTRIBUTE})
        assert renamed.status_code == 200, renamed.text
        assert (renamed.json()["display_name"], renamed.json()["pseudonym"]) == (SCRIPT, ATTRIBUTE)
        listed = await bob.get("/api/v1/me/entries", params={"status": f"pending\x00{SQL}"})
        assert listed.status_code == 422
    schema = await make_client(app).get("/api/openapi.json")  # the API's only description: no HTML page to escape
    assert schema.headers["content-type"].startswith("application/json")


# -- sessions --------------------------------------------------------------------------------------------------------


def session_cookie(response: httpx.Response) -> str:
    for name, value in response.headers.multi_items():
        if name == "set-cookie" and value.startswith(f"{SESSION_COOKIE}="):
            return value.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no session cookie set by {response.request.url.path}")


def holding(app: Starlette, cookie: str) -> httpx.AsyncClient:
    """A browser that holds only this session cookie (one copied, or planted by someone else)."""
    client = make_client(app)
    client.cookies.set(SESSION_COOKIE, cookie, domain="a.test")
    return client


async def test_logging_in_replaces_the_session_a_visitor_had(app: Starlette, instance: Instance) -> None:
    await create_user(instance)
    async with make_client(app) as victim:
        form = await victim.get("/login")
        planted = session_cookie(form)  # what someone could have set in this browser before the login
        old_token = CSRF_RE.search(form.text)
        assert old_token is not None
        logged_in = await victim.post(
            "/login", data={"csrf_token": old_token.group(1), "email": "alice@example.org", "password": PASSWORD}
        )
        assert logged_in.status_code == 303
        fresh = session_cookie(logged_in)
        assert fresh != planted
        assert (await victim.get("/me")).status_code == 200

        async with holding(app, planted) as attacker:
            assert (await attacker.get("/me")).status_code == 303  # the planted session stays anonymous
            assert "alice" not in (await attacker.get("/")).text.lower()
        stale = await victim.post("/me/edit", data={"csrf_token": old_token.group(1), "display_name": "Mallory"})
        assert stale.status_code == 403  # the token of before the login no longer works either

        page = await victim.get("/me")
        token = CSRF_RE.search(page.text)
        assert token is not None and token.group(1) != old_token.group(1)
        out = await victim.post("/logout", data={"csrf_token": token.group(1)})
        assert out.status_code == 303
        after = session_cookie(out)
        assert after != fresh
        assert (await victim.get("/me")).status_code == 303
        async with holding(app, after) as later:
            assert (await later.get("/me")).status_code == 303


async def test_a_forged_or_tampered_session_cookie_is_ignored(app: Starlette, instance: Instance) -> None:
    admin = await create_user(instance, "root@example.org", "root", admin=True)
    payload = b64encode(json.dumps({"uid": admin.id, "auth": "x"}).encode())
    for key in ("not-the-secret-key", instance.settings.secret_key):
        forged = itsdangerous.TimestampSigner(key).sign(payload).decode()
        async with holding(app, forged) as mallory:
            assert (await mallory.get("/admin")).status_code == 303  # to the login page
    async with make_client(app) as browser_:
        await log_in(browser_, "root@example.org")
        real = browser_.cookies[SESSION_COOKIE]
    tampered = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    async with holding(app, tampered) as mallory:
        assert (await mallory.get("/admin")).status_code == 303


async def test_a_copied_session_cookie_ends_with_a_password_change_or_a_suspension(
    app: Starlette, instance: Instance
) -> None:
    """What ends a copy of a session cookie on the server: a logout (``tests/test_sessions_end.py``), a new
    password or a suspension (here), or the cookie's age (``session_max_age``)."""
    await create_user(instance)
    async with make_client(app) as owner:
        await log_in(owner)
        copy = owner.cookies[SESSION_COOKIE]
        async with holding(app, copy) as thief:
            assert (await thief.get("/me")).status_code == 200
            new = "another horse battery"
            data = {"password": PASSWORD, "new_password": new, "new_password_confirmation": new}
            changed = await post_form(owner, "/me/password", data, page="/me/password")
            assert changed.status_code == 303
            assert (await thief.get("/me")).status_code == 303
            assert (await owner.get("/me")).status_code == 200  # the session that changed it goes on

        copy = owner.cookies[SESSION_COOKIE]
        async with instance.sessions() as db:
            alice = await db.scalar(select(User).where(User.handle == "alice"))
            assert alice is not None
            alice.is_suspended = True
            await db.commit()
        async with holding(app, copy) as thief:
            assert (await thief.get("/me")).status_code == 303


# -- rate limits (what tests/test_accounts.py does not already try) ----------------------------------------------------


class Clock:
    """The login limiter's clock, moved by hand (the limiter takes its clock as a parameter)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_login_limit_counts_per_account_whatever_the_spelling_and_ends_after_its_window(
    app: Starlette, instance: Instance
) -> None:
    await create_user(instance)
    clock = Clock()
    instance.login_limiter.clock = clock
    window = instance.settings.rate_limit_window
    spellings = (
        "alice@example.org",
        "ALICE@example.org",
        " Alice@Example.ORG ",
        "alice@EXAMPLE.org",
        "aLice@example.org",
    )
    for number, spelling in enumerate(spellings):
        async with browser(app, f"198.51.100.{number + 1}") as somewhere:  # each attempt from its own address
            wrong = await post_form(somewhere, "/login", {"email": spelling, "password": "wrong"}, page="/login")
            assert wrong.status_code == 400
    async with browser(app, "198.51.100.99") as elsewhere:
        limited = await post_form(elsewhere, "/login", {"email": "alice@example.org", "password": PASSWORD}, "/login")
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= window
        clock.now += window - 10
        still = await post_form(elsewhere, "/login", {"email": "alice@example.org", "password": PASSWORD}, "/login")
        assert still.status_code == 429 and int(still.headers["retry-after"]) <= 10
        clock.now += 11
        await log_in(elsewhere)


async def test_a_success_clears_the_account_count_but_not_the_address_count(app: Starlette, instance: Instance) -> None:
    await create_user(instance)
    limit = instance.settings.login_rate_limit
    async with browser(app, "198.51.100.1") as here:
        for _attempt in range(limit - 1):
            wrong = await post_form(here, "/login", {"email": "alice@example.org", "password": "no"}, page="/login")
            assert wrong.status_code == 400
        await log_in(here)
    async with browser(app, "198.51.100.2") as there:  # the account may fail again, from another address
        for _attempt in range(limit - 1):
            wrong = await post_form(there, "/login", {"email": "alice@example.org", "password": "no"}, page="/login")
            assert wrong.status_code == 400
    async with browser(app, "198.51.100.1") as here:  # the first address has one failure left
        assert (
            await post_form(here, "/login", {"email": "x@example.org", "password": "no"}, "/login")
        ).status_code == 400
        blocked = await post_form(here, "/login", {"email": "y@example.org", "password": "no"}, page="/login")
        assert blocked.status_code == 429


async def test_mail_requests_are_limited_per_address_and_per_account_and_reopen_after_the_window(
    app: Starlette, instance: Instance, worker: Worker, smtp: tuple[Mailbox, int]
) -> None:
    await create_user(instance)
    clock = Clock()
    instance.login_limiter.clock = clock
    limit, window = instance.settings.login_rate_limit, instance.settings.rate_limit_window
    for number in range(limit):  # one account, asked for from as many addresses
        async with browser(app, f"198.51.100.{number + 1}") as somewhere:
            sent = await post_form(somewhere, "/password/reset", {"email": "Alice@example.org"}, page="/password/reset")
            assert sent.status_code == 303
    async with browser(app, "198.51.100.50") as elsewhere:
        for path in ("/password/reset", "/confirm/resend"):
            limited = await post_form(elsewhere, path, {"email": "alice@example.org"}, page=path)
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) <= window
    async with browser(app, "198.51.100.60") as one_address:  # one address, asking for as many accounts
        for number in range(limit):
            sent = await post_form(
                one_address, "/password/reset", {"email": f"p{number}@example.org"}, "/password/reset"
            )
            assert sent.status_code == 303
        limited = await post_form(one_address, "/password/reset", {"email": "new@example.org"}, "/password/reset")
        assert limited.status_code == 429
        clock.now += window + 1
        again = await post_form(one_address, "/password/reset", {"email": "alice@example.org"}, "/password/reset")
        assert again.status_code == 303
    assert len(await mails(worker, smtp[0], "alice@example.org")) == limit + 1


# -- text from other servers -------------------------------------------------------------------------------------------


CLUB = "https://club.test"
CLUB_NAME = f"{SCRIPT} Club\r\nBcc: everyone@example.org {ATTRIBUTE}"
CLUB_SUMMARY = f'<p>We <b>sort</b> food. <a href="{JAVASCRIPT}">{TEMPLATE}</a></p>{SCRIPT}'
MALLORY_NAME = f"Mallory\nBcc: all@example.org {SCRIPT}"


def club_app(key: str) -> Starlette:
    """club.test, a server of another software: a group whose texts hold markup, line breaks and a script link as
    its web page, and a person whose name holds a line break; both with the RSA key ``key`` (a public PEM)."""

    def actor(path: str, kind: str, username: str, name: str, **extra: Any) -> dict[str, Any]:
        actor_id = f"{CLUB}{path}"
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor_id,
            "type": kind,
            "preferredUsername": username,
            "name": name,
            "inbox": f"{CLUB}/inbox",
            "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id, "publicKeyPem": key},
            **extra,
        }

    documents = {
        "/groups/club": actor("/groups/club", "Group", "club", CLUB_NAME, summary=CLUB_SUMMARY, url=JAVASCRIPT),
        "/users/mallory": actor("/users/mallory", "Person", "mallory", MALLORY_NAME, summary=CLUB_SUMMARY),
        "/groups/nul": actor("/groups/nul", "Group", "nul", "Nul\x00 club", summary="A NUL\x00"),
    }

    async def document(request: Request) -> Response:
        return JSONResponse(documents[request.url.path], media_type="application/activity+json")

    async def inbox(request: Request) -> Response:
        return Response(status_code=202)

    return Starlette(routes=[Route(path, document) for path in documents] + [Route("/inbox", inbox, methods=["POST"])])


@pytest.fixture
def federation_overrides(smtp: tuple[Mailbox, int]) -> dict[str, dict[str, Any]]:
    return {"a.test": smtp_settings(smtp)}


@pytest.fixture
def club(pair: Pair) -> SigningKeys:
    """club.test on the network; the keys its actors sign with."""
    pem = generate_rsa().private_pem
    private = load_rsa_private(pem)
    pair.router.add("club.test", club_app(public_pem(private.public_key())), "192.0.2.80")
    return SigningKeys(f"{CLUB}/users/mallory#main-key", private, "", ed25519.Ed25519PrivateKey.generate())


def watched(side: Side, watch: Watch) -> httpx.AsyncClient:
    browser_ = side.browser()
    browser_.event_hooks["response"] = [watch]
    return browser_


async def test_an_association_and_an_entry_from_another_instance_are_shown_escaped(pair: Pair) -> None:
    watch = Watch()
    alice, bob = await pair.a.person("alice"), await pair.b.person("bob")
    alice.event_hooks["response"] = bob.event_hooks["response"] = [watch]
    await pair.b.association("bob", "restos")
    name, description = f"{SCRIPT} Restos", f"{ATTRIBUTE}\n\n{TEMPLATE}"
    profile = {"name": name, "description": description, "moderate_entries": "1"}
    edited = await post_form(bob, "/associations/restos/edit", profile, page="/")
    assert edited.status_code == 303
    renamed = await post_form(alice, "/me/edit", {"display_name": f"{LIKE} Alice"}, page="/me/edit")
    assert renamed.status_code == 303
    assert (await post_form(alice, "/follows", {"target": "@restos@b.test"}, page="/follows")).status_code == 303
    assert (await post_form(alice, f"/associations/{MIRROR}/join", {}, page="/")).status_code == 303
    await pair.settle()
    for path in (f"/associations/{MIRROR}", "/follows", "/entries/new", "/me"):
        page = await alice.get(path)
        assert str(escape(name)) in page.text, path
    assert str(escape(TEMPLATE)) in (await alice.get(f"/associations/{MIRROR}")).text

    crew = Members(pair, alice, bob)
    title, summary = f"{SQL} {ATTRIBUTE}"[:127], f"{SCRIPT}\n{TEMPLATE}"
    assert (await crew.log(title=title, description=summary)).status_code == 303
    await pair.settle()
    queue = await bob.get("/associations/restos/moderation")
    for value in (title, summary, f"{LIKE} Alice"):
        assert str(escape(value)) in queue.text, value
    reason = f"{SCRIPT} {TEMPLATE} reason"
    assert (await crew.decide(False, reason)).status_code == 303
    await pair.settle()
    for path in ("/entries", "/notifications"):
        page = await alice.get(path)
        assert str(escape(reason)) in page.text and str(escape(title)) in page.text, path
    assert watch.pages >= 10


async def test_a_foreign_group_with_markup_a_script_link_and_line_breaks_is_shown_as_plain_text(
    pair: Pair, club: SigningKeys
) -> None:
    watch = Watch()
    alice = watched(pair.a, watch)
    await pair.a.user("alice")
    await log_in(alice, "alice@a.test")
    followed = await post_form(alice, "/follows", {"target": f"{CLUB}/groups/club"}, page="/follows")
    assert followed.status_code == 303, followed.text
    await pair.settle()
    profile = await alice.get("/associations/club@club.test")
    assert profile.status_code == 200
    assert str(escape(CLUB_NAME)) in profile.text
    # the peer's HTML is read as text (federation.html_text): its words are shown, its markup never
    assert str(escape(f"We sort food. {TEMPLATE}")) in profile.text and "<b>sort</b>" not in profile.text
    [mirror] = await pair.a.rows(Association, Association.actor_uri == f"{CLUB}/groups/club")
    assert mirror.website == ""  # its "url" was a script: not kept as the association's web page
    for path in ("/follows", "/associations", "/entries/new"):
        await alice.get(path)

    refused = await post_form(alice, "/follows", {"target": f"{CLUB}/groups/nul"}, page="/follows")
    assert refused.status_code == 400  # a document no database could keep: the address is said to be unusable
    assert "NUL character" in refused.text


async def test_a_foreign_name_with_a_line_break_cannot_break_a_mail_header(
    pair: Pair, club: SigningKeys, smtp: tuple[Mailbox, int]
) -> None:
    watch = Watch()
    await pair.a.user("mia")
    await pair.a.association("mia", "restos", moderate_membership=True)
    follow = {
        "id": f"{CLUB}/follows/1",
        "type": "Follow",
        "actor": f"{CLUB}/users/mallory",
        "object": f"{pair.a.base}/associations/restos",
    }
    sent = await post_signed(pair.a, "/associations/restos/inbox", follow, club)
    assert sent.status_code == 202, sent.text
    await pair.settle()
    [mail] = smtp[0].to("mia@a.test")
    subject = str(make_header(decode_header(mail["Subject"])))
    assert "\n" not in subject and "\r" not in subject and mail["Bcc"] is None
    assert subject.startswith("Mallory Bcc: all@example.org")
    mia = watched(pair.a, watch)
    await log_in(mia, "mia@a.test")
    for path in ("/associations/restos/members", "/notifications"):
        page = await mia.get(path)
        assert str(escape(SCRIPT)) in page.text, path
    await create_user(pair.a.instance, "root@a.test", "root", admin=True)
    root = watched(pair.a, watch)
    await log_in(root, "root@a.test")
    known = await root.get("/admin/federation/actors", params={"q": "mallory"})
    assert str(escape(MALLORY_NAME)) in known.text and f'href="{CLUB}/users/mallory"' in known.text


# -- a Bénévalibre export brought in -----------------------------------------------------------------------------------


def hostile_export(origin: StandInOrigin, website: str = "https://example.org/jardins") -> bytes:
    """The shared export, its names and texts replaced by the payloads (names everywhere they are referred to)."""
    data = vector()
    texts = {
        "associations.association": {"description": TEMPLATE, "website_url": website},
        "accounts.user": {"first_name": ATTRIBUTE, "last_name": SQL},
        "associations.associationbenevalocategory": {"description": SCRIPT},
        "benevalibre.benevalo": {"title": f"{SCRIPT} work", "description": ATTRIBUTE},
    }
    for item in data["objects"]:
        for field, value in texts.get(item["model"], {}).items():
            if isinstance(item["fields"].get(field), str):
                item["fields"][field] = value
    text = json.dumps(data, ensure_ascii=False)
    for old, new in IMPORTED_NAMES.items():
        text = text.replace(json.dumps(old, ensure_ascii=False)[1:-1], json.dumps(new, ensure_ascii=False)[1:-1])
    return export_for(origin, json.loads(text))


IMPORTED_NAMES = {  # names of the shared export, and what the hostile one calls them
    "Les Jardins de la Clouère": f"{SCRIPT} Jardins",
    "Arrosage et désherbage": f"{LIKE} cat",
    "Potager pédagogique": f"{TEMPLATE} proj",
    "Débutant⋅e": f"{ATTRIBUTE} lvl",
    "Tablette du local": f"{SCRIPT} tablet",
}


async def test_names_and_texts_of_an_imported_export_are_shown_escaped(
    world: World, instance: Instance, origin: StandInOrigin
) -> None:
    refused = await import_upload(world.vic, hostile_export(origin, website=JAVASCRIPT))
    assert refused.status_code == 400
    assert "https://" in refused.text

    content = hostile_export(origin)
    preview = await import_upload(world.vic, content)
    assert preview.status_code == 200, preview.text
    assert str(escape(f"{SCRIPT} Jardins")) in preview.text
    done = await preview_then_import(world.vic, content)
    assert done.status_code == 303, done.text
    async with instance.sessions() as db:
        imported = await db.scalar(select(Association).where(Association.name == f"{SCRIPT} Jardins"))
    assert imported is not None
    base = f"/associations/{imported.handle}"
    await world.shown(world.vic, done.headers["location"], f"{SCRIPT} Jardins")
    await world.shown(world.vic, base, f"{SCRIPT} Jardins", TEMPLATE)
    await world.shown(world.vic, f"{base}/members", ATTRIBUTE)
    await world.shown(world.vic, f"{base}/moderation?status=all", f"{SCRIPT} work", ATTRIBUTE, f"{LIKE} cat")
    await world.shown(world.vic, f"{base}/categories", f"{LIKE} cat")
    await world.shown(world.vic, f"{base}/projects", f"{TEMPLATE} proj")
    await world.shown(world.vic, f"{base}/levels", f"{ATTRIBUTE} lvl")
    await world.shown(world.vic, f"{base}/anonymous-links", f"{SCRIPT} tablet")
    await world.shown(world.root, "/moves", f"{SCRIPT} Jardins")
