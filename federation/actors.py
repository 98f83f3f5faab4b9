"""The ActivityStreams documents of local actors (Application, Person, Group) and of catalog objects."""

from __future__ import annotations

from typing import Any

from federation import urls
from federation.html_text import to_html
from instance.models import Association, Category, Level, Project, User
from instance.models.federation import ActorKey
from instance.settings import Settings

AS2 = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_JSON = "application/activity+json"
BVF_TERMS: dict[str, Any] = {
    "bvf": "https://w3id.org/benevalibre-fed/ns#",
    "TimeEntry": "bvf:TimeEntry",
    "category": {"@id": "bvf:category", "@type": "@id"},
    "level": {"@id": "bvf:level", "@type": "@id"},
    "distance": "bvf:distance",
    "catalog": {"@id": "bvf:catalog", "@type": "@id"},
    "commonCategory": "bvf:commonCategory",
    "Project": "bvf:Project",
    "Category": "bvf:Category",
    "Level": "bvf:Level",
}
# Objects (time entries, catalog items, collections): AS2, Data Integrity, and our terms.
OBJECT_CONTEXT: list[Any] = [AS2, "https://w3id.org/security/data-integrity/v2", BVF_TERMS]
# Actors also carry the security (publicKey) and Multikey (assertionMethod) vocabularies, and the term
# ``manuallyApprovesFollowers`` that the AS2 context lacks (declared as Mastodon does).
ACTOR_CONTEXT: list[Any] = [
    AS2,
    "https://w3id.org/security/v1",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/security/data-integrity/v2",
    {**BVF_TERMS, "manuallyApprovesFollowers": "as:manuallyApprovesFollowers"},
]


def _actor(
    settings: Settings, actor_id: str, kind: str, username: str, name: str, summary: str, key: ActorKey
) -> dict[str, Any]:
    return {
        "@context": ACTOR_CONTEXT,
        "id": actor_id,
        "type": kind,
        "preferredUsername": username,
        "name": name,
        "summary": to_html(summary),
        "url": actor_id,
        "inbox": f"{actor_id}/inbox",
        "outbox": f"{actor_id}/outbox",
        "followers": f"{actor_id}/followers",
        "following": f"{actor_id}/following",
        "endpoints": {"sharedInbox": urls.shared_inbox(settings)},
        "publicKey": {"id": key.rsa_key_id, "owner": actor_id, "publicKeyPem": key.rsa_public_pem},
        "assertionMethod": [
            {
                "id": key.ed25519_key_id,
                "type": "Multikey",
                "controller": actor_id,
                "publicKeyMultibase": key.ed25519_public_multibase,
            }
        ],
    }


def instance_document(settings: Settings, key: ActorKey) -> dict[str, Any]:
    """The instance actor: an ``Application`` named after the host, which signs the instance's own fetches."""
    actor_id = urls.instance_actor(settings)
    document = _actor(settings, actor_id, "Application", settings.host, settings.instance_name, "", key)
    document["url"] = urls.absolute(settings, "/")
    document["manuallyApprovesFollowers"] = True
    return document


def person_document(settings: Settings, user: User, key: ActorKey) -> dict[str, Any]:
    """A volunteer: a ``Person`` showing only the public name (pseudonym, name or handle)."""
    actor_id = urls.user_actor(settings, user.handle)
    return _actor(settings, actor_id, "Person", user.handle, user.public_name, "", key)


def group_document(settings: Settings, association: Association, key: ActorKey) -> dict[str, Any]:
    """An association: a ``Group`` with its catalog, its membership moderation and its logo."""
    actor_id = urls.association_actor(settings, association.handle)
    document = _actor(settings, actor_id, "Group", association.handle, association.name, association.description, key)
    document["manuallyApprovesFollowers"] = association.moderate_membership
    document["catalog"] = f"{actor_id}/catalog"
    if association.has_logo:
        document["icon"] = {"type": "Image", "url": f"{actor_id}/logo"}
    return document


CatalogItem = Project | Category | Level


def catalog_object(settings: Settings, association: Association, item: CatalogItem) -> dict[str, Any]:
    """A project, category or level as an object of the association's catalog (without ``@context``)."""
    kind = {Project: "projects", Category: "categories", Level: "levels"}[type(item)]
    document: dict[str, Any] = {
        "id": urls.catalog_item(settings, association.handle, kind, item.id),
        "type": urls.CATALOG_KINDS[kind],
        "name": item.name,
        "summary": item.description,  # plain text, as the catalog's readers (this protocol) expect
        "attributedTo": urls.association_actor(settings, association.handle),
    }
    if isinstance(item, Category):
        document["commonCategory"] = item.common_category
    return document


def with_context(document: dict[str, Any]) -> dict[str, Any]:
    """A top-level object document: ``@context`` first, then the object."""
    return {"@context": OBJECT_CONTEXT, **document}
