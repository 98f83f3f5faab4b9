"""Admin pages about accounts: dashboard, search, suspend, make admin, delete; and who may not use them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Category, Handle, TimeEntry, User
from instance.runtime import Instance
from tests.associations_support import MANAGER_ROLE, found, person, role_named, send
from tests.conftest import PASSWORD, log_in, make_client


async def account(instance: Instance, handle: str) -> User | None:
    async with instance.sessions() as db:
        return await db.scalar(select(User).where(User.handle == handle))


async def user_id(instance: Instance, handle: str) -> int:
    user = await account(instance, handle)
    assert user is not None
    return user.id


ADMIN_PAGES = [
    "/admin",
    "/admin/users",
    "/admin/settings",
    "/admin/announcements",
    "/admin/reports",
    "/admin/mail",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_refuse_people_who_are_not_admins(app: Starlette, path: str) -> None:
    visitor = make_client(app)
    response = await visitor.get(path)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    alice = await person(app, "alice")
    assert (await alice.get(path)).status_code == 403


async def test_admin_actions_refuse_people_who_are_not_admins(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await person(app, "bob")
    bob_id = await user_id(instance, "bob")
    for path, data in [
        (f"/admin/users/{bob_id}/suspend", {}),
        (f"/admin/users/{bob_id}/make-admin", {}),
        (f"/admin/users/{bob_id}/delete", {}),
        ("/admin/settings", {"instance_name": "Mine"}),
        ("/admin/announcements", {"title": "Hi", "audience": "users", "banner": "1"}),
        ("/admin/announcements/1/end", {}),
        ("/admin/reports/1/resolve", {}),
    ]:
        assert (await send(alice, path, data)).status_code == 403, path
        assert (await send(make_client(app), path, data)).status_code in (303, 403), path
    bob = await account(instance, "bob")
    assert bob is not None and not bob.is_suspended and not bob.is_admin


async def test_the_dashboard_counts_what_the_instance_holds(app: Starlette) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    await found(alice, handle="amis", name="Les Amis")

    page = await root.get("/admin")

    assert page.status_code == 200
    text = page.text
    assert "<strong>2</strong> accounts" in text and "<strong>1</strong> active" in text
    assert "Federation" in text and 'href="/admin/users"' in text and 'href="/admin/reports"' in text


async def test_search_finds_accounts_by_email_handle_or_name_and_pages(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    await person(app, "alice")
    await person(app, "bernard")

    assert "bernard@example.org" in (await root.get("/admin/users?q=bern")).text
    found_by_name = (await root.get("/admin/users?q=Alice")).text
    assert "alice@example.org" in found_by_name and "bernard@example.org" not in found_by_name
    assert "No account matches" in (await root.get("/admin/users?q=zzz")).text
    async with instance.sessions() as db:
        for number in range(26):
            db.add(Handle(handle=f"p{number}", kind="user"))
            db.add(User(email=f"p{number}@example.org", handle=f"p{number}", is_active=True))
        await db.commit()
    first = (await root.get("/admin/users")).text
    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in (await root.get("/admin/users?page=2")).text


async def test_suspend_ends_the_sessions_and_unsuspend_lets_back_in(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    alice_id = await user_id(instance, "alice")

    response = await send(root, f"/admin/users/{alice_id}/suspend", {"next": "/admin/users?q=alice"})

    assert response.status_code == 303 and response.headers["location"] == "/admin/users?q=alice"
    assert "is suspended" in (await root.get("/admin/users?q=alice")).text
    assert (await alice.get("/me")).status_code == 303  # logged out
    again = make_client(app)
    again.headers["Accept-Language"] = "en"
    refused = await send(again, "/login", {"email": "alice@example.org", "password": PASSWORD})
    assert refused.status_code == 400 and "suspended" in refused.text

    await send(root, f"/admin/users/{alice_id}/unsuspend")
    await log_in(again, "alice@example.org")
    assert (await again.get("/me")).status_code == 200


async def test_an_admin_cannot_suspend_themself(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    root_id = await user_id(instance, "root")

    await send(root, f"/admin/users/{root_id}/suspend")

    assert "cannot suspend your own account" in (await root.get("/admin/users")).text
    me = await account(instance, "root")
    assert me is not None and not me.is_suspended


async def test_make_and_unmake_admin_but_never_the_last_one(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    root_id, alice_id = await user_id(instance, "root"), await user_id(instance, "alice")

    await send(root, f"/admin/users/{alice_id}/make-admin")
    assert (await alice.get("/admin")).status_code == 200

    await send(alice, f"/admin/users/{root_id}/remove-admin")
    assert (await root.get("/admin")).status_code == 403

    await send(alice, f"/admin/users/{alice_id}/remove-admin")
    assert "no administrator left" in (await alice.get("/admin/users")).text
    still = await account(instance, "alice")
    assert still is not None and still.is_admin


async def test_delete_asks_for_confirmation_then_deletes_keeping_entries(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    bob = await person(app, "bob")
    await found(bob, handle="amis", name="Les Amis")
    await person(app, "alice")
    alice_id = await user_id(instance, "alice")
    async with instance.sessions() as db:
        category = await db.scalar(select(Category).limit(1))
        assert category is not None
        db.add(
            TimeEntry(
                association_id=category.association_id,
                user_id=alice_id,
                category_id=category.id,
                start_date=dt.date(2024, 5, 1),
                duration_minutes=90,
            )
        )
        await db.commit()

    confirm = await root.get(f"/admin/users/{alice_id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    response = await send(root, f"/admin/users/{alice_id}/delete")

    assert response.status_code == 303
    assert await account(instance, "alice") is None
    assert "is deleted" in (await root.get("/admin/users")).text
    async with instance.sessions() as db:
        kept = await db.scalar(select(TimeEntry))
    assert kept is not None and kept.user_id is None and kept.participant_name == "Former member"


async def test_delete_refuses_the_last_manager_and_oneself(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    await found(alice, handle="amis", name="Les Amis")
    alice_id, root_id = await user_id(instance, "alice"), await user_id(instance, "root")

    refused = await send(root, f"/admin/users/{alice_id}/delete")
    assert refused.status_code == 400 and "last manager of Les Amis" in refused.text
    assert await account(instance, "alice") is not None

    own = await send(root, f"/admin/users/{root_id}/delete")
    assert own.status_code == 400 and "from your profile page" in own.text
    assert (await role_named(instance, "amis", MANAGER_ROLE)) is not None
