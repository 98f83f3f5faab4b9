"""A volunteer logs time: the fast form, the list, edits, withdrawal, and what is refused."""

from __future__ import annotations

import datetime as dt

import httpx
from starlette.applications import Starlette

from instance.models import Category, TimeEntry, User
from instance.runtime import Instance
from instance.services.entries import today
from tests.conftest import make_client
from tests.test_entries_support import (
    association,
    category_ids,
    days_ago,
    entries_of,
    entry_form,
    join,
    person,
    post,
)


async def test_volunteer_logs_time_sees_it_pending_then_edits_and_withdraws_it(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    # Given a volunteer, member of one association that moderates entries
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    alice = await person(instance, "alice", client)
    await join(instance, restos, alice)
    category = (await category_ids(instance, restos))[3]

    # When she opens the form: today's date, max today, no association select (only one), duration presets
    page = await client.get("/entries/new")
    assert page.status_code == 200
    assert f'value="{today().isoformat()}"' in page.text
    assert f'max="{today().isoformat()}"' in page.text
    assert 'name="association" data-autosubmit' not in page.text
    assert 'value="210"' in page.text and "Repeat my last entry" not in page.text
    assert 'name="project"' not in page.text and 'name="level"' not in page.text  # none defined

    # And logs two hours and a trip
    response = await post(client, "/entries/new", {"association": "restos", **entry_form(category, distance="12,5")})
    assert response.status_code == 303
    [entry] = await entries_of(instance, restos)
    assert (entry.status, entry.duration_minutes, entry.user_id) == ("pending", 120, alice.id)
    assert str(entry.distance_km) == "12.50"
    async with instance.sessions() as db:
        alice_row = await db.get(User, alice.id)
        assert alice_row is not None and alice_row.last_association_id == restos.id

    # Then her list shows it pending
    listing = await client.get("/entries")
    assert "Tri des dons" in listing.text and "badge-pending" in listing.text

    # When she edits it with "other" hours and minutes
    edit = await client.get(f"/entries/{entry.id}/edit")
    assert edit.status_code == 200 and 'value="Tri des dons"' in edit.text
    form = entry_form(category, duration="other", hours="1", minutes="45", title="Tri du samedi")
    response = await post(client, f"/entries/{entry.id}/edit", form)
    assert response.status_code == 303
    [entry] = await entries_of(instance, restos)
    assert (entry.title, entry.duration_minutes) == ("Tri du samedi", 105)

    # And withdraws it: the row stays, withdrawn, and can no longer be edited
    response = await post(client, f"/entries/{entry.id}/withdraw", {})
    assert response.status_code == 303
    [entry] = await entries_of(instance, restos)
    assert entry.status == "withdrawn"
    response = await client.get(f"/entries/{entry.id}/edit")
    assert response.status_code == 303


async def test_open_association_approves_at_once_and_the_form_remembers_choices(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    owner = await person(instance, "owner")
    open_asso = await association(instance, owner, "jardin", moderate_entries=False)
    other = await association(instance, owner, "velo")
    alice = await person(instance, "alice", client)
    await join(instance, open_asso, alice)
    await join(instance, other, alice)
    category = (await category_ids(instance, open_asso))[5]

    response = await post(client, "/entries/new", {"association": "jardin", **entry_form(category, duration="30")})
    assert response.status_code == 303
    [entry] = await entries_of(instance, open_asso)
    assert entry.status == "approved"

    # The next form preselects the last association and category; switching association reloads the form
    page = await client.get("/entries/new")
    assert 'value="jardin" selected' in page.text
    assert f'value="{category}" selected' in page.text
    page = await client.get("/entries/new?association=velo")
    assert 'value="velo" selected' in page.text
    assert 'name="association" value="velo"' in page.text

    # "Repeat my last entry" prefills from it with today's date
    page = await client.get("/entries/new?repeat=1")
    assert 'value="jardin" selected' in page.text
    assert 'value="Tri des dons"' in page.text
    assert 'value="30" checked' in page.text


async def test_edit_of_an_approved_entry_goes_back_to_pending(client: httpx.AsyncClient, instance: Instance) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    alice = await person(instance, "alice", client)
    await join(instance, restos, alice)
    category = (await category_ids(instance, restos))[0]
    await post(client, "/entries/new", {"association": "restos", **entry_form(category)})
    [entry] = await entries_of(instance, restos)
    async with instance.sessions() as db:
        row = await db.get(TimeEntry, entry.id)
        assert row is not None
        row.status = "approved"  # type: ignore[assignment]
        await db.commit()

    page = await client.get(f"/entries/{entry.id}/edit")
    assert "wait for the association" in page.text
    await post(client, f"/entries/{entry.id}/edit", entry_form(category, title="Corrigé"))
    [entry] = await entries_of(instance, restos)
    assert (entry.status, entry.title) == ("pending", "Corrigé")


async def test_refused_entries_show_each_error_next_to_its_field_and_keep_what_was_typed(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    velo = await association(instance, owner, "velo")
    alice = await person(instance, "alice", client)
    await join(instance, restos, alice)
    category = (await category_ids(instance, restos))[0]
    foreign_category = (await category_ids(instance, velo))[0]
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()

    cases = [
        ({"start_date": tomorrow}, "start_date", "cannot be in the future"),
        ({"duration": "other", "hours": "0", "minutes": "0"}, "duration", "can be zero only for a journey"),
        ({"duration": "other", "hours": "-2", "minutes": "0"}, "duration", "cannot be negative"),
        ({"duration": "other", "hours": "25", "minutes": "0"}, "duration", "only 24 hours"),
        ({"category": str(foreign_category)}, "category", "choices of this association"),
        ({"title": "x" * 128}, "title", "at most 127"),
        ({"distance": "-3"}, "distance", "between 0 and 10"),
        ({"end_date": days_ago(3)}, "end_date", "before the start date"),
    ]
    for overrides, field, message in cases:
        form = {"association": "restos", **entry_form(category, title="Mon titre"), **overrides}
        response = await post(client, "/entries/new", form)
        assert response.status_code == 400, overrides
        assert f'id="e-{field}"' in response.text, overrides
        assert message in response.text, overrides
        kept_title = overrides.get("title", "Mon titre")
        assert f'value="{kept_title}"' in response.text
    assert await entries_of(instance, restos) == []

    # Zero duration is fine with a distance; several days allow more than 24 hours
    ok = entry_form(category, duration="other", hours="0", minutes="0", distance="8")
    assert (await post(client, "/entries/new", {"association": "restos", **ok})).status_code == 303
    ok = entry_form(category, duration="other", hours="30", start_date=days_ago(2), end_date=days_ago(1))
    assert (await post(client, "/entries/new", {"association": "restos", **ok})).status_code == 303
    assert len(await entries_of(instance, restos)) == 2


async def test_archived_category_is_refused_and_not_offered(client: httpx.AsyncClient, instance: Instance) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    alice = await person(instance, "alice", client)
    await join(instance, restos, alice)
    archived = (await category_ids(instance, restos))[0]
    async with instance.sessions() as db:
        row = await db.get(Category, archived)
        assert row is not None
        row.archived = True
        await db.commit()

    page = await client.get("/entries/new")
    assert f'<option value="{archived}"' not in page.text
    response = await post(client, "/entries/new", {"association": "restos", **entry_form(archived)})
    assert response.status_code == 400
    assert "archived" in response.text


async def test_non_member_cannot_log_time_and_nobody_sees_others_entries(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    velo = await association(instance, owner, "velo")
    alice = await person(instance, "alice", client)
    await join(instance, velo, alice)
    category = (await category_ids(instance, restos))[0]

    response = await post(client, "/entries/new", {"association": "restos", **entry_form(category)})
    assert response.status_code == 403
    assert await entries_of(instance, restos) == []

    # Bob's entry is not Alice's business: 404 on edit and withdraw, nothing changed
    async with make_client(app) as bob_client:
        bob = await person(instance, "bob", bob_client)
        await join(instance, restos, bob)
        await post(bob_client, "/entries/new", {"association": "restos", **entry_form(category)})
    [entry] = await entries_of(instance, restos)
    assert (await client.get(f"/entries/{entry.id}/edit")).status_code == 404
    assert (await post(client, f"/entries/{entry.id}/edit", entry_form(category, title="Hack"))).status_code == 404
    assert (await post(client, f"/entries/{entry.id}/withdraw", {})).status_code == 404
    [entry] = await entries_of(instance, restos)
    assert (entry.status, entry.title) == ("pending", "Tri des dons")
    assert "Tri des dons" not in (await client.get("/entries")).text


async def test_pages_need_a_login_and_a_membership(client: httpx.AsyncClient, instance: Instance) -> None:
    assert (await client.get("/entries/new")).status_code == 303
    await person(instance, "alice", client)
    page = await client.get("/entries/new")
    assert page.status_code == 200 and "not an active member" in page.text


async def test_list_filters_and_pagination(client: httpx.AsyncClient, instance: Instance) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    alice = await person(instance, "alice", client)
    await join(instance, restos, alice)
    category = (await category_ids(instance, restos))[0]
    async with instance.sessions() as db:
        for day in range(60):
            db.add(
                TimeEntry(
                    association_id=restos.id,
                    user_id=alice.id,
                    category_id=category,
                    start_date=today() - dt.timedelta(days=day),
                    duration_minutes=60,
                    title=f"Jour {day}",
                    status="rejected" if day == 5 else "approved",
                    rejection_reason="Doublon" if day == 5 else "",
                )
            )
        await db.commit()
    page = await client.get("/entries")
    assert "Page 1 of 2" in page.text or "Page 1 sur 2" in page.text or "page=2" in page.text
    assert "Jour 0<" in page.text and "Jour 59<" not in page.text
    second = await client.get("/entries?page=2")
    assert "Jour 59<" in second.text
    rejected = await client.get("/entries?status=rejected")
    assert "Jour 5<" in rejected.text and "Jour 6<" not in rejected.text and "Doublon" in rejected.text
    period = await client.get(f"/entries?from={days_ago(2)}&to={days_ago(1)}")
    assert "Jour 1<" in period.text and "Jour 2<" in period.text and "Jour 0<" not in period.text
