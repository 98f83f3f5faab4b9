"""After a move from Bénévalibre 2.x, the imported association is an actor like any other: a volunteer of another
instance joins it and logs time that its managers approve."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from instance.models import Association, Category, Membership, TimeEntry, User
from instance.services.benevalibre_import import import_export
from instance.services.benevalibre_parse import parse_export
from tests.conftest import log_in, post_form
from tests.federation_support import Pair
from tests.test_import_support import VECTOR

pytest_plugins = ["tests.federation_fixtures"]


async def test_a_volunteer_of_another_instance_joins_the_imported_association(pair: Pair) -> None:
    await pair.b.user("lea")
    async with pair.b.instance.sessions() as db:
        owner = await db.scalar(select(User).where(User.handle == "lea"))
        result = await import_export(db, pair.b.instance, parse_export(VECTOR.read_bytes()), owner=owner, importer=None)
        await db.commit()
        handle = result.association.handle
        before = len(
            (await db.scalars(select(TimeEntry.id).where(TimeEntry.association_id == result.association.id))).all()
        )
    alice = await pair.a.person("alice")

    found = await post_form(alice, "/follows", {"target": f"@{handle}@b.test"}, page="/follows")
    mirror = str(found.headers["location"])
    await post_form(alice, f"{mirror}/join", {}, page=mirror)
    await pair.settle()
    [imported] = await pair.b.rows(Association, Association.handle == handle)
    remote = Membership.user.has(User.actor_uri.is_not(None))
    [request] = await pair.b.rows(Membership, Membership.association_id == imported.id, remote)
    assert request.status == "pending"  # the association moderates membership, as it did before the move
    lea = pair.b.browser()
    await log_in(lea, "lea@b.test")
    members = f"/associations/{handle}/members"
    await post_form(lea, f"{members}/{request.id}/approve", {}, page=members)
    await pair.settle()
    [copy] = await pair.a.rows(Association, Association.actor_uri == f"https://b.test/associations/{handle}")
    [category, *_rest] = await pair.a.rows(Category, Category.association_id == copy.id, Category.archived.is_(False))
    data = {
        "association": copy.handle,
        "start_date": dt.date.today().isoformat(),
        "duration": "60",
        "title": "Permanence",
        "category": str(category.id),
    }
    assert (await post_form(alice, "/entries/new", data, page="/entries/new")).status_code == 303
    await pair.settle()

    received = await pair.b.rows(TimeEntry, TimeEntry.association_id == imported.id)
    assert len(received) == before + 1
    [mine] = [e for e in received if e.ap_id is not None]
    assert (mine.title, mine.duration_minutes) == ("Permanence", 60)
