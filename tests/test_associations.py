"""Creating an association, its profile page, editing it, the directory and hidden associations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from instance import reference
from instance.models import AssociationStatus, User
from instance.runtime import Instance
from instance.services.associations import create_association
from tests.associations_support import association, found, membership, person, send
from tests.conftest import make_client

FIELD = reference.activity_fields()[0][1][0]
OTHER_FIELD = reference.activity_fields()[1][1][0]


async def test_a_volunteer_creates_an_association_and_manages_it(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    page = await alice.get("/associations/new")
    assert page.status_code == 200
    assert "<optgroup" in page.text and FIELD in page.text

    response = await found(
        alice,
        handle="Amis-Quartier",
        name="Les Amis du Quartier",
        description="Jardins partagés.\n\nEt repas.",
        website="https://amis.example.org/",
        activity_fields=[FIELD, OTHER_FIELD],
        postal_code="69001",
        has_employees="1",
        yearly_income="12000",
        moderate_membership="1",
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/associations/amis-quartier"
    profile = await alice.get("/associations/amis-quartier")
    assert profile.status_code == 200
    for text in ("Les Amis du Quartier", "@amis-quartier@a.test", "Jardins partagés.", "https://amis.example.org/"):
        assert text in profile.text
    assert FIELD in profile.text and OTHER_FIELD in profile.text
    assert "1 member" in profile.text
    assert "/associations/amis-quartier/edit" in profile.text
    assert "/associations/amis-quartier/roles" in profile.text
    created = await association(instance, "amis-quartier")
    assert created is not None and created.status == AssociationStatus.ACTIVE
    assert created.yearly_income == 12000 and created.has_employees and created.moderate_membership
    mine = await membership(instance, "amis-quartier", "alice")
    assert mine is not None and mine.role.manage_association


async def test_creating_needs_an_account(client: httpx.AsyncClient) -> None:
    response = await client.get("/associations/new")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_wrong_values_are_refused_and_what_was_typed_is_kept(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")

    response = await found(
        alice,
        handle="Pas bon!",
        name="Les Amis",
        website="javascript:alert(1)",
        yearly_income="-5",
        activity_fields=["Not a listed field"],
        description="Ce que j'ai écrit",
    )

    assert response.status_code == 400
    assert "Use 1 to 64 lowercase letters" in response.text
    assert "starting with https://" in response.text
    assert "positive whole number" in response.text
    assert "from the list only" in response.text
    assert 'value="Les Amis"' in response.text and "Ce que j&#39;ai écrit" in response.text
    assert await association(instance, "pas-bon") is None


async def test_duplicate_names_and_handles_are_refused(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await person(app, "bob")
    assert (await found(alice, handle="amis", name="Les Amis")).status_code == 303

    same_name = await found(alice, handle="autre", name="  les  AMIS ", postal_code="75011")
    assert same_name.status_code == 400
    assert "already exists on this instance" in same_name.text
    assert 'value="75011"' in same_name.text and 'value="autre"' in same_name.text

    for taken in ("amis", "AMIS", "bob"):
        response = await found(alice, handle=taken, name="Une autre")
        assert response.status_code == 400
        assert "already taken" in response.text
        assert 'value="Une autre"' in response.text
    reserved = await found(alice, handle="new", name="Une autre")
    assert reserved.status_code == 400 and "reserved" in reserved.text
    assert await association(instance, "autre") is None


async def test_a_form_with_a_wrong_csrf_token_changes_nothing(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")

    response = await alice.post("/associations/new", data={"csrf_token": "forged", "handle": "amis", "name": "X"})

    assert response.status_code == 403
    assert await association(instance, "amis") is None


@pytest.mark.parametrize("settings_overrides", [{"association_registration": "closed"}])
async def test_closed_registration_lets_only_admins_create(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    root = await person(app, "root", admin=True)

    page = await alice.get("/associations/new")
    assert "only administrators can create associations" in page.text
    assert 'name="handle"' not in page.text
    refused = await alice.post("/associations/new", data={"csrf_token": "", "handle": "amis", "name": "Amis"})
    assert refused.status_code == 403
    token_refused = await found(alice, handle="amis", name="Amis")
    assert token_refused.status_code == 403
    assert await association(instance, "amis") is None

    assert (await found(root, handle="amis", name="Amis")).status_code == 303
    created = await association(instance, "amis")
    assert created is not None and created.status == AssociationStatus.ACTIVE


async def test_the_manager_edits_the_profile_and_others_cannot(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    await found(alice, name="Les Amis")
    await send(bob, "/associations/amis/join")
    form = await alice.get("/associations/amis/edit")
    assert form.status_code == 200 and 'value="Les Amis"' in form.text

    edited: dict[str, Any] = {
        "name": "Les Amis Réunis",
        "description": "Nouvelle description",
        "website": "http://amis.example.org",
        "activity_fields": [OTHER_FIELD],
        "postal_code": "13001",
        "yearly_income": "",
        "moderate_membership": "1",
    }
    for denied in (await bob.get("/associations/amis/edit"), await send(bob, "/associations/amis/edit", edited)):
        assert denied.status_code == 403
    unchanged = await association(instance, "amis")
    assert unchanged is not None and unchanged.name == "Les Amis"

    response = await send(alice, "/associations/amis/edit", edited)
    assert response.status_code == 303
    profile = await bob.get("/associations/amis")
    assert "Les Amis Réunis" in profile.text and "Nouvelle description" in profile.text
    assert OTHER_FIELD in profile.text and FIELD not in profile.text
    saved = await association(instance, "amis")
    assert saved is not None and saved.moderate_membership and not saved.moderate_entries
    assert saved.yearly_income is None


async def test_editing_to_a_taken_name_is_refused(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, handle="amis", name="Les Amis")
    await found(alice, handle="voisins", name="Les Voisins")

    response = await send(alice, "/associations/voisins/edit", {"name": "LES AMIS", "postal_code": "01000"})

    assert response.status_code == 400
    assert "already exists" in response.text and 'value="01000"' in response.text
    kept = await association(instance, "voisins")
    assert kept is not None and kept.name == "Les Voisins" and kept.postal_code == ""


async def test_the_directory_searches_active_public_associations(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    await found(alice, handle="jardin", name="Jardin Partagé", postal_code="69001")
    await found(alice, handle="chorale", name="La Chorale", description="On chante le jeudi")
    anonymous = make_client(app)
    anonymous.headers["Accept-Language"] = "en"

    everyone = await anonymous.get("/associations")
    assert "Jardin Partagé" in everyone.text and "La Chorale" in everyone.text
    by_postal_code = await anonymous.get("/associations", params={"q": "69001"})
    assert "Jardin Partagé" in by_postal_code.text and "La Chorale" not in by_postal_code.text
    by_description = await anonymous.get("/associations", params={"q": "CHANTE"})
    assert "La Chorale" in by_description.text and "Jardin Partagé" not in by_description.text
    by_handle = await anonymous.get("/associations", params={"q": "jardin"})
    assert "Jardin Partagé" in by_handle.text
    nothing = await anonymous.get("/associations", params={"q": "%"})
    assert "No association matches" in nothing.text


async def test_the_directory_is_paginated(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    async with instance.sessions() as db:
        owner = await db.scalar(select(User).where(User.handle == "alice"))
        assert owner is not None
        for number in range(25):
            await create_association(db, instance.settings, owner, handle=f"a{number:02d}", name=f"Asso {number:02d}")
        await db.commit()

    first = await alice.get("/associations")
    second = await alice.get("/associations", params={"page": "2"})

    assert "25 associations" in first.text
    assert "Asso 00" in first.text and "Asso 19" in first.text and "Asso 20" not in first.text
    assert "Asso 20" in second.text and "Asso 24" in second.text and "Asso 00" not in second.text
    assert "Page 2 of 2" in second.text


async def test_hidden_associations_are_seen_only_by_members(app: Starlette, instance: Instance) -> None:
    alice = await person(app, "alice")
    bob = await person(app, "bob")
    carol = await person(app, "carol")
    await found(alice, handle="secret", name="Le Cercle")
    await send(bob, "/associations/secret/join")
    await send(alice, "/associations/secret/edit", {"name": "Le Cercle", "hidden": "1"})
    anonymous = make_client(app)

    for path in ("", "/edit", "/members", "/roles", "/logo", "/leave"):
        assert (await carol.get(f"/associations/secret{path}")).status_code == 404, path
        # pages that need an account send anonymous visitors to the login page, whether the association exists or not
        assert (await anonymous.get(f"/associations/secret{path}")).status_code in (
            (404,) if path in ("", "/logo") else (303,)
        )
    assert (await send(carol, "/associations/secret/join")).status_code == 404
    assert await membership(instance, "secret", "carol") is None
    assert "Le Cercle" not in (await carol.get("/associations")).text
    assert "Le Cercle" not in (await carol.get("/associations", params={"q": "cercle"})).text

    assert (await bob.get("/associations/secret")).status_code == 200
    assert "Le Cercle" in (await bob.get("/associations")).text
