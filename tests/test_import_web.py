"""The upload pages, for a volunteer who brings their association and for admins; then the moved members'
first steps: the activation mail, a password, and time logged in the imported association."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import (
    AnonymousLink,
    Association,
    AssociationStatus,
    Category,
    EntryStatus,
    Membership,
    TimeEntry,
    User,
)
from instance.runtime import Instance
from instance.worker import Worker
from tests.associations_support import person
from tests.conftest import Mailbox, link_in, make_client, post_form
from tests.test_entries_support import entry_form
from tests.test_import_support import StandInOrigin, export_for, mail_settings, origin, preview_then_import, upload

__all__ = ["origin"]


@pytest.fixture
def registration() -> str:
    """Who may create associations; a test parametrizes it to change it."""
    return "open"


@pytest.fixture
def settings_overrides(smtp: tuple[Mailbox, int], registration: str) -> dict[str, Any]:
    return {**mail_settings(smtp), "association_registration": registration}


async def the_association(instance: Instance) -> Association:
    async with instance.sessions() as db:
        association: Association | None = await db.scalar(select(Association))
    assert association is not None
    return association


async def test_a_volunteer_brings_their_association_and_manages_it(
    app: Starlette, instance: Instance, origin: StandInOrigin
) -> None:
    nina = await person(app, "nina")
    form = await nina.get("/moves/import")
    assert form.status_code == 200
    assert "You will manage the imported association." in form.text
    assert 'name="owner"' not in form.text  # only admins may name someone else
    done = await preview_then_import(nina, export_for(origin))
    assert done.status_code == 303
    page = await nina.get(done.headers["location"])
    assert "The association Les Jardins de la Clouère was imported." in page.text
    assert "Every count and every total is the same in the file and here." in page.text
    association = await the_association(instance)
    assert association.status == AssociationStatus.ACTIVE
    members = await nina.get(f"/associations/{association.handle}/members")
    assert members.status_code == 200
    async with instance.sessions() as db:
        mine = await db.scalar(select(Membership).where(Membership.user.has(handle="nina")))
        assert mine is not None and mine.role.name == "Dirigeant"
    actor = await nina.get(f"/associations/{association.handle}", headers={"Accept": "application/activity+json"})
    assert actor.status_code == 200 and actor.json()["type"] == "Group"  # an ActivityPub actor like any other
    other = await person(app, "otto")
    assert (await other.get(done.headers["location"])).status_code == 404  # a move is shown to its people only


@pytest.mark.parametrize("registration", ["moderated"])
async def test_on_a_moderated_instance_the_association_waits_for_an_admin(
    app: Starlette, instance: Instance, origin: StandInOrigin, registration: str
) -> None:
    admin = await person(app, "root", admin=True)
    nina = await person(app, "nina")
    preview = await upload(nina, export_for(origin))
    assert "waits for an administrator" in preview.text
    assert (await preview_then_import(nina, export_for(origin))).status_code == 303
    assert (await the_association(instance)).status == AssociationStatus.PENDING
    notifications = await admin.get("/notifications")
    assert "is waiting for your approval" in notifications.text


@pytest.mark.parametrize("registration", ["closed"])
async def test_when_only_admins_create_associations_only_they_import(
    app: Starlette, instance: Instance, origin: StandInOrigin, registration: str
) -> None:
    nina = await person(app, "nina")
    assert (await nina.get("/moves/import")).status_code == 403
    refused = await post_form(nina, "/moves/import", {}, page="/")
    assert refused.status_code == 403
    anonymous = make_client(app)
    assert (await anonymous.get("/moves/import")).status_code in (302, 303)
    admin = await person(app, "root", admin=True)
    assert (await preview_then_import(admin, export_for(origin))).status_code == 303
    assert "Les Jardins de la Clouère" in (await admin.get("/moves")).text


async def test_a_moved_member_activates_their_account_and_logs_time(
    app: Starlette, instance: Instance, origin: StandInOrigin, worker: Worker, smtp: tuple[Mailbox, int]
) -> None:
    admin = await person(app, "root", admin=True)
    assert (await preview_then_import(admin, export_for(origin))).status_code == 303
    await worker.run_until_idle()
    mailbox = smtp[0]
    assert len(mailbox.messages) == 5  # one activation mail per created account
    [mail] = mailbox.to("jeanne.roux@example.net")
    link = link_in(Mailbox.body(mail), "/moves/activate/")

    jeanne = make_client(app)
    jeanne.headers["Accept-Language"] = "en"
    page = await jeanne.get(link)
    assert "For the account jeanne.roux@example.net." in page.text
    short = await post_form(jeanne, link, {"password": "short", "password_confirmation": "short"}, page=link)
    assert short.status_code == 400
    password = "les tomates du jardin"
    done = await post_form(jeanne, link, {"password": password, "password_confirmation": password}, page=link)
    assert done.status_code == 303
    used = await jeanne.get(link)
    assert used.status_code == 400
    assert "This activation link is not valid, has expired or was already used." in used.text

    association = await the_association(instance)
    async with instance.sessions() as db:
        category = await db.scalar(select(Category.id).where(Category.name == "Arrosage et désherbage"))
        user = await db.scalar(select(User).where(User.email == "jeanne.roux@example.net"))
        assert user is not None and user.is_active
    assert category is not None
    form = await jeanne.get(f"/entries/new?association={association.handle}")
    assert form.status_code == 200
    logged = await post_form(
        jeanne, "/entries/new", {"association": association.handle, **entry_form(category)}, page="/entries/new"
    )
    assert logged.status_code == 303, logged.text
    async with instance.sessions() as db:
        mine = (await db.scalars(select(TimeEntry).where(TimeEntry.user_id == user.id))).all()
    assert len(mine) == 4  # three from the file, one logged here
    assert any(e.status == EntryStatus.PENDING and e.title == "Tri des dons" for e in mine)

    # and the anonymous links keep working, at their new address
    async with instance.sessions() as db:
        link_row = await db.scalar(select(AnonymousLink).where(AnonymousLink.name == "Tablette du local"))
    assert link_row is not None
    assert (await make_client(app).get(f"/a/{link_row.token}")).status_code == 200
