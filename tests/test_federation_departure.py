"""Deleting an account tells the remote associations: alice (a.test) leaves restos (b.test) with her account,
and restos keeps her time without her name, or withdraws it, as she chose."""

from __future__ import annotations

import pytest

from instance.models import Delivery, DeliveryState, Membership, TimeEntry, User
from tests.conftest import PASSWORD, post_form
from tests.federation_entries_support import ALICE, members
from tests.federation_support import Pair

pytest_plugins = ["tests.federation_fixtures"]


@pytest.mark.parametrize("choice", ["keep", "withdraw"])
async def test_the_remote_association_forgets_the_person_as_she_chose(pair: Pair, choice: str) -> None:
    team = await members(pair)
    for title in ("Tri", "Accueil"):
        await team.log(90, title=title)
    await pair.settle()
    for entry in await pair.b.rows(TimeEntry):
        await post_form(
            team.bob,
            "/associations/restos/moderation/decide",
            {"approve_only": str(entry.id)},
            page="/associations/restos/moderation",
        )
    await pair.settle()
    assert "alice@a.test" in (await team.bob.get("/associations/restos/members")).text

    response = await post_form(team.alice, "/me/delete", {"password": PASSWORD, "entries": choice}, page="/me/delete")
    await pair.settle()

    assert response.status_code == 303
    assert await pair.a.count(User, User.handle == "alice") == 0
    assert await pair.a.count(Delivery, Delivery.state != DeliveryState.SENT) == 0  # signed with the kept keys
    assert "alice@a.test" not in (await team.bob.get("/associations/restos/members")).text
    assert await pair.b.count(User, User.actor_uri == ALICE) == 0
    assert await pair.b.count(Membership) == 1  # bob alone
    kept = await pair.b.rows(TimeEntry)
    assert len(kept) == 2 and {e.user_id for e in kept} == {None}
    assert {e.participant_name for e in kept} == {"Former member"}
    expected = "approved" if choice == "keep" else "withdrawn"
    assert {e.status for e in kept} == {expected}
    queue = await team.bob.get("/associations/restos/moderation?status=approved")
    assert "Alice" not in queue.text
