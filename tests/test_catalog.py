"""Managers keep the catalog: categories, levels and projects; archiving; deleting only what is unused."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import select

from instance.models import Category, Level, Project
from instance.runtime import Instance
from tests.test_entries_support import association, category_ids, entries_of, entry_form, join, person, post


async def test_manager_adds_edits_archives_and_deletes_categories(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)

    page = await client.get("/associations/restos/categories")
    assert page.status_code == 200 and "Autres activités" in page.text

    # A category must map to one of the shared categories
    response = await post(client, "/associations/restos/categories", {"name": "Maraude", "common_category": "nope"})
    assert response.status_code == 400 and 'id="e-common_category"' in response.text
    assert 'value="Maraude"' in response.text
    response = await post(client, "/associations/restos/categories", {"name": "Maraude", "common_category": "goods"})
    assert response.status_code == 303
    async with instance.sessions() as db:
        maraude = await db.scalar(select(Category).where(Category.name == "Maraude"))
        assert maraude is not None and maraude.common_category == "goods"

    # Names are unique within the association
    response = await post(client, "/associations/restos/categories", {"name": "maraude", "common_category": "goods"})
    assert response.status_code == 400 and "already has an item with this name" in response.text

    # Edit, archive, unarchive, delete (unused)
    path = f"/associations/restos/categories/{maraude.id}"
    assert (await client.get(f"{path}/edit")).status_code == 200
    response = await post(client, f"{path}/edit", {"name": "Maraudes", "common_category": "reception"})
    assert response.status_code == 303
    await post(client, f"{path}/archive", {"archived": "1"})
    async with instance.sessions() as db:
        row = await db.get(Category, maraude.id)
        assert row is not None and (row.name, row.common_category, row.archived) == ("Maraudes", "reception", True)
    await post(client, f"{path}/archive", {"archived": "0"})
    response = await post(client, f"{path}/delete", {})
    assert response.status_code == 303
    assert "was deleted" in (await client.get(response.headers["location"])).text
    async with instance.sessions() as db:
        assert await db.get(Category, maraude.id) is None
    assert len(await category_ids(instance, restos)) == 12


async def test_a_category_in_use_cannot_be_deleted_but_can_be_archived(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)
    category = (await category_ids(instance, restos))[0]
    assert (await post(client, "/entries/new", {"association": "restos", **entry_form(category)})).status_code == 303

    response = await post(client, f"/associations/restos/categories/{category}/delete", {})
    page = await client.get(response.headers["location"])
    assert "cannot be deleted" in page.text and "Archive it instead" in page.text
    async with instance.sessions() as db:
        assert await db.get(Category, category) is not None

    await post(client, f"/associations/restos/categories/{category}/archive", {"archived": "1"})
    # Not offered for new entries, still shown on the old one
    new_form = await client.get("/entries/new")
    assert f'<option value="{category}"' not in new_form.text
    [entry] = await entries_of(instance, restos)
    edit = await client.get(f"/entries/{entry.id}/edit")
    assert f'<option value="{category}" selected' in edit.text
    assert (await post(client, f"/entries/{entry.id}/edit", entry_form(category, title="Gardée"))).status_code == 303


async def test_levels_default_to_the_hourly_rate_and_check_it(client: httpx.AsyncClient, instance: Instance) -> None:
    owner = await person(instance, "owner", client)
    await association(instance, owner)

    page = await client.get("/associations/restos/levels")
    assert 'value="11.88"' in page.text  # the instance's default hourly value
    response = await post(client, "/associations/restos/levels", {"name": "Expert", "hourly_rate": "-1"})
    assert response.status_code == 400 and 'id="e-hourly_rate"' in response.text
    response = await post(client, "/associations/restos/levels", {"name": "Expert", "hourly_rate": "25,50"})
    assert response.status_code == 303
    async with instance.sessions() as db:
        level = await db.scalar(select(Level).where(Level.name == "Expert"))
        assert level is not None and level.hourly_rate == Decimal("25.50")

    # Once a level and a project exist, the entry form offers them
    await post(client, "/associations/restos/projects", {"name": "Collecte d'hiver", "description": "Nov.–fév."})
    async with instance.sessions() as db:
        project = await db.scalar(select(Project))
        assert project is not None
    page = await client.get("/entries/new")
    assert 'name="project"' in page.text and 'name="level"' in page.text and "Collecte d&#39;hiver" in page.text


async def test_only_members_with_the_permission_manage_the_catalog(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    alice = await person(instance, "alice", client)
    await join(instance, restos, alice)
    category = (await category_ids(instance, restos))[0]

    for kind in ("categories", "levels", "projects"):
        assert (await client.get(f"/associations/restos/{kind}")).status_code == 403
    response = await post(client, "/associations/restos/categories", {"name": "X", "common_category": "other"})
    assert response.status_code == 403
    assert (await post(client, f"/associations/restos/categories/{category}/delete", {})).status_code == 403
    assert (
        await post(client, f"/associations/restos/categories/{category}/archive", {"archived": "1"})
    ).status_code == 403
    assert len(await category_ids(instance, restos)) == 12
