"""Accounts through the web, like a person would: register, confirm by mail, log in and out, reset a password."""

from __future__ import annotations

import time

import httpx
import pytest
from argon2 import PasswordHasher
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Handle, User
from instance.runtime import Instance
from instance.services.associations import create_association
from instance.worker import Worker
from tests import accounts_support as support
from tests.accounts_support import browser, count, mails_to, register, user_named
from tests.conftest import PASSWORD, Mailbox, create_user, link_in, log_in, post_form

NEW_PASSWORD = "a much better passphrase"

settings_overrides = support.settings_overrides
mailbox = support.mailbox
english = support.english


# -- registration ------------------------------------------------------------------------------------------


async def test_register_confirm_by_mail_then_logged_in(
    client: httpx.AsyncClient, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    page = await client.get("/register")
    assert "@handle@a.test" in page.text

    response = await register(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "We sent a link to bea@example.org" in (await client.get("/login")).text

    login = await post_form(client, "/login", {"email": "bea@example.org", "password": PASSWORD}, page="/login")
    assert login.status_code == 400
    assert "not confirmed yet" in login.text
    assert "/confirm/resend?email=bea%40example.org" in login.text

    [body] = await mails_to(worker, mailbox, "bea@example.org")
    link = link_in(body, "/confirm/")
    page = await client.get(link)
    assert page.status_code == 200
    assert "Confirm my account" in page.text
    confirmed = await post_form(client, link, page=link)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/me"

    me = await client.get("/me")
    assert me.status_code == 200
    assert "@bea@a.test" in me.text
    assert "Béa Dupont" in me.text
    assert "Your account is confirmed" in me.text

    again = await client.get(link)
    assert again.status_code == 400
    assert "already confirmed" in again.text


async def test_confirmation_mail_can_be_sent_again_without_telling_who_exists(
    client: httpx.AsyncClient, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    await register(client)
    await worker.run_until_idle()
    known = await post_form(client, "/confirm/resend", {"email": "BEA@example.org"}, page="/confirm/resend")
    unknown = await post_form(client, "/confirm/resend", {"email": "nobody@example.org"}, page="/confirm/resend")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]

    bodies = await mails_to(worker, mailbox, "bea@example.org")
    assert len(bodies) == 2
    assert mailbox.to("nobody@example.org") == []
    await post_form(client, link_in(bodies[1], "/confirm/"), page=link_in(bodies[1], "/confirm/"))
    assert (await client.get("/me")).status_code == 200


async def test_duplicate_email_and_handles_refused_keeping_what_was_typed(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    alice = await create_user(instance)
    async with instance.sessions() as db:
        await create_association(db, instance.settings, alice, handle="les-amis", name="Les Amis")
        await db.commit()

    response = await register(client, email="Alice@Example.org", handle="les-amis", pseudonym="Béa la Bricoleuse")
    assert response.status_code == 400
    assert "An account already uses this email address." in response.text
    assert 'id="e-handle"' in response.text
    assert "already taken" in response.text
    assert 'value="Alice@Example.org"' in response.text
    assert 'value="les-amis"' in response.text
    assert 'value="Béa la Bricoleuse"' in response.text
    assert PASSWORD not in response.text

    response = await register(client, handle="@Alice")
    assert response.status_code == 400
    assert "This handle is already taken" in response.text
    assert await count(instance, User) == 1
    assert await count(instance, Handle) == 2


async def test_password_rules_and_names_checked_all_at_once(client: httpx.AsyncClient, instance: Instance) -> None:
    response = await register(client, password_confirmation="something else entirely")
    assert response.status_code == 400
    assert 'id="e-password_confirmation"' in response.text
    assert "The two passwords are different." in response.text

    response = await register(client, password="short", password_confirmation="short", display_name="", handle="x y")
    assert response.status_code == 400
    assert "Use at least 10 characters." in response.text
    assert "Please give a name or a pseudonym." in response.text
    assert 'id="e-handle"' in response.text
    assert await count(instance, User) == 0


async def test_forged_csrf_token_refused_and_nothing_created(client: httpx.AsyncClient, instance: Instance) -> None:
    await client.get("/register")
    response = await client.post(
        "/register",
        data={
            "csrf_token": "forged",
            "email": "bea@example.org",
            "password": PASSWORD,
            "password_confirmation": PASSWORD,
            "display_name": "Béa",
            "handle": "bea",
        },
    )
    assert response.status_code == 403
    assert await count(instance, User) == 0
    assert await count(instance, Handle) == 0


@pytest.mark.parametrize("settings_overrides", [{"user_registration": "closed"}])
async def test_closed_registration(client: httpx.AsyncClient, instance: Instance) -> None:
    page = await client.get("/register")
    assert page.status_code == 200
    assert "does not accept new accounts" in page.text
    assert 'name="password"' not in page.text
    response = await register(client)
    assert response.status_code == 403
    assert await count(instance, User) == 0


async def test_chosen_language_is_stored_and_used(
    client: httpx.AsyncClient, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    client.headers["Accept-Language"] = "fr"
    await register(client, language="en")
    await worker.run_until_idle()
    [message] = mailbox.to("bea@example.org")
    assert message["Subject"].startswith("Confirm your account")
    user = await user_named(instance, "bea")
    assert user is not None and user.language == "en"

    link = link_in(Mailbox.body(message), "/confirm/")
    await post_form(client, link, page=link)
    assert '<html lang="en">' in (await client.get("/me")).text

    await register(client, email="chloe@example.org", handle="chloe", language="fr")
    chloe = await user_named(instance, "chloe")
    assert chloe is not None and chloe.language == "fr"


# -- login and logout --------------------------------------------------------------------------------------


async def test_login_honours_only_local_next_and_logout_ends_the_session(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await create_user(instance)
    response = await client.get("/me")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/me"
    assert 'name="next" value="/me"' in (await client.get("/login?next=/me")).text

    data = {"email": "ALICE@example.org", "password": PASSWORD, "next": "/me"}
    response = await post_form(client, "/login", data, page="/login")
    assert response.headers["location"] == "/me"
    assert (await client.get("/me")).status_code == 200
    async with instance.sessions() as db:
        alice = await db.scalar(select(User))
        assert alice is not None and alice.last_login_at is not None

    assert (await post_form(client, "/logout", page="/me")).status_code == 303
    assert (await client.get("/me")).status_code == 303

    data["next"] = "https://evil.example/"
    response = await post_form(client, "/login", data, page="/login")
    assert response.headers["location"] == "/"


async def test_wrong_password_and_suspended_account_refused(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)
    wrong = await post_form(client, "/login", {"email": "alice@example.org", "password": "nope"}, page="/login")
    unknown = await post_form(client, "/login", {"email": "who@example.org", "password": "nope"}, page="/login")
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong email or password." in wrong.text
    assert "Wrong email or password." in unknown.text

    async with instance.sessions() as db:
        alice = await db.scalar(select(User))
        assert alice is not None
        alice.is_suspended = True
        await db.commit()
    response = await post_form(client, "/login", {"email": "alice@example.org", "password": PASSWORD}, page="/login")
    assert response.status_code == 400
    assert "suspended" in response.text


async def test_failed_logins_are_rate_limited_per_address_and_per_account(
    app: Starlette, client: httpx.AsyncClient, instance: Instance
) -> None:
    await create_user(instance)
    await create_user(instance, "bob@example.org", "bob")
    for _attempt in range(5):
        response = await post_form(client, "/login", {"email": "alice@example.org", "password": "bad"}, page="/login")
        assert response.status_code == 400
    response = await post_form(client, "/login", {"email": "bob@example.org", "password": PASSWORD}, page="/login")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many attempts" in response.text

    async with browser(app, "203.0.113.7") as elsewhere:
        response = await post_form(elsewhere, "/login", {"email": "alice@example.org", "password": PASSWORD}, "/login")
        assert response.status_code == 429
        await log_in(elsewhere, "bob@example.org")


# -- password reset ----------------------------------------------------------------------------------------


async def test_password_reset_end_to_end(
    app: Starlette,
    client: httpx.AsyncClient,
    instance: Instance,
    worker: Worker,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await create_user(instance)
    async with browser(app) as other:
        await log_in(other)

        known = await post_form(client, "/password/reset", {"email": "alice@example.org"}, page="/password/reset")
        unknown = await post_form(client, "/password/reset", {"email": "x@example.org"}, page="/password/reset")
        assert known.status_code == unknown.status_code == 303
        [body] = await mails_to(worker, mailbox, "alice@example.org")
        assert mailbox.to("x@example.org") == []
        link = link_in(body, "/password/reset/")

        assert (await client.get(link)).status_code == 200
        mismatch = {"password": NEW_PASSWORD, "password_confirmation": "another one entirely"}
        response = await post_form(client, link, mismatch, page=link)
        assert response.status_code == 400
        assert "The two passwords are different." in response.text

        both = {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
        response = await post_form(client, link, both, page=link)
        assert response.status_code == 303
        assert (await other.get("/me")).status_code == 303  # the other session ended

    old = await post_form(client, "/login", {"email": "alice@example.org", "password": PASSWORD}, page="/login")
    assert old.status_code == 400
    await log_in(client, password=NEW_PASSWORD)

    reused = await client.get(link)
    assert reused.status_code == 400
    assert "already used" in reused.text
    forged = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    assert (await client.get(forged)).status_code == 400
    assert (await post_form(client, forged, both, page="/me")).status_code == 400

    await post_form(client, "/password/reset", {"email": "alice@example.org"}, page="/password/reset")
    bodies = await mails_to(worker, mailbox, "alice@example.org")
    fresh = link_in(bodies[-1], "/password/reset/")
    later = int(time.time()) + 3601
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    expired = await client.get(fresh)
    assert expired.status_code == 400
    assert "expired" in expired.text


async def test_reset_requests_are_rate_limited(client: httpx.AsyncClient, instance: Instance) -> None:
    for _attempt in range(5):
        response = await post_form(client, "/password/reset", {"email": "a@example.org"}, page="/password/reset")
        assert response.status_code == 303
    response = await post_form(client, "/password/reset", {"email": "a@example.org"}, page="/password/reset")
    assert response.status_code == 429
    assert "retry-after" in response.headers


async def test_old_hashes_are_upgraded_at_login(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with instance.sessions() as db:
        alice = await db.scalar(select(User))
        assert alice is not None
        alice.password_hash = weak
        await db.commit()
    await log_in(client)
    alice = await user_named(instance, "alice")
    assert alice is not None and alice.password_hash != weak
    assert PasswordHasher().verify(alice.password_hash, PASSWORD)


async def test_reset_link_also_confirms_an_unconfirmed_account(
    client: httpx.AsyncClient, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    await register(client)
    await post_form(client, "/password/reset", {"email": "bea@example.org"}, page="/password/reset")
    bodies = await mails_to(worker, mailbox, "bea@example.org")
    link = link_in(bodies[-1], "/password/reset/")
    both = {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
    assert (await post_form(client, link, both, page=link)).status_code == 303
    await log_in(client, "bea@example.org", NEW_PASSWORD)
