"""Time entries across instances: alice on a.test logs time for restos on b.test, which approves or rejects it."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from federation import proofs
from federation.client import FetchError
from federation.keys import decode_multikey
from federation.local_keys import instance_owner, owner_of
from instance.i18n import gettext, language
from instance.models import Association, Delivery, DeliveryState, InboxItem, Membership, RemoteActor, TimeEntry
from tests.conftest import post_form
from tests.federation_entries_support import ALICE, RESTOS, members, person_on_b
from tests.federation_support import Pair, post_signed

pytest_plugins = ["tests.federation_fixtures"]

A = "https://a.test/entries/"


async def test_the_entry_form_offers_the_catalog_of_the_remote_association(pair: Pair) -> None:
    team = await members(pair)

    form = await team.alice.get("/entries/new?association=restos@b.test")

    assert form.status_code == 200
    b_category = await team.category("b")
    assert b_category.name in form.text
    copy_of = await team.category("a", b_category.name)
    assert copy_of.ap_id == f"{RESTOS}/categories/{b_category.id}"


async def test_an_entry_is_sent_moderated_approved_and_carries_a_signed_accept(pair: Pair) -> None:
    team = await members(pair)

    response = await team.log(150)

    assert response.status_code == 303
    assert (await team.a_entry()).status == "pending"
    await pair.settle()
    received = await team.b_entry()
    assert received is not None and received.status == "pending" and received.duration_minutes == 150
    assert received.ap_id == f"https://a.test/entries/{(await team.a_entry()).id}"
    assert received.user_id == (await person_on_b(pair)).id
    queue = await team.bob.get("/associations/restos/moderation")
    assert "Tri des dons" in queue.text

    await team.decide(approve=True)
    await pair.settle()

    mine = await team.a_entry()
    assert mine.status == "approved"
    record = mine.accept_record
    assert record is not None and record["type"] == "Accept" and record["actor"] == RESTOS
    assert record["object"]["duration"] == "PT2H30M"
    [actor] = await pair.a.rows(RemoteActor, RemoteActor.uri == RESTOS)
    key = decode_multikey(actor.assertion_methods[0]["publicKeyMultibase"])
    proofs.verify(record, key)
    forged = copy.deepcopy(record)
    forged["object"]["duration"] = "PT9H"
    assert not proofs.is_valid(forged, key)
    listing = await team.alice.get("/entries")
    assert "Tri des dons" in listing.text and "badge-approved" in listing.text
    assert await pair.a.count(Delivery, Delivery.state != DeliveryState.SENT) == 0


async def test_an_association_that_does_not_moderate_approves_at_once(pair: Pair) -> None:
    team = await members(pair, moderate_entries=False)

    await team.log(60)
    await pair.settle()

    assert (await team.a_entry()).status == "approved"
    received = await team.b_entry()
    assert received is not None and received.status == "approved"


async def test_edit_sends_back_to_pending_then_reject_and_withdraw(pair: Pair) -> None:
    team = await members(pair)
    await team.log(60)
    await pair.settle()
    await team.decide(approve=True)
    await pair.settle()

    await team.edit(hours="3", minutes="15")
    await pair.settle()
    received = await team.b_entry()
    assert received is not None and (received.status, received.duration_minutes) == ("pending", 195)
    assert (await team.a_entry()).status == "pending"

    await team.decide(approve=False, reason="Pas ce jour-là")
    await pair.settle()
    mine = await team.a_entry()
    assert (mine.status, mine.rejection_reason) == ("rejected", "Pas ce jour-là")
    assert "Pas ce jour-là" in (await team.alice.get("/entries")).text

    await team.withdraw()
    await pair.settle()
    received = await team.b_entry()
    assert received is not None and received.status == "withdrawn"
    assert (await team.a_entry()).status == "withdrawn"


async def test_a_late_accept_of_an_older_version_changes_nothing(pair: Pair) -> None:
    team = await members(pair)
    await team.log(60)
    await pair.settle()
    await team.decide(approve=True)  # the Accept of version 1 is queued on b.test, not delivered yet
    await team.edit(hours="2", minutes="0")

    await pair.settle()

    mine = await team.a_entry()
    received = await team.b_entry()
    assert received is not None
    assert mine.status == received.status == "pending"
    assert mine.duration_minutes == received.duration_minutes == 120


def _create(entry_id: str, category: str, **fields: object) -> dict[str, object]:
    entry = {
        "id": entry_id,
        "type": "TimeEntry",
        "attributedTo": ALICE,
        "audience": RESTOS,
        "name": "Tri",
        "startTime": "2026-03-08T09:00:00+01:00",
        "duration": "PT1H",
        "category": category,
        "updated": "2026-03-08T10:00:00.000000Z",
        **fields,
    }
    return {
        "id": f"{ALICE}/activities/{entry_id[-3:]}",
        "type": "Create",
        "actor": ALICE,
        "to": [RESTOS],
        "object": entry,
    }


async def _refused(pair: Pair, activity: dict[str, object], *, reply: str | None) -> None:
    keys = await pair.a.keys("alice")
    before = {d.id for d in await pair.b.rows(Delivery)}
    response = await post_signed(pair.b, "/inbox", activity, keys)
    await pair.b.worker.run_until_idle()
    assert response.status_code == 202
    assert await pair.b.count(TimeEntry) == 0
    replies = await pair.b.rows(Delivery, Delivery.body.contains('"Reject"'), Delivery.id.not_in(before))
    if reply is None:
        assert replies == []
    else:  # the reason, in French, is in the Reject
        with language("fr"):
            expected = gettext(reply)
        assert len(replies) == 1 and json.loads(replies[0].body)["summary"].find(expected) >= 0


async def test_refusals_change_nothing_and_say_why(pair: Pair) -> None:
    team = await members(pair)
    own = f"https://b.test/associations/restos/categories/{(await team.category('b')).id}"
    await pair.b.person("carol")
    await pair.b.association("carol", "autre")
    other = f"https://b.test/associations/autre/categories/{(await team.category('b')).id + 100}"

    # a category of another association
    await _refused(
        pair, _create("https://a.test/entries/900", other), reply="Please pick one of the choices of this association."
    )
    # in the future
    await _refused(
        pair,
        _create("https://a.test/entries/901", own, startTime="2099-01-01T00:00:00+01:00"),
        reply="The date cannot be in the future.",
    )
    # zero duration without distance
    await _refused(
        pair,
        _create("https://a.test/entries/902", own, duration="PT0M"),
        reply="Please give a duration (it can be zero only for a journey).",
    )
    # an entry whose id is on another host, or attributed to someone else: ignored, no answer
    await _refused(pair, _create("https://c.test/entries/903", own), reply=None)
    await _refused(
        pair, _create("https://a.test/entries/904", own, attributedTo="https://a.test/users/zoe"), reply=None
    )


async def test_entries_from_non_members_and_removed_members_are_rejected(pair: Pair) -> None:
    team = await members(pair)
    own = f"https://b.test/associations/restos/categories/{(await team.category('b')).id}"
    async with pair.b.instance.sessions() as db:
        person = await person_on_b(pair)
        membership = await db.get(Membership, (await pair.b.rows(Membership, Membership.user_id == person.id))[0].id)
        await db.delete(membership)
        await db.commit()

    await _refused(
        pair, _create("https://a.test/entries/905", own), reply="Only members of this association can do this."
    )


async def test_an_update_by_another_actor_and_a_forged_proof_change_nothing(pair: Pair) -> None:
    team = await members(pair)
    await team.log(60)
    await pair.settle()
    received = await team.b_entry()
    assert received is not None and received.ap_object is not None
    await pair.a.person("mallory")
    mallory = await pair.a.keys("mallory")
    changed = {**received.ap_object, "duration": "PT9H", "updated": "2099-01-01T00:00:00.000000Z"}
    update = {
        "id": "https://a.test/users/mallory/activities/7",
        "type": "Update",
        "actor": "https://a.test/users/mallory",
        "object": {**changed, "attributedTo": "https://a.test/users/mallory"},
    }

    response = await post_signed(pair.b, "/inbox", update, mallory)
    await pair.b.worker.run_until_idle()

    assert response.status_code == 202
    after = await team.b_entry()
    assert after is not None and after.duration_minutes == 60

    # alice's own Update with a proof made by another key is refused at the door
    alice = await pair.a.keys("alice")
    signed = proofs.sign(
        {"id": f"{ALICE}/activities/8", "type": "Update", "actor": ALICE, "object": changed},
        mallory.ed25519,
        alice.ed25519_key_id,
    )
    forged = await post_signed(pair.b, "/inbox", signed, alice)
    assert forged.status_code == 401
    after = await team.b_entry()
    assert after is not None and after.duration_minutes == 60


async def test_an_accept_from_an_actor_that_is_not_the_association_changes_nothing(pair: Pair) -> None:
    team = await members(pair)
    await team.log(60)
    await pair.settle()
    received = await team.b_entry()
    assert received is not None
    await pair.b.person("mallory")
    keys = await pair.b.keys("mallory")
    accept = {
        "id": "https://b.test/users/mallory/activities/1",
        "type": "Accept",
        "actor": "https://b.test/users/mallory",
        "object": received.ap_object,
    }

    response = await post_signed(pair.a, "/inbox", accept, keys)
    await pair.a.worker.run_until_idle()

    assert response.status_code == 202
    assert (await team.a_entry()).status == "pending"
    [item] = await pair.a.rows(InboxItem, InboxItem.activity_id == accept["id"])
    assert item.state == "ignored"


async def test_the_entry_is_served_only_to_its_association_and_its_instance(pair: Pair) -> None:
    team = await members(pair)
    await team.log(60)
    await pair.settle()
    entry = await team.a_entry()
    url = f"https://a.test/entries/{entry.id}"
    client = pair.b.app.state.federation.client
    async with pair.b.instance.sessions() as db:
        restos = await db.scalar(select(Association).where(Association.handle == "restos"))
        assert restos is not None
    as_instance = await client.signing_keys(instance_owner(pair.b.instance.settings))
    as_restos = await client.signing_keys(owner_of(pair.b.instance.settings, restos))
    await pair.b.person("mallory")
    as_mallory = await pair.b.keys("mallory")

    by_restos = await client.fetch(url, as_restos)
    by_instance = await client.fetch(url, as_instance)
    assert by_restos["type"] == by_instance["type"] == "TimeEntry" and by_restos["duration"] == "PT1H"
    with pytest.raises(FetchError, match="403"):
        await client.fetch(url, as_mallory)
    browser = pair.a.browser()
    unsigned = await browser.get(url, headers={"Accept": "application/activity+json"})
    assert unsigned.status_code == 401
    page = await team.alice.get(f"/entries/{entry.id}")
    assert page.status_code == 303 and page.headers["location"].endswith("/edit")

    await team.withdraw()
    with pytest.raises(FetchError, match="410"):
        await client.fetch(url, as_restos)


async def test_a_catalog_change_reaches_the_volunteers_instance(pair: Pair) -> None:
    team = await members(pair)
    projects = "/associations/restos/projects"

    await post_form(team.bob, projects, {"name": "Collecte d'hiver", "description": "Nov.–fév."}, page=projects)
    [update] = await pair.b.rows(Delivery, Delivery.body.contains('"Update"'))
    assert json.loads(update.body)["object"]["type"] == "Group"
    await pair.settle()

    form = await team.alice.get("/entries/new?association=restos@b.test")
    assert "Collecte d&#39;hiver" in form.text or "Collecte d'hiver" in form.text


async def test_the_volunteers_dashboard_and_attestation_count_the_remote_association(pair: Pair) -> None:
    team = await members(pair)
    await team.log(150)
    await pair.settle()
    await team.decide(approve=True)
    await pair.settle()

    dashboard = await team.alice.get("/dashboard")
    attestation = await team.alice.get("/me/attestation")
    statistics = await team.bob.get("/associations/restos/statistics")

    assert dashboard.status_code == attestation.status_code == statistics.status_code == 200
    assert "Restos" in dashboard.text and "2 h 30" in dashboard.text
    assert "Restos" in attestation.text
    assert "2 h 30" in statistics.text  # counted on the association's side too
