"""Local ActivityPub actors: their documents, keys, collections and catalog, fetched over HTTP."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from federation.keys import decode_multikey, load_public_pem, open_private_key
from instance.models import ActorKey, Association, AssociationStatus, Category, Level, Project, User
from instance.runtime import Instance
from instance.services.associations import create_association
from tests.conftest import create_user

AP = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BASE = "https://a.test"
NAMES = {"restos": "Les Restos"}


async def make_association(instance: Instance, handle: str = "restos", **fields: Any) -> Association:
    """Alice founds an association (and is its manager)."""
    async with instance.sessions() as db:
        owner = await db.scalar(select(User).where(User.handle == "alice"))
        if owner is None:
            await create_user(instance)
            owner = await db.scalar(select(User).where(User.handle == "alice"))
        assert owner is not None
        association = await create_association(
            db,
            instance.settings,
            owner,
            handle=handle,
            name=NAMES.get(handle, handle.title()),
            description="Repas chauds",
            **fields,
        )
        await db.commit()
        return association


async def change(instance: Instance, association: Association, **values: Any) -> None:
    async with instance.sessions() as db:
        row = await db.get(Association, association.id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        await db.commit()


async def get_ap(client: httpx.AsyncClient, path: str, accept: str = AP) -> dict[str, Any]:
    response = await client.get(path, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == AP
    document: dict[str, Any] = response.json()
    return document


def assert_keys(document: dict[str, Any]) -> None:
    actor = document["id"]
    assert document["publicKey"]["id"] == f"{actor}#main-key"
    assert document["publicKey"]["owner"] == actor
    key = load_public_pem(document["publicKey"]["publicKeyPem"])
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    [multikey] = document["assertionMethod"]
    assert multikey["id"] == f"{actor}#ed25519-key"
    assert multikey["type"] == "Multikey" and multikey["controller"] == actor
    decode_multikey(multikey["publicKeyMultibase"])


async def test_a_volunteer_is_a_person(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance, display_name="Alice Martin")

    response = await client.get("/users/alice", headers={"Accept": AP})

    assert response.status_code == 200
    assert response.headers["content-type"] == AP
    assert "Accept" in response.headers["vary"]
    person = response.json()
    assert person["@context"][:4] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        "https://w3id.org/security/multikey/v1",
        "https://w3id.org/security/data-integrity/v2",
    ]
    assert person["@context"][4]["bvf"] == "https://w3id.org/benevalibre-fed/ns#"
    assert person["id"] == f"{BASE}/users/alice"
    assert person["type"] == "Person"
    assert person["preferredUsername"] == "alice"
    assert person["name"] == "Alice Martin"
    assert person["inbox"] == f"{BASE}/users/alice/inbox"
    assert person["outbox"] == f"{BASE}/users/alice/outbox"
    assert person["followers"] == f"{BASE}/users/alice/followers"
    assert person["following"] == f"{BASE}/users/alice/following"
    assert person["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert_keys(person)
    assert "email" not in response.text and "alice@example.org" not in response.text


async def test_the_ld_json_accept_header_also_gets_the_actor(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)

    person = await get_ap(client, "/users/alice", accept=LD)

    assert person["type"] == "Person"


async def test_a_browser_gets_the_volunteer_page(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance, display_name="Alice Martin")

    response = await client.get("/users/alice", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Accept" in response.headers["vary"]
    assert "Alice Martin" in response.text and "@alice@a.test" in response.text


async def test_inactive_or_suspended_volunteers_are_not_found(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance, "bob@example.org", "bob", active=False)
    carol = await create_user(instance, "carol@example.org", "carol")
    async with instance.sessions() as db:
        row = await db.get(User, carol.id)
        assert row is not None
        row.is_suspended = True
        await db.commit()

    for handle in ("bob", "carol", "nobody"):
        response = await client.get(f"/users/{handle}", headers={"Accept": AP})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        assert "Accept" in response.headers["vary"]
    assert (await client.get("/users/bob")).status_code == 404


async def test_an_association_is_a_group(client: httpx.AsyncClient, instance: Instance) -> None:
    await make_association(instance, moderate_membership=True)

    response = await client.get("/associations/restos", headers={"Accept": AP})

    assert response.status_code == 200
    assert response.headers["content-type"] == AP
    assert "Accept" in response.headers["vary"]
    group = response.json()
    actor = f"{BASE}/associations/restos"
    assert group["id"] == actor and group["type"] == "Group"
    assert group["preferredUsername"] == "restos"
    assert group["name"] == "Les Restos" and group["summary"] == "<p>Repas chauds</p>"
    assert group["url"] == actor
    assert group["inbox"] == f"{actor}/inbox"
    assert group["manuallyApprovesFollowers"] is True
    assert group["catalog"] == f"{actor}/catalog"
    assert "icon" not in group
    assert_keys(group)


async def test_a_group_shows_its_logo(client: httpx.AsyncClient, instance: Instance) -> None:
    association = await make_association(instance)
    await change(instance, association, has_logo=True)

    group = await get_ap(client, "/associations/restos")

    assert group["manuallyApprovesFollowers"] is False
    assert group["icon"] == {"type": "Image", "url": f"{BASE}/associations/restos/logo"}


async def test_a_browser_still_gets_the_association_page(client: httpx.AsyncClient, instance: Instance) -> None:
    await make_association(instance)

    response = await client.get("/associations/restos", headers={"Accept": "text/html"})
    new_page = await client.get("/associations/new", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Accept" in response.headers["vary"]
    assert "Les Restos" in response.text
    assert new_page.status_code in (200, 303)  # the creation form (or the login page) is still reachable


async def test_hidden_pending_and_refused_associations_are_not_found(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    hidden = await make_association(instance, "cachee")
    await change(instance, hidden, hidden=True)
    pending = await make_association(instance, "attente")
    await change(instance, pending, status=AssociationStatus.PENDING)
    refused = await make_association(instance, "refusee")
    await change(instance, refused, status=AssociationStatus.REFUSED)

    for handle in ("cachee", "attente", "refusee", "inconnue"):
        response = await client.get(f"/associations/{handle}", headers={"Accept": AP})
        assert response.status_code == 404, handle
        assert response.headers["content-type"].startswith("application/json")
        assert "error" in response.json()
        assert (await client.get(f"/associations/{handle}/catalog")).status_code == 404
        assert (await client.get(f"/associations/{handle}/followers")).status_code == 404
    assert await count_keys(instance) == 0


async def count_keys(instance: Instance) -> int:
    async with instance.sessions() as db:
        return await db.scalar(select(func.count()).select_from(ActorKey)) or 0


async def test_the_instance_actor_is_an_application(client: httpx.AsyncClient) -> None:
    actor = await get_ap(client, "/actor", accept="*/*")

    assert actor["id"] == f"{BASE}/actor"
    assert actor["type"] == "Application"
    assert actor["preferredUsername"] == "a.test"
    assert actor["inbox"] == f"{BASE}/actor/inbox"
    assert_keys(actor)


async def test_keys_are_created_once_and_sealed(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)

    first, second = await asyncio.gather(get_ap(client, "/users/alice"), get_ap(client, "/users/alice"))
    third = await get_ap(client, "/users/alice")

    assert first["publicKey"] == second["publicKey"] == third["publicKey"]
    assert first["assertionMethod"] == second["assertionMethod"] == third["assertionMethod"]
    assert await count_keys(instance) == 1
    async with instance.sessions() as db:
        row = await db.scalar(select(ActorKey))
    assert row is not None and row.owner.startswith("user:")
    for sealed, key_id in ((row.rsa_private_sealed, row.rsa_key_id), (row.ed25519_private_sealed, row.ed25519_key_id)):
        assert "PRIVATE KEY" not in sealed
        assert "PRIVATE KEY" in open_private_key(sealed, instance.settings.secret_key, key_id)
    assert "PRIVATE" not in repr(row)


async def test_outbox_and_following_are_empty_paged_collections(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)

    for path in ("/users/alice/outbox", "/users/alice/following", "/users/alice/followers", "/actor/outbox"):
        collection = await get_ap(client, path)
        assert collection["type"] == "OrderedCollection"
        assert collection["id"] == BASE + path
        assert collection["totalItems"] == 0
        assert collection["first"] == f"{BASE}{path}?page=1"
        page = await get_ap(client, f"{path}?page=1")
        assert page["type"] == "OrderedCollectionPage"
        assert page["partOf"] == BASE + path
        assert page["orderedItems"] == []
        assert "next" not in page
    assert (await client.get("/users/alice/outbox?page=zero")).status_code == 400


async def test_group_followers_give_the_member_count_only(client: httpx.AsyncClient, instance: Instance) -> None:
    await make_association(instance)

    followers = await get_ap(client, "/associations/restos/followers")

    assert followers["type"] == "OrderedCollection"
    assert followers["totalItems"] == 1  # Alice, its manager
    assert "first" not in followers and "orderedItems" not in followers


async def add_catalog(instance: Instance, association: Association, projects: int) -> None:
    async with instance.sessions() as db:
        for number in range(projects):
            db.add(Project(association_id=association.id, name=f"Projet {number}", description="Un projet"))
        db.add(Project(association_id=association.id, name="Ancien", archived=True))
        db.add(Level(association_id=association.id, name="Expert", hourly_rate=Decimal("30")))
        await db.commit()


async def test_the_catalog_is_paged_and_leaves_archived_items_out(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    association = await make_association(instance)
    await add_catalog(instance, association, 60)
    async with instance.sessions() as db:
        categories = await db.scalar(
            select(func.count()).select_from(Category).where(Category.association_id == association.id)
        )
    total = 60 + (categories or 0) + 1

    catalog = await get_ap(client, "/associations/restos/catalog")
    first = await get_ap(client, catalog["first"].removeprefix(BASE))
    second = await get_ap(client, first["next"].removeprefix(BASE))

    assert catalog["type"] == "OrderedCollection" and catalog["totalItems"] == total
    assert len(first["orderedItems"]) == 50 and "prev" not in first
    assert second["prev"] == catalog["first"] and "next" not in second
    items = first["orderedItems"] + second["orderedItems"]
    assert len(items) == total
    assert "Ancien" not in [item["name"] for item in items]
    assert {item["type"] for item in items} == {"Project", "Category", "Level"}
    category = next(item for item in items if item["type"] == "Category")
    assert category["commonCategory"] and category["id"].startswith(f"{BASE}/associations/restos/categories/")
    assert items[0] == {
        "id": items[0]["id"],
        "type": "Project",
        "name": "Projet 0",
        "summary": "Un projet",
        "attributedTo": f"{BASE}/associations/restos",
    }


async def test_catalog_objects_are_served_by_their_id(client: httpx.AsyncClient, instance: Instance) -> None:
    association = await make_association(instance)
    await add_catalog(instance, association, 1)
    first = (await get_ap(client, "/associations/restos/catalog?page=1"))["orderedItems"]

    for item in first:
        document = await get_ap(client, item["id"].removeprefix(BASE))
        assert document.pop("@context")[0] == "https://www.w3.org/ns/activitystreams"
        assert document == item
    async with instance.sessions() as db:
        archived = await db.scalar(select(Project).where(Project.archived.is_(True)))
    assert archived is not None
    response = await client.get(f"/associations/restos/projects/{archived.id}", headers={"Accept": AP})
    assert response.status_code == 404
    other = await make_association(instance, "autre")
    assert (
        await client.get(f"/associations/{other.handle}/projects/{first[0]['id'].split('/')[-1]}")
    ).status_code == 404
