"""Logging out ends the session on the server: a copy of its cookie taken before (another browser, a stolen cookie)
no longer logs anyone in, while the person's other sessions go on."""

from __future__ import annotations

import datetime as dt
import json
import time
from base64 import b64encode
from typing import Any

import httpx
import itsdangerous
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import EndedSession, User, utcnow
from instance.runtime import Instance
from instance.services import accounts
from tests.conftest import PASSWORD, create_user, log_in, make_client, post_form
from tests.test_query_counts import counting
from web.app import SESSION_COOKIE
from web.auth import session_fingerprint


def holding(app: Starlette, cookie: str) -> httpx.AsyncClient:
    """A browser that holds only this session cookie (a copy of someone else's)."""
    client = make_client(app)
    client.cookies.set(SESSION_COOKIE, cookie, domain="a.test")
    return client


def signed(instance: Instance, data: dict[str, Any], age: int = 0) -> str:
    """A session cookie as the app signs it, ``age`` seconds old."""

    class Signer(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return Signer(instance.settings.secret_key).sign(b64encode(json.dumps(data).encode())).decode()


async def logged_in(client: httpx.AsyncClient) -> bool:
    """What a person sees on their dashboard: the page, or the login page."""
    response = await client.get("/dashboard")
    if response.status_code == 303:
        assert response.headers["location"] == "/login?next=/dashboard"
        return False
    assert response.status_code == 200, response.text[:300]
    return True


async def ended_sessions(instance: Instance) -> list[EndedSession]:
    async with instance.sessions() as db:
        return list((await db.scalars(select(EndedSession).order_by(EndedSession.ends_at))).all())


async def test_logout_ends_a_copy_of_the_cookie_but_not_the_other_devices(app: Starlette, instance: Instance) -> None:
    alice = await create_user(instance)
    async with make_client(app) as laptop, make_client(app) as phone:
        await log_in(laptop)
        await log_in(phone)
        copy = laptop.cookies[SESSION_COOKIE]
        async with holding(app, copy) as thief:
            assert await logged_in(thief)  # the copy works like the original...
            out = await post_form(laptop, "/logout", page="/dashboard")
            assert out.status_code == 303
            assert not await logged_in(laptop)
            assert not await logged_in(thief)  # ...until the person logs out
            assert not await logged_in(thief)  # and for good, not only once
            assert (await thief.get("/me")).status_code == 303
        assert await logged_in(phone)  # the other device stays logged in
        assert "Alice Martin" in (await phone.get("/me")).text

        [ended] = await ended_sessions(instance)
        assert ended.user_id == alice.id

        await log_in(laptop)  # logging in again opens a new session, which works
        assert await logged_in(laptop)
        async with holding(app, copy) as thief:
            assert not await logged_in(thief)  # and does not bring the old one back
        again = laptop.cookies[SESSION_COOKIE]
        assert await logged_in(phone)

        assert (await post_form(phone, "/logout", page="/dashboard")).status_code == 303
        assert not await logged_in(phone)
        assert await logged_in(laptop)  # the phone's logout leaves the new laptop session alone
        async with holding(app, again) as other:
            assert await logged_in(other)
        assert len(await ended_sessions(instance)) == 2


async def test_logging_out_an_anonymous_session_records_nothing(app: Starlette, instance: Instance) -> None:
    await create_user(instance)
    async with make_client(app) as visitor:
        assert (await post_form(visitor, "/logout", page="/login")).status_code == 303
        assert not await logged_in(visitor)
    assert await ended_sessions(instance) == []


async def test_a_page_reads_the_person_and_the_ended_sessions_in_one_statement(
    app: Starlette, instance: Instance
) -> None:
    await create_user(instance)
    async with make_client(app) as browser:
        await log_in(browser)
        assert await logged_in(browser)
        with counting(instance) as statements:
            assert await logged_in(browser)
    reading = [s for s in statements if "ended_sessions" in s]
    assert len(reading) == 1, statements
    assert "FROM users" in reading[0]


async def test_logging_out_removes_the_ended_sessions_whose_cookies_have_expired(
    app: Starlette, instance: Instance
) -> None:
    alice = await create_user(instance)
    max_age = instance.settings.session_max_age
    now = utcnow()
    async with instance.sessions() as db:
        db.add(EndedSession(id="expired", user_id=alice.id, ends_at=now - dt.timedelta(seconds=1)))
        db.add(EndedSession(id="still-valid", user_id=alice.id, ends_at=now + dt.timedelta(days=1)))
        await db.commit()
    fingerprint = session_fingerprint(instance, alice)
    # The cookie of the expired row is older than the cookies' lifetime: the app refuses it without the row.
    expired = signed(instance, {"uid": alice.id, "auth": fingerprint, "sid": "expired"}, age=max_age + 2 * 3600)
    valid = signed(instance, {"uid": alice.id, "auth": fingerprint, "sid": "still-valid"}, age=max_age - 3600)

    async with make_client(app) as browser:
        await log_in(browser)
        before = utcnow()
        assert (await post_form(browser, "/logout", page="/dashboard")).status_code == 303
        after = utcnow()

    rows = await ended_sessions(instance)
    assert [row.id for row in rows][:1] == ["still-valid"]
    assert len(rows) == 2
    lifetime = dt.timedelta(seconds=max_age)
    assert before + lifetime <= rows[1].ends_at <= after + lifetime + accounts.ENDED_SESSION_MARGIN
    async with holding(app, expired) as old, holding(app, valid) as recent:
        assert not await logged_in(old)
        assert not await logged_in(recent)


async def test_one_session_ended_twice_is_one_row(app: Starlette, instance: Instance) -> None:
    """Two tabs of one browser logging out at the same moment both record the session: the second changes
    nothing rather than failing."""
    alice = await create_user(instance)
    for _tab in range(2):
        async with instance.sessions() as db:
            await accounts.end_session(db, instance, "same-session", alice.id)
            await db.commit()
    assert [row.id for row in await ended_sessions(instance)] == ["same-session"]


async def test_a_session_from_before_session_ids_keeps_working_and_gets_one(app: Starlette, instance: Instance) -> None:
    """Sessions opened before logouts were recorded have no ``sid``: they go on (nobody is logged out by the
    upgrade) and get an id on their next page, so that logging out of them ends their later copies too."""
    alice = await create_user(instance)
    old_style = signed(instance, {"uid": alice.id, "auth": session_fingerprint(instance, alice)}, age=3600)
    async with holding(app, old_style) as browser:
        assert await logged_in(browser)
        upgraded = browser.cookies[SESSION_COOKIE]
        assert upgraded != old_style
        async with holding(app, upgraded) as thief:
            assert await logged_in(thief)
            assert (await post_form(browser, "/logout", page="/dashboard")).status_code == 303
            assert not await logged_in(browser)
            assert not await logged_in(thief)
        [ended] = await ended_sessions(instance)
        assert ended.user_id == alice.id

    # A copy taken before the upgrade has no id to refuse: what ends it is a new password (or a suspension).
    async with holding(app, old_style) as early_copy, make_client(app) as owner:
        assert await logged_in(early_copy)
        await log_in(owner)
        new = "another horse battery"
        data = {"password": PASSWORD, "new_password": new, "new_password_confirmation": new}
        assert (await post_form(owner, "/me/password", data, page="/me/password")).status_code == 303
        assert not await logged_in(early_copy)
        assert await logged_in(owner)


async def test_deleting_an_account_removes_its_ended_sessions(app: Starlette, instance: Instance) -> None:
    await create_user(instance)
    async with make_client(app) as browser:
        await log_in(browser)
        await post_form(browser, "/logout", page="/dashboard")
        assert len(await ended_sessions(instance)) == 1
        await log_in(browser)
        deleted = await post_form(browser, "/me/delete", {"password": PASSWORD, "entries": "keep"}, page="/me/delete")
        assert deleted.status_code == 303
    async with instance.sessions() as db:
        assert await db.scalar(select(User).where(User.handle == "alice")) is None
    assert await ended_sessions(instance) == []
