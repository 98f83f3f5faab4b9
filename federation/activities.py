"""The activities this instance sends about follows: ``Follow``, ``Accept``, ``Reject`` and ``Undo``.

Ids are ``{actor}/activities/{uuid}`` (not dereferenceable yet). Accept, Reject and Undo embed the Follow
(``id``, ``type``, ``actor``, ``object``), as PROTOCOL.md asks and as Mastodon does.
"""

from __future__ import annotations

import uuid
from typing import Any

from federation.actors import AS2, PUBLIC


def new_id(actor_id: str) -> str:
    return f"{actor_id}/activities/{uuid.uuid4().hex}"


def follow(actor_id: str, object_id: str, activity_id: str | None = None) -> dict[str, Any]:
    return {
        "@context": AS2,
        "id": activity_id or new_id(actor_id),
        "type": "Follow",
        "actor": actor_id,
        "object": object_id,
    }


def embedded_follow(activity_id: str, follower: str, followed: str) -> dict[str, Any]:
    """The Follow as embedded in an answer to it (no ``@context``)."""
    return {"id": activity_id, "type": "Follow", "actor": follower, "object": followed}


def answer(kind: str, actor_id: str, follow_id: str, follower: str, followed: str) -> dict[str, Any]:
    """``Accept`` or ``Reject`` of a Follow, sent by the followed actor to the follower."""
    return {
        "@context": AS2,
        "id": new_id(actor_id),
        "type": kind,
        "actor": actor_id,
        "to": [follower],
        "object": embedded_follow(follow_id, follower, followed),
    }


def update_actor(document: dict[str, Any]) -> dict[str, Any]:
    """``Update`` of a local actor, its whole document embedded (followers refresh their copy)."""
    actor_id = str(document["id"])
    return {
        "@context": document["@context"],
        "id": new_id(actor_id),
        "type": "Update",
        "actor": actor_id,
        "to": [PUBLIC],
        "cc": [f"{actor_id}/followers"],
        "object": {key: value for key, value in document.items() if key != "@context"},
    }


def undo_follow(follower: str, follow_id: str, followed: str) -> dict[str, Any]:
    return {
        "@context": AS2,
        "id": new_id(follower),
        "type": "Undo",
        "actor": follower,
        "to": [followed],
        "object": embedded_follow(follow_id, follower, followed),
    }
