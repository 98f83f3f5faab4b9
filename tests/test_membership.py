"""Joining an association, the managers' decisions on members, and leaving."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Category, MembershipStatus, Notification, TimeEntry, User
from instance.runtime import Instance
from instance.worker import Worker
from tests.associations_support import (
    HELPER_ROLE,
    MANAGER_ROLE,
    VOLUNTEER_ROLE,
    found,
    mails_to,
    membership,
    person,
    role_named,
    send,
    smtp_settings,
)
from tests.conftest import Mailbox, make_client

MEMBERS = "/associations/amis/members"


@pytest.fixture
def settings_overrides(smtp: tuple[Mailbox, int]) -> dict[str, Any]:
    return smtp_settings(smtp)


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


async def member_id(instance: Instance, user_handle: str) -> int:
    found_membership = await membership(instance, "amis", user_handle)
    assert found_membership is not None, f"{user_handle} is not a member"
    return found_membership.id


async def test_joining_an_open_association_gives_the_default_role(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis")
    assert "Join" in (await bob.get("/associations/amis")).text

    response = await send(bob, "/associations/amis/join")

    assert response.status_code == 303
    profile = await bob.get("/associations/amis")
    assert f"Your role: {VOLUNTEER_ROLE}" in profile.text and "2 members" in profile.text
    joined = await membership(instance, "amis", "bob")
    assert joined is not None and joined.status == MembershipStatus.ACTIVE
    assert (await send(bob, "/associations/amis/join")).status_code == 303
    assert "already a member" in (await bob.get("/associations/amis")).text


async def test_joining_needs_a_login_and_a_right_csrf_token(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis")

    forged = await bob.post("/associations/amis/join", data={"csrf_token": "forged"})

    assert forged.status_code == 403
    assert await membership(instance, "amis", "bob") is None
    assert "Log in to join" in (await httpx_english(app).get("/associations/amis")).text


def httpx_english(app: Starlette) -> httpx.AsyncClient:
    browser = make_client(app)
    browser.headers["Accept-Language"] = "en"
    return browser


async def test_moderated_membership_with_approval(
    app: Starlette, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis", moderate_membership="1")

    await send(bob, "/associations/amis/join", {"message": "Je tiens la buvette"})

    assert "Request pending" in (await bob.get("/associations/amis")).text
    pending = await membership(instance, "amis", "bob")
    assert pending is not None and pending.status == MembershipStatus.PENDING
    to_alice = await mails_to(worker, mailbox, "alice@example.org")
    assert len(to_alice) == 1 and "Bob" in to_alice[0][0] and "/associations/amis/members" in to_alice[0][1]
    requests = await alice.get(MEMBERS)
    assert "Je tiens la buvette" in requests.text and "Requests to join" in requests.text

    helper = await role_named(instance, "amis", HELPER_ROLE)
    approved = await send(alice, f"{MEMBERS}/{pending.id}/approve", {"role": str(helper.id)})

    assert approved.status_code == 303
    now = await membership(instance, "amis", "bob")
    assert now is not None and now.status == MembershipStatus.ACTIVE and now.role_id == helper.id
    assert f"Your role: {HELPER_ROLE}" in (await bob.get("/associations/amis")).text
    to_bob = await mails_to(worker, mailbox, "bob@example.org")
    assert len(to_bob) == 1 and "Les Amis" in to_bob[0][0]
    async with instance.sessions() as db:
        kinds = set(await db.scalars(select(Notification.kind)))
    assert {"membership_pending", "membership_approved"} <= kinds


async def test_moderated_membership_with_refusal(
    app: Starlette, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    alice = await person(app, "alice")
    carol = await person(app, "carol")
    await found(alice, name="Les Amis", moderate_membership="1")
    await send(carol, "/associations/amis/join")

    refused = await send(alice, f"{MEMBERS}/{await member_id(instance, 'carol')}/refuse")

    assert refused.status_code == 303
    assert await membership(instance, "amis", "carol") is None
    assert "Join" in (await carol.get("/associations/amis")).text
    to_carol = await mails_to(worker, mailbox, "carol@example.org")
    assert len(to_carol) == 1 and "Les Amis" in to_carol[0][1]


async def test_the_manager_changes_a_role_and_removes_a_member_whose_entries_stay(
    app: Starlette, instance: Instance
) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis")
    await send(bob, "/associations/amis/join")
    bob_id = await member_id(instance, "bob")
    helper = await role_named(instance, "amis", HELPER_ROLE)

    assert (await send(alice, f"{MEMBERS}/{bob_id}/role", {"role": str(helper.id)})).status_code == 303
    listing = await alice.get(MEMBERS)
    assert "Bob" in listing.text and HELPER_ROLE in listing.text and "Active" in listing.text
    await log_time(instance, "bob")

    assert (await send(alice, f"{MEMBERS}/{bob_id}/remove")).status_code == 303

    assert await membership(instance, "amis", "bob") is None
    assert "Join" in (await bob.get("/associations/amis")).text
    async with instance.sessions() as db:
        assert len(list(await db.scalars(select(TimeEntry)))) == 1


async def log_time(instance: Instance, handle: str) -> None:
    async with instance.sessions() as db:
        user = await db.scalar(select(User).where(User.handle == handle))
        category = await db.scalar(select(Category).limit(1))
        assert user is not None and category is not None
        db.add(
            TimeEntry(
                association_id=category.association_id,
                user_id=user.id,
                category_id=category.id,
                start_date=dt.date(2024, 5, 1),
                duration_minutes=90,
            )
        )
        await db.commit()


async def test_members_without_the_permission_cannot_manage_members(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis", moderate_membership="1")
    carol = await person(app, "carol")
    dave = await person(app, "dave")
    await send(bob, "/associations/amis/join")
    await send(dave, "/associations/amis/join")
    await send(alice, f"{MEMBERS}/{await member_id(instance, 'bob')}/approve")
    await send(carol, "/associations/amis/join")
    manager = await role_named(instance, "amis", MANAGER_ROLE)
    alice_id, carol_id, dave_id = [await member_id(instance, h) for h in ("alice", "carol", "dave")]

    assert (await bob.get(MEMBERS)).status_code == 403
    attempts = [
        (f"{MEMBERS}/{carol_id}/approve", {"role": str(manager.id)}),
        (f"{MEMBERS}/{dave_id}/refuse", {}),
        (f"{MEMBERS}/{alice_id}/role", {"role": str(manager.id)}),
        (f"{MEMBERS}/{alice_id}/remove", {}),
    ]
    for path, data in attempts:
        assert (await send(bob, path, data)).status_code == 403, path
    eve = await person(app, "eve")  # not a member at all
    for path, data in attempts:
        assert (await send(eve, path, data)).status_code == 403, path

    carol_now = await membership(instance, "amis", "carol")
    assert carol_now is not None and carol_now.status == MembershipStatus.PENDING
    assert await membership(instance, "amis", "dave") is not None
    bob_now = await membership(instance, "amis", "bob")
    assert bob_now is not None and bob_now.role.name == VOLUNTEER_ROLE


async def test_a_helper_manages_volunteers_but_not_managers(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    carol = await person(app, "carol")
    await found(alice, name="Les Amis")
    await send(bob, "/associations/amis/join")
    await send(carol, "/associations/amis/join")
    helper = await role_named(instance, "amis", HELPER_ROLE)
    manager = await role_named(instance, "amis", MANAGER_ROLE)
    await send(alice, f"{MEMBERS}/{await member_id(instance, 'bob')}/role", {"role": str(helper.id)})
    carol_id = await member_id(instance, "carol")

    promote = await send(bob, f"{MEMBERS}/{carol_id}/role", {"role": str(manager.id)})
    demote = await send(bob, f"{MEMBERS}/{await member_id(instance, 'alice')}/remove")

    assert promote.status_code == 403 and demote.status_code == 403
    assert (await send(bob, f"{MEMBERS}/{carol_id}/role", {"role": str(helper.id)})).status_code == 303
    assert (await bob.get(MEMBERS)).status_code == 200


async def test_leaving_asks_for_confirmation(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis")
    await send(bob, "/associations/amis/join")

    confirmation = await bob.get("/associations/amis/leave")
    assert confirmation.status_code == 200 and "The time you logged stays" in confirmation.text
    assert await membership(instance, "amis", "bob") is not None

    assert (await send(bob, "/associations/amis/leave")).status_code == 303
    assert await membership(instance, "amis", "bob") is None


async def test_the_last_manager_cannot_be_demoted_removed_or_leave(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis")
    await send(bob, "/associations/amis/join")
    alice_id = await member_id(instance, "alice")
    volunteer = await role_named(instance, "amis", VOLUNTEER_ROLE)
    manager = await role_named(instance, "amis", MANAGER_ROLE)

    demote = await send(alice, f"{MEMBERS}/{alice_id}/role", {"role": str(volunteer.id)})
    assert demote.status_code == 303
    assert "without a manager" in (await alice.get(MEMBERS)).text
    remove = await send(alice, f"{MEMBERS}/{alice_id}/remove")
    assert remove.status_code == 303
    assert "without a manager" in (await alice.get(MEMBERS)).text
    leave = await send(alice, "/associations/amis/leave")
    assert leave.status_code == 303
    assert "without a manager" in (await alice.get("/associations/amis")).text
    still = await membership(instance, "amis", "alice")
    assert still is not None and still.role_id == manager.id

    await send(alice, f"{MEMBERS}/{await member_id(instance, 'bob')}/role", {"role": str(manager.id)})
    assert (await send(alice, "/associations/amis/leave")).status_code == 303
    assert await membership(instance, "amis", "alice") is None
