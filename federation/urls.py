"""The ActivityPub ids of local actors, their keys, collections and catalog objects (absolute URLs)."""

from __future__ import annotations

from instance.settings import Settings

INSTANCE_ACTOR_PATH = "/actor"
SHARED_INBOX_PATH = "/inbox"
CATALOG_KINDS = {"projects": "Project", "categories": "Category", "levels": "Level"}


def absolute(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def instance_actor(settings: Settings) -> str:
    return absolute(settings, INSTANCE_ACTOR_PATH)


def user_actor(settings: Settings, handle: str) -> str:
    return absolute(settings, f"/users/{handle}")


def association_actor(settings: Settings, handle: str) -> str:
    return absolute(settings, f"/associations/{handle}")


def shared_inbox(settings: Settings) -> str:
    return absolute(settings, SHARED_INBOX_PATH)


def main_key(actor_id: str) -> str:
    """The id of an actor's RSA key (``publicKey``)."""
    return f"{actor_id}#main-key"


def ed25519_key(actor_id: str) -> str:
    """The id of an actor's Ed25519 ``Multikey`` (``assertionMethod``)."""
    return f"{actor_id}#ed25519-key"


def catalog_item(settings: Settings, handle: str, kind: str, item_id: int) -> str:
    """The id of a project, category or level: ``kind`` is ``projects``, ``categories`` or ``levels``."""
    return f"{association_actor(settings, handle)}/{kind}/{item_id}"


def entry(settings: Settings, entry_id: int) -> str:
    """The id of a local volunteer's time entry (sent to a remote association)."""
    return absolute(settings, f"/entries/{entry_id}")
