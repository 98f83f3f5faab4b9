"""News notes over federation: a local association's note goes to its followers as a public ``Create`` of a
``Note`` (Mastodon and other servers show it); a note from a remote association that volunteers here joined is
kept and shown to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from federation import delivery, follows, urls
from federation import time_entries as wire
from federation.actors import AS2, PUBLIC
from federation.html_text import to_html, to_text
from federation.jsonld import id_of
from federation.local_keys import owner_of
from federation.receive import origin
from instance.models import Association, News
from instance.services import news as news_service
from instance.settings import Settings


def note_id(settings: Settings, association: Association, news: News) -> str:
    return f"{urls.association_actor(settings, association.handle)}/news/{news.id}"


def note(settings: Settings, association: Association, news: News) -> dict[str, Any]:
    """The note as a public ``Note`` attributed to the association (its text escaped into paragraphs)."""
    actor = urls.association_actor(settings, association.handle)
    content = to_html(news.text)
    return {
        "id": note_id(settings, association, news),
        "type": "Note",
        "attributedTo": actor,
        "to": [PUBLIC],
        "cc": [f"{actor}/followers"],
        "content": content,
        "published": wire.timestamp(news.created_at),
        "url": actor,
    }


async def send_news(db: AsyncSession, settings: Settings, news: News) -> None:
    """Queue the ``Create`` of the note for every accepted follower (shared inboxes folded)."""
    association = await db.get(Association, news.association_id)
    if association is None or association.actor_uri is not None:
        return
    owner = owner_of(settings, association)
    document = note(settings, association, news)
    activity = {
        "@context": AS2,
        "id": f"{document['id']}/activity",
        "type": "Create",
        "actor": owner.actor_id,
        "to": document["to"],
        "cc": document["cc"],
        "published": document["published"],
        "object": document,
    }
    await delivery.enqueue(db, activity, owner.owner, await follows.follower_inboxes(db, association))


async def receive_note(db: AsyncSession, association: Association, activity: dict[str, Any]) -> News | None:
    """A ``Create`` of a ``Note`` by a mirrored association: kept as its news, and shown to its members here."""
    document = activity.get("object")
    if not isinstance(document, dict):
        return None
    note_uri = id_of(document)
    content = document.get("content")
    if not note_uri or origin(note_uri) != origin(association.actor_uri or "") or not isinstance(content, str):
        return None
    text = to_text(content)
    if not text:
        return None
    published = wire.parse_timestamp(document.get("published"))
    return await news_service.receive_news(db, association, note_uri, text, published)
