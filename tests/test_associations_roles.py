"""An association's roles: the managers' page, the default role, and the manager who must remain."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from instance.models import Role
from instance.runtime import Instance
from tests.associations_support import (
    HELPER_ROLE,
    MANAGER_ROLE,
    VOLUNTEER_ROLE,
    found,
    membership,
    person,
    role_named,
    send,
)

ROLES = "/associations/amis/roles"


async def role_count(instance: Instance) -> int:
    async with instance.sessions() as db:
        return int(await db.scalar(select(func.count(Role.id))) or 0)


async def association_with(app: Starlette, *others: str) -> tuple[httpx.AsyncClient, list[httpx.AsyncClient]]:
    alice = await person(app, "alice")
    await found(alice, name="Les Amis")
    browsers = []
    for handle in others:
        browser = await person(app, handle)
        await send(browser, "/associations/amis/join")
        browsers.append(browser)
    return alice, browsers


async def test_the_manager_creates_edits_and_deletes_a_role(app: Starlette, instance: Instance) -> None:
    alice, _ = await association_with(app)
    listing = await alice.get(ROLES)
    assert listing.status_code == 200
    for name in (VOLUNTEER_ROLE, HELPER_ROLE, MANAGER_ROLE):
        assert name in listing.text

    created = await send(
        alice,
        f"{ROLES}/new",
        {"name": "Trésorier", "description": "Tient les comptes", "permissions": ["list_members", "manage_entries"]},
    )
    assert created.status_code == 303
    treasurer = await role_named(instance, "amis", "Trésorier")
    assert treasurer.list_members and treasurer.manage_entries and not treasurer.manage_members
    assert "Tient les comptes" in (await alice.get(ROLES)).text

    edited = await send(
        alice,
        f"{ROLES}/{treasurer.id}/edit",
        {"name": "Trésorière", "permissions": ["manage_levels"], "is_default": "1"},
    )
    assert edited.status_code == 303
    treasurer = await role_named(instance, "amis", "Trésorière")
    assert treasurer.manage_levels and not treasurer.list_members and treasurer.is_default
    assert not (await role_named(instance, "amis", VOLUNTEER_ROLE)).is_default

    deleted = await send(alice, f"{ROLES}/{(await role_named(instance, 'amis', VOLUNTEER_ROLE)).id}/delete")
    assert deleted.status_code == 303
    assert await role_count(instance) == 3


async def test_role_names_are_unique_and_one_role_stays_the_default(app: Starlette, instance: Instance) -> None:
    alice, _ = await association_with(app)
    volunteer = await role_named(instance, "amis", VOLUNTEER_ROLE)

    duplicate = await send(alice, f"{ROLES}/new", {"name": "bénévole", "description": "gardé"})
    assert duplicate.status_code == 400
    assert "already has a role with this name" in duplicate.text and "gardé" in duplicate.text

    no_default = await send(alice, f"{ROLES}/{volunteer.id}/edit", {"name": VOLUNTEER_ROLE})
    assert no_default.status_code == 400
    assert "One role must be the default" in no_default.text
    assert (await role_named(instance, "amis", VOLUNTEER_ROLE)).is_default

    default_delete = await send(alice, f"{ROLES}/{volunteer.id}/delete")
    assert default_delete.status_code == 303
    assert "cannot be deleted" in (await alice.get(ROLES)).text
    assert await role_count(instance) == 3


async def test_a_role_in_use_cannot_be_deleted(app: Starlette, instance: Instance) -> None:
    alice, _ = await association_with(app)
    helper = await role_named(instance, "amis", HELPER_ROLE)
    bob = await person(app, "bob")
    await send(bob, "/associations/amis/join")
    bob_membership = await membership(instance, "amis", "bob")
    assert bob_membership is not None
    await send(alice, f"/associations/amis/members/{bob_membership.id}/role", {"role": str(helper.id)})

    response = await send(alice, f"{ROLES}/{helper.id}/delete")

    assert response.status_code == 303
    assert "given to members" in (await alice.get(ROLES)).text
    assert await role_count(instance) == 3


async def test_members_without_the_permission_cannot_touch_roles(app: Starlette, instance: Instance) -> None:
    alice, (bob, carol) = await association_with(app, "bob", "carol")
    helper = await role_named(instance, "amis", HELPER_ROLE)
    carol_membership = await membership(instance, "amis", "carol")
    assert carol_membership is not None
    await send(alice, f"/associations/amis/members/{carol_membership.id}/role", {"role": str(helper.id)})
    volunteer = await role_named(instance, "amis", VOLUNTEER_ROLE)

    for browser in (bob, carol):  # a volunteer, and a helper who manages members but not roles
        assert (await browser.get(ROLES)).status_code == 403
        assert (await browser.get(f"{ROLES}/new")).status_code == 403
        assert (
            await send(browser, f"{ROLES}/new", {"name": "Chef", "permissions": ["manage_association"]})
        ).status_code == 403
        edit = await send(browser, f"{ROLES}/{volunteer.id}/edit", {"name": "Chef", "permissions": ["manage_roles"]})
        assert edit.status_code == 403
        assert (await send(browser, f"{ROLES}/{helper.id}/delete")).status_code == 403

    assert await role_count(instance) == 3
    unchanged = await role_named(instance, "amis", VOLUNTEER_ROLE)
    assert not unchanged.manage_roles


async def test_a_wrong_csrf_token_changes_no_role(app: Starlette, instance: Instance) -> None:
    alice, _ = await association_with(app)

    response = await alice.post(f"{ROLES}/new", data={"csrf_token": "forged", "name": "Chef"})

    assert response.status_code == 403
    assert await role_count(instance) == 3


async def test_the_last_managers_role_keeps_managing(app: Starlette, instance: Instance) -> None:
    alice, _ = await association_with(app)
    manager = await role_named(instance, "amis", MANAGER_ROLE)

    response = await send(
        alice, f"{ROLES}/{manager.id}/edit", {"name": MANAGER_ROLE, "permissions": ["manage_members"]}
    )

    assert response.status_code == 409
    assert "without a manager" in response.text
    assert (await role_named(instance, "amis", MANAGER_ROLE)).manage_association


async def test_a_role_manager_cannot_grant_more_than_they_have(app: Starlette, instance: Instance) -> None:
    alice, (bob,) = await association_with(app, "bob")
    await send(alice, f"{ROLES}/new", {"name": "Gestion des rôles", "permissions": ["manage_roles", "manage_members"]})
    roles_only = await role_named(instance, "amis", "Gestion des rôles")
    bob_membership = await membership(instance, "amis", "bob")
    assert bob_membership is not None
    await send(alice, f"/associations/amis/members/{bob_membership.id}/role", {"role": str(roles_only.id)})

    escalate = await send(
        bob, f"{ROLES}/{roles_only.id}/edit", {"name": "Gestion des rôles", "permissions": ["manage_association"]}
    )

    assert escalate.status_code == 403
    assert not (await role_named(instance, "amis", "Gestion des rôles")).manage_association
    allowed = await send(bob, f"{ROLES}/new", {"name": "Accueil", "permissions": ["manage_members"]})
    assert allowed.status_code == 303
