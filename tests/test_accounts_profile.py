"""A person's own account through the web: their page, profile, password, email address and deletion."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Category, Handle, Membership, MembershipStatus, Role, TimeEntry, User
from instance.runtime import Instance
from instance.services.associations import create_association
from instance.worker import Worker
from tests import accounts_support as support
from tests.accounts_support import browser, count, mails_to, user_named
from tests.conftest import PASSWORD, Mailbox, create_user, link_in, log_in, post_form

NEW_PASSWORD = "a much better passphrase"

settings_overrides = support.settings_overrides
mailbox = support.mailbox
english = support.english


async def association_with(instance: Instance, owner: User, handle: str, name: str) -> int:
    async with instance.sessions() as db:
        association = await create_association(db, instance.settings, owner, handle=handle, name=name)
        await db.commit()
        return association.id


async def add_member(instance: Instance, association_id: int, user: User, *, manager: bool) -> None:
    async with instance.sessions() as db:
        role = await db.scalar(
            select(Role).where(Role.association_id == association_id, Role.manage_association.is_(manager))
        )
        assert role is not None
        db.add(
            Membership(association_id=association_id, user_id=user.id, role_id=role.id, status=MembershipStatus.ACTIVE)
        )
        await db.commit()


# -- the person's page and profile -------------------------------------------------------------------------


async def test_profile_page_shows_the_person_and_their_memberships(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    alice = await create_user(instance)
    await association_with(instance, alice, "jardins", "Les Jardins Partagés")
    await log_in(client)
    page = await client.get("/me")
    assert page.status_code == 200
    assert "Alice Martin" in page.text
    assert "@alice@a.test" in page.text
    assert "alice@example.org" in page.text
    assert "Les Jardins Partagés" in page.text
    assert "badge-active" in page.text


async def test_edit_profile_and_language(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)
    await log_in(client)
    assert 'value="Alice Martin"' in (await client.get("/me/edit")).text

    refused = await post_form(client, "/me/edit", {"display_name": "", "pseudonym": " "}, page="/me/edit")
    assert refused.status_code == 400
    assert "Please give a name or a pseudonym." in refused.text

    data = {"display_name": "Alice Martin", "pseudonym": "Lili", "language": "fr"}
    response = await post_form(client, "/me/edit", data, page="/me/edit")
    assert response.status_code == 303
    page = await client.get("/me")
    assert '<html lang="fr">' in page.text  # the person's choice wins over the browser's
    assert ">Lili</a>" in page.text
    alice = await user_named(instance, "alice")
    assert alice is not None and alice.pseudonym == "Lili" and alice.language == "fr"


# -- password ----------------------------------------------------------------------------------------------


async def test_password_change_keeps_this_session_and_ends_the_others(
    app: Starlette, client: httpx.AsyncClient, instance: Instance
) -> None:
    await create_user(instance)
    await log_in(client)
    async with browser(app) as other:
        await log_in(other)
        assert (await other.get("/me")).status_code == 200

        wrong = {"password": "not it at all", "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD}
        response = await post_form(client, "/me/password", wrong, page="/me/password")
        assert response.status_code == 400
        assert "This is not your current password." in response.text
        assert (await other.get("/me")).status_code == 200

        short = {"password": PASSWORD, "new_password": "short", "new_password_confirmation": "short"}
        response = await post_form(client, "/me/password", short, page="/me/password")
        assert response.status_code == 400
        assert "Use at least 10 characters." in response.text

        good = {"password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD}
        response = await post_form(client, "/me/password", good, page="/me/password")
        assert response.status_code == 303
        assert (await client.get("/me")).status_code == 200
        ended = await other.get("/me")
        assert ended.status_code == 303
        assert ended.headers["location"].startswith("/login")

    async with browser(app) as third:
        await log_in(third, password=NEW_PASSWORD)


# -- email address -----------------------------------------------------------------------------------------


async def test_email_change_confirmed_by_the_new_address(
    client: httpx.AsyncClient, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    await create_user(instance)
    await create_user(instance, "bob@example.org", "bob")
    await log_in(client)

    taken = await post_form(client, "/me/email", {"email": "BOB@example.org", "password": PASSWORD}, page="/me/email")
    assert taken.status_code == 400
    assert "An account already uses this email address." in taken.text
    wrong = await post_form(client, "/me/email", {"email": "new@example.org", "password": "nope"}, page="/me/email")
    assert wrong.status_code == 400
    assert 'value="new@example.org"' in wrong.text

    data = {"email": "New@Example.org", "password": PASSWORD}
    assert (await post_form(client, "/me/email", data, page="/me/email")).status_code == 303
    [body] = await mails_to(worker, mailbox, "new@example.org")
    alice = await user_named(instance, "alice")
    assert alice is not None and alice.email == "alice@example.org"  # not before the link is followed

    link = link_in(body, "/me/email/")
    assert "new@example.org" in (await client.get(link)).text
    assert (await post_form(client, link, page=link)).status_code == 303
    alice = await user_named(instance, "alice")
    assert alice is not None and alice.email == "new@example.org"
    [notice] = await mails_to(worker, mailbox, "alice@example.org")
    assert "new@example.org" in notice
    assert (await client.get(link)).status_code == 400  # used once

    await post_form(client, "/logout", page="/me")
    await log_in(client, "new@example.org")


# -- deletion ----------------------------------------------------------------------------------------------


async def test_deletion_needs_the_password(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)
    await log_in(client)
    response = await post_form(client, "/me/delete", {"password": "not it at all"}, page="/me/delete")
    assert response.status_code == 400
    assert "This is not your current password." in response.text
    assert await count(instance, User) == 1


async def test_last_manager_cannot_delete_their_account(client: httpx.AsyncClient, instance: Instance) -> None:
    alice = await create_user(instance)
    bob = await create_user(instance, "bob@example.org", "bob")
    association_id = await association_with(instance, alice, "jardins", "Les Jardins Partagés")
    await add_member(instance, association_id, bob, manager=False)  # a member, but not a manager
    await log_in(client)
    response = await post_form(client, "/me/delete", {"password": PASSWORD}, page="/me/delete")
    assert response.status_code == 400
    assert "You are the last manager of Les Jardins Partagés." in response.text
    assert await user_named(instance, "alice") is not None


async def test_deletion_keeps_entries_anonymised(client: httpx.AsyncClient, instance: Instance, worker: Worker) -> None:
    alice = await create_user(instance)
    bob = await create_user(instance, "bob@example.org", "bob")
    association_id = await association_with(instance, bob, "jardins", "Les Jardins Partagés")
    await add_member(instance, association_id, alice, manager=True)  # a manager, not the last one
    async with instance.sessions() as db:
        category = await db.scalar(select(Category).where(Category.association_id == association_id))
        assert category is not None
        db.add(
            TimeEntry(
                association_id=association_id,
                user_id=alice.id,
                entered_by_id=alice.id,
                category_id=category.id,
                start_date=dt.date(2024, 5, 4),
                duration_minutes=150,
                title="Désherbage",
            )
        )
        await db.commit()

    await log_in(client)
    response = await post_form(client, "/me/delete", {"password": PASSWORD}, page="/me/delete")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "Your account is deleted." in (await client.get("/")).text
    assert (await client.get("/me")).status_code == 303

    assert await user_named(instance, "alice") is None
    async with instance.sessions() as db:
        entry = await db.scalar(select(TimeEntry))
        assert entry is not None
        assert (entry.user_id, entry.entered_by_id, entry.participant_name) == (None, None, "Former member")
        assert (entry.duration_minutes, entry.association_id) == (150, association_id)
        members = (await db.scalars(select(Membership.user_id))).all()
        assert members == [bob.id]
        assert await db.get(Handle, "alice") is not None  # the handle stays taken
    refused = await post_form(client, "/login", {"email": "alice@example.org", "password": PASSWORD}, page="/login")
    assert refused.status_code == 400
