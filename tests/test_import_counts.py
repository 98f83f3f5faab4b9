"""The shared Bénévalibre 2.0.1 export, imported by an admin: every count and total of the file is here.

Given the real export file and a stand-in of its origin on loopback, when an admin imports it through the
upload form, then the database holds exactly the file's objects, and the time and distance per category,
project and member summed from the file itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from instance.models import (
    AnonymousLink,
    Association,
    AssociationMove,
    AssociationStatus,
    Category,
    EntryStatus,
    Level,
    Membership,
    MembershipStatus,
    MoveState,
    Project,
    Role,
    TimeEntry,
    User,
)
from instance.runtime import Instance
from tests.associations_support import person
from tests.test_import_support import (
    StandInOrigin,
    expected_counts,
    expected_totals,
    export_for,
    origin,
    preview_then_import,
    row_counts,
    upload,
    vector,
)

__all__ = ["origin"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"dev_mode": True}


async def imported(instance: Instance) -> Association:
    async with instance.sessions() as db:
        association = await db.scalar(select(Association).where(Association.name == "Les Jardins de la Clouère"))
    assert association is not None
    return association


async def actual_totals(instance: Instance, association: Association) -> dict[str, dict[str, tuple[int, Decimal]]]:
    """Time and distance per category, project and member, summed from the database's entries."""
    totals: dict[str, dict[str, tuple[int, Decimal]]] = {"category": {}, "project": {}, "member": {}}
    async with instance.sessions() as db:
        rows = await db.execute(
            select(
                Category.name,
                Project.name,
                User.email,
                AnonymousLink.name,
                TimeEntry.duration_minutes,
                TimeEntry.distance_km,
            )
            .join(Category, Category.id == TimeEntry.category_id)
            .outerjoin(Project, Project.id == TimeEntry.project_id)
            .outerjoin(User, User.id == TimeEntry.user_id)
            .outerjoin(AnonymousLink, AnonymousLink.id == TimeEntry.anonymous_link_id)
            .where(TimeEntry.association_id == association.id)
        )
        for category, project, email, link, minutes, distance in rows:
            member = email or (f"anonymous:{link}" if link else "nobody")
            for dimension, key in (("category", category), ("project", project or ""), ("member", member)):
                before = totals[dimension].get(key, (0, Decimal("0")))
                totals[dimension][key] = (before[0] + minutes, before[1] + Decimal(str(distance)))
    return totals


async def count(instance: Instance, model: Any, association: Association, *where: Any) -> int:
    async with instance.sessions() as db:
        query = select(func.count()).select_from(model).where(model.association_id == association.id, *where)
        return int(await db.scalar(query) or 0)


async def test_the_shared_export_imports_with_exactly_its_counts_and_totals(
    app: Starlette, instance: Instance, origin: StandInOrigin
) -> None:
    admin = await person(app, "root", admin=True)
    data = vector()
    preview = await upload(admin, export_for(origin, data))
    assert preview.status_code == 200, preview.text
    assert "Every count and every total is the same in the file and here." in preview.text
    assert "is a group of the list, not a field" in preview.text  # the file's one unknown activity field
    async with instance.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Association)) == 0  # a preview writes nothing

    done = await preview_then_import(admin, export_for(origin, data))
    assert done.status_code == 303
    page = await admin.get(done.headers["location"])
    assert "Every count and every total is the same in the file and here." in page.text
    assert "confirmed" in page.text

    association = await imported(instance)
    objects = expected_counts(data)
    assert await count(instance, Category, association) == objects["associations.associationbenevalocategory"] == 13
    assert await count(instance, Level, association) == objects["associations.associationbenevalolevel"] == 2
    assert await count(instance, Project, association) == objects["associations.associationproject"] == 3
    assert await count(instance, Role, association) == objects["associations.associationrole"] == 4
    assert await count(instance, Membership, association) == objects["associations.associationmembership"] == 5
    assert await count(instance, AnonymousLink, association) == objects["associations.associationanonymousmember"]
    assert await count(instance, TimeEntry, association) == objects["benevalibre.benevalo"] == 30
    pending = sum(1 for o in data["objects"] if o["model"] == "benevalibre.benevalo" and not o["fields"]["is_active"])
    assert await count(instance, TimeEntry, association, TimeEntry.status == EntryStatus.PENDING) == pending
    async with instance.sessions() as db:
        emails = set((await db.scalars(select(User.email).where(User.email.like("%@example.net")))).all())
    assert emails == {o["fields"]["email"] for o in data["objects"] if o["model"] == "accounts.user"}

    assert await actual_totals(instance, association) == expected_totals(data)
    assert origin.moves[data["metadata"]["token"]] == {
        "is_done": True,
        "url": f"https://a.test/associations/{association.handle}",
    }


async def test_each_object_keeps_its_fields(app: Starlette, instance: Instance, origin: StandInOrigin) -> None:
    admin = await person(app, "root", admin=True)
    unknown = await upload(admin, export_for(origin), owner="nobody@example.org")
    assert unknown.status_code == 400
    assert "No account uses this email address on this instance." in unknown.text
    assert (await preview_then_import(admin, export_for(origin))).status_code == 303
    association = await imported(instance)
    assert association.handle == "les-jardins-de-la-clouere"
    assert association.status == AssociationStatus.ACTIVE
    assert (association.website, association.postal_code, association.country) == (
        "https://jardins-clouere.example.org",
        "86160",
        "FR",
    )
    assert association.yearly_income == 3500 and association.moderate_entries and association.moderate_membership
    assert len(association.activity_fields) == 1
    async with instance.sessions() as db:
        roles = {r.name: r for r in await db.scalars(select(Role).where(Role.association_id == association.id))}
        assert roles["Bénévole"].is_default
        treasurer = roles["Trésorier⋅e"]
        assert treasurer.list_members and treasurer.manage_entries and not treasurer.manage_members
        assert roles["Dirigeant"].manage_association
        members = {
            m.user.email: m
            for m in await db.scalars(select(Membership).where(Membership.association_id == association.id))
        }
        assert members["odile.faure@example.net"].status == MembershipStatus.PENDING
        assert members["claire.moreau@example.net"].role.name == "Dirigeant"
        assert "root@example.org" not in members  # the admin named no one: the file's managers manage it
        jeanne = members["jeanne.roux@example.net"].user
        assert (jeanne.display_name, jeanne.pseudonym, jeanne.handle, jeanne.is_active) == (
            "Jeanne Roux",
            "Jeannot",
            "jeannot",
            False,
        )
        assert members["lucas.petit@example.net"].user.handle == "lulu"
        garden = await db.scalar(select(Category).where(Category.name == "Arrosage et désherbage"))
        assert garden is not None and garden.common_category == "maintenance"
        level = await db.scalar(select(Level).where(Level.association_id == association.id))
        assert level is not None and level.hourly_rate == Decimal("11.88")
        links = {link.name: link for link in await db.scalars(select(AnonymousLink))}
        assert links["Élèves CM2"].expires_on is not None and links["Élèves CM2"].expires_on.isoformat() == "2027-01-26"
        assert links["Tablette du local"].token not in ("c7bcfc61-0997-44de-b564-1b5af096d79b",)
        move = await db.scalar(select(AssociationMove))
        assert move is not None and move.state == MoveState.CONFIRMED
        assert move.details["anonymous_links"]["c7bcfc61-0997-44de-b564-1b5af096d79b"]["name"] == "Tablette du local"
        first = await db.scalar(select(TimeEntry).order_by(TimeEntry.start_date, TimeEntry.id))
        assert first is not None


async def test_a_second_import_of_the_same_file_is_refused_without_change(
    app: Starlette, instance: Instance, origin: StandInOrigin
) -> None:
    admin = await person(app, "root", admin=True)
    content = export_for(origin)
    assert (await preview_then_import(admin, content)).status_code == 303
    before = await row_counts(instance)
    again = await upload(admin, content)
    assert again.status_code == 400
    assert "This export was already imported on" in again.text
    renamed = await upload(admin, content, rename="Les Jardins, encore")
    assert renamed.status_code == 400
    assert "This export was already imported on" in renamed.text
    assert await row_counts(instance) == before


async def test_a_member_matched_by_email_keeps_their_account(
    app: Starlette, instance: Instance, origin: StandInOrigin
) -> None:
    admin = await person(app, "root", admin=True)
    claire = await person(app, "claire")
    async with instance.sessions() as db:
        row = await db.scalar(select(User).where(User.handle == "claire"))
        assert row is not None
        row.email = "Claire.Moreau@Example.NET"
        await db.commit()
    response = await preview_then_import(admin, export_for(origin), owner="claire.moreau@example.net")
    assert response.status_code == 303
    association = await imported(instance)
    async with instance.sessions() as db:
        users = await db.scalar(select(func.count()).select_from(User).where(User.email.ilike("claire.moreau%")))
        assert users == 1
    page = await claire.get("/notifications")
    assert "moved to this instance" in page.text
    manage = await claire.get(f"/associations/{association.handle}/members")
    assert manage.status_code == 200
    assert isinstance(claire, httpx.AsyncClient)
