"""Moderated association registration: the instance admins approve or refuse new associations."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from instance.models import AssociationStatus
from instance.runtime import Instance
from instance.worker import Worker
from tests.associations_support import association, found, mails_to, person, send, smtp_settings
from tests.conftest import Mailbox


@pytest.fixture
def settings_overrides(smtp: tuple[Mailbox, int]) -> dict[str, Any]:
    return {**smtp_settings(smtp), "association_registration": "moderated"}


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


async def pending_id(instance: Instance, handle: str) -> int:
    waiting = await association(instance, handle)
    assert waiting is not None and waiting.status == AssociationStatus.PENDING
    return waiting.id


async def test_a_new_association_waits_and_the_admins_are_told(
    app: Starlette, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    bob = await person(app, "bob")

    response = await found(alice, handle="amis", name="Les Amis", description="Quartier nord")

    assert response.status_code == 303
    await pending_id(instance, "amis")
    assert "waiting for the approval" in (await alice.get("/associations/amis")).text
    assert (await bob.get("/associations/amis")).status_code == 404
    assert "Les Amis" not in (await bob.get("/associations")).text
    assert (await send(bob, "/associations/amis/join")).status_code == 404
    to_root = await mails_to(worker, mailbox, "root@example.org")
    assert len(to_root) == 1
    subject, body = to_root[0]
    assert "Les Amis" in subject and "https://a.test/admin" in body
    admin_page = await root.get("/admin")
    assert admin_page.status_code == 200 and "Les Amis" in admin_page.text and "Quartier nord" in admin_page.text
    assert (await root.get("/associations/amis")).status_code == 200


async def test_the_admin_approves_with_a_message(
    app: Starlette, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    await found(alice, handle="amis", name="Les Amis")
    association_id = await pending_id(instance, "amis")

    response = await send(root, f"/admin/associations/{association_id}/approve", {"message": "Bienvenue à vous"})

    assert response.status_code == 303
    approved = await association(instance, "amis")
    assert approved is not None and approved.status == AssociationStatus.ACTIVE
    assert "No association is waiting for approval" in (await root.get("/admin")).text
    assert "Les Amis" in (await (await person(app, "bob")).get("/associations")).text
    to_alice = await mails_to(worker, mailbox, "alice@example.org")
    assert len(to_alice) == 1 and "Bienvenue à vous" in to_alice[0][1]


async def test_the_admin_refuses_with_a_reason_that_members_see(
    app: Starlette, instance: Instance, worker: Worker, mailbox: Mailbox
) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, handle="amis", name="Les Amis")
    association_id = await pending_id(instance, "amis")

    no_reason = await send(root, f"/admin/associations/{association_id}/refuse", {"reason": "  "})
    assert no_reason.status_code == 400 and "Please give the reason" in no_reason.text
    await pending_id(instance, "amis")

    response = await send(root, f"/admin/associations/{association_id}/refuse", {"reason": "Hors du territoire"})

    assert response.status_code == 303
    refused = await association(instance, "amis")
    assert refused is not None and refused.status == AssociationStatus.REFUSED
    profile = await alice.get("/associations/amis")
    assert "refused this association" in profile.text and "Hors du territoire" in profile.text
    assert (await bob.get("/associations/amis")).status_code == 404
    assert "No association is waiting for approval" in (await root.get("/admin")).text
    to_alice = await mails_to(worker, mailbox, "alice@example.org")
    assert len(to_alice) == 1 and "Hors du territoire" in to_alice[0][1]
    again = await send(root, f"/admin/associations/{association_id}/approve")
    assert again.status_code == 409


async def test_only_admins_decide(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, handle="amis", name="Les Amis")
    association_id = await pending_id(instance, "amis")

    assert (await alice.get("/admin")).status_code == 403
    for decision in ("approve", "refuse"):
        response = await send(alice, f"/admin/associations/{association_id}/{decision}", {"reason": "moi"})
        assert response.status_code == 403
    await pending_id(instance, "amis")


async def test_a_wrong_csrf_token_decides_nothing(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)
    alice = await person(app, "alice")
    await found(alice, handle="amis", name="Les Amis")
    association_id = await pending_id(instance, "amis")

    response = await root.post(f"/admin/associations/{association_id}/approve", data={"csrf_token": "forged"})

    assert response.status_code == 403
    await pending_id(instance, "amis")


async def test_an_admin_creates_an_active_association(app: Starlette, instance: Instance) -> None:
    root = await person(app, "root", admin=True)

    await found(root, handle="instance-asso", name="Asso de l'instance")

    created = await association(instance, "instance-asso")
    assert created is not None and created.status == AssociationStatus.ACTIVE
