"""Time entries between a volunteer's instance and an association's instance (PROTOCOL.md "Time entries").

Volunteer's side: an entry for a mirrored (remote) association is sent as ``Create``, ``Update`` or ``Delete``,
signed and with a proof by the volunteer; it stays pending until the association's answer. An ``Accept`` is
applied only when it embeds the entry's current version (``updated``) and is not older than the last answer
applied; it is kept as the entry's verifiable record. A ``Reject`` is applied likewise (when it embeds the
entry; one with a bare id is applied if not older than the last answer).

Association's side: the entry of an accepted member is checked exactly like a local one (the same form checks,
after its catalog IRIs are resolved), stored with its id and the object as received, counted with the local
entries, and answered at once when the association does not moderate entries. A later ``Update`` replaces it
only when newer; a ``Delete`` withdraws it and is remembered, so a late ``Create`` does not bring it back. A
refused entry (not a member, wrong catalog, bad values) is answered with a ``Reject`` that says why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import delivery, mirrors, urls
from federation import time_entries as wire
from federation.jsonld import id_of
from federation.local_keys import owner_of, with_proof
from federation.receive import origin
from instance.errors import ValidationError
from instance.i18n import language, lazy_gettext
from instance.models import (
    Association,
    Category,
    DeletedObject,
    Level,
    MembershipStatus,
    Project,
    RemoteActor,
    TimeEntry,
    User,
    utcnow,
)
from instance.models.entries import EntryStatus
from instance.services.access import active_membership
from instance.services.entries import add_entry, clean_entry, initial_status
from instance.services.entry_notices import notify_decisions, notify_pending
from instance.settings import Settings


class NotForUs(Exception):
    """The activity is well formed but changes nothing here (the reason is kept on the inbox row)."""


# -- the volunteer's side -----------------------------------------------------------------------------------


async def _inbox(db: AsyncSession, uri: str | None) -> list[str]:
    actor = await db.scalar(select(RemoteActor).where(RemoteActor.uri == uri)) if uri else None
    return [actor.delivery_inbox] if actor is not None else []


async def catalog_refs(
    db: AsyncSession, settings: Settings, entry: TimeEntry, association: Association
) -> dict[str, str]:
    """The ids of the catalog objects an entry names: the remote ones for a mirrored association, else ours."""
    refs: dict[str, str] = {}
    items: tuple[tuple[str, type[Category | Level | Project], int | None], ...] = (
        ("category", Category, entry.category_id),
        ("level", Level, entry.level_id),
        ("context", Project, entry.project_id),
    )
    for field, model, key in items:
        item = cast(Category | Level | Project | None, await db.get(model, key) if key else None)
        if item is not None and item.ap_id:
            refs[field] = item.ap_id
        elif item is not None and association.actor_uri is None:
            kind = {"category": "categories", "level": "levels", "context": "projects"}[field]
            refs[field] = urls.catalog_item(settings, association.handle, kind, item.id)
    return refs


async def send_entry(db: AsyncSession, settings: Settings, entry: TimeEntry, kind: str) -> None:
    """Queue the ``Create``, ``Update`` or ``Delete`` of a local volunteer's entry for its remote association."""
    user = await db.get(User, entry.user_id) if entry.user_id else None
    association = await db.get(Association, entry.association_id)
    if user is None or association is None or association.actor_uri is None:
        return
    owner = owner_of(settings, user)
    target: dict[str, Any] | str
    if kind == "delete":
        target = urls.entry(settings, entry.id)
    else:
        target = wire.entry_object(
            settings, entry, user, association, await catalog_refs(db, settings, entry, association)
        )
    verb = {"create": "Create", "update": "Update", "delete": "Delete"}[kind]
    activity = wire.activity(verb, owner.actor_id, association.actor_uri, target)
    signed = await with_proof(db, settings, owner, activity)
    await delivery.enqueue(db, signed, owner.owner, await _inbox(db, association.actor_uri))


async def receive_decision(db: AsyncSession, settings: Settings, activity: dict[str, Any], accepted: bool) -> TimeEntry:
    """Apply the association's ``Accept`` or ``Reject`` of a local volunteer's entry."""
    document = wire.embedded(activity.get("object"))
    entry_key = wire.is_local_entry(settings, id_of(activity.get("object")))
    entry = await db.get(TimeEntry, entry_key) if entry_key else None
    association = await db.get(Association, entry.association_id) if entry is not None else None
    if entry is None or association is None or association.actor_uri != id_of(activity.get("actor")):
        raise NotForUs("no entry of ours sent to this actor")
    if entry.status == EntryStatus.WITHDRAWN:
        raise NotForUs("the entry was withdrawn")
    if document is not None and document.get("updated") != wire.timestamp(entry.updated_at):
        raise NotForUs("the answer is about an older version of the entry")
    if document is None and accepted:
        raise NotForUs("an Accept must embed the entry it accepts")
    when = wire.parse_timestamp(activity.get("published")) or utcnow()
    if entry.decided_at is not None and when < entry.decided_at and entry.status != EntryStatus.PENDING:
        raise NotForUs("an older answer than the one applied")
    summary = activity.get("summary")
    reason = summary if isinstance(summary, str) else ""
    entry.status = EntryStatus.APPROVED if accepted else EntryStatus.REJECTED
    entry.rejection_reason = "" if accepted else reason[: wire.MAX_REASON]
    entry.decided_at = when
    entry.accept_record = activity if accepted else None
    await db.flush()
    await notify_decisions(db, association, [entry], accepted, entry.rejection_reason)
    return entry


# -- the association's side ---------------------------------------------------------------------------------


async def _resolve(settings: Settings, association: Association, document: dict[str, Any]) -> dict[str, str]:
    refs = wire.catalog_refs(document)
    return {
        field: wire.local_catalog_id(settings, association.handle, kind, refs[field])
        for field, kind in (("category", "categories"), ("level", "levels"), ("project", "projects"))
    }


def _reason(error: ValidationError) -> str:
    """Why an entry is refused, in French (the answer goes to a person whose language is not known here)."""
    with language("fr"):
        parts = [str(error.message)] if error.message else []
        parts.extend(str(message) for message in error.fields.values())
    return " ".join(parts)[: wire.MAX_REASON]


async def send_decision(db: AsyncSession, settings: Settings, entry: TimeEntry) -> None:
    """Queue the association's ``Accept`` (the entry embedded as accepted) or ``Reject`` (with the reason)."""
    association = await db.get(Association, entry.association_id)
    person = await db.get(User, entry.user_id) if entry.user_id else None
    if association is None or person is None or person.actor_uri is None or entry.ap_object is None:
        return
    if entry.status not in (EntryStatus.APPROVED, EntryStatus.REJECTED):
        return
    await _answer(
        db,
        settings,
        association,
        person.actor_uri,
        entry.ap_object,
        entry.status == EntryStatus.APPROVED,
        entry.rejection_reason,
        entry.decided_at or utcnow(),
    )


async def _answer(
    db: AsyncSession,
    settings: Settings,
    association: Association,
    recipient: str,
    document: dict[str, Any],
    accepted: bool,
    reason: str,
    when: dt.datetime,
) -> None:
    owner = owner_of(settings, association)
    extra: dict[str, Any] = {"published": wire.timestamp(when)}
    if not accepted:
        extra["summary"] = reason
    activity = wire.activity("Accept" if accepted else "Reject", owner.actor_id, recipient, document, **extra)
    signed = await with_proof(db, settings, owner, activity)
    await delivery.enqueue(db, signed, owner.owner, await _inbox(db, recipient))


async def _member(db: AsyncSession, association: Association, actor: str) -> User | None:
    person = await mirrors.mirrored_person(db, actor)
    membership = await active_membership(db, person, association)
    return person if membership is not None and membership.status == MembershipStatus.ACTIVE else None


async def receive_entry(
    db: AsyncSession, settings: Settings, association: Association, activity: dict[str, Any]
) -> TimeEntry | None:
    """A ``Create`` or ``Update`` of a remote volunteer's entry for the local ``association``."""
    actor = str(id_of(activity.get("actor")))
    document = wire.embedded(activity.get("object"))
    if document is None:
        raise NotForUs("the entry is not embedded")
    object_id = str(id_of(document))
    if origin(object_id) != origin(actor) or wire.author_of(document) != actor:
        raise NotForUs("the entry is not the actor's own")
    existing: TimeEntry | None = await db.scalar(select(TimeEntry).where(TimeEntry.ap_id == object_id))
    deleted = await db.scalar(select(DeletedObject.id).where(DeletedObject.uri == object_id))
    if existing is None and deleted is not None:
        raise NotForUs("the entry was withdrawn")
    person = await mirrors.mirrored_person(db, actor)
    if existing is not None:
        if person is None or existing.user_id != person.id or existing.association_id != association.id:
            raise NotForUs("the entry belongs to someone else")
        new = wire.parse_timestamp(document.get("updated"))
        old = wire.parse_timestamp((existing.ap_object or {}).get("updated"))
        if new is None or (old is not None and new <= old):
            raise NotForUs("an older or the same version of the entry")
        if existing.status == EntryStatus.WITHDRAWN:  # an edit made before the withdrawal, arriving after it
            await _keep_values(db, settings, association, existing, document)
            return existing
    member = await _member(db, association, actor)
    if member is None:
        refusal = ValidationError(message=lazy_gettext("Only members of this association can do this."))
        await _answer(db, settings, association, actor, document, False, _reason(refusal), utcnow())
        return None
    try:
        data = await clean_entry(
            db,
            association,
            wire.form_values(document, await _resolve(settings, association, document)),
            current=existing,
        )
    except ValidationError as error:
        await _answer(db, settings, association, actor, document, False, _reason(error), utcnow())
        return None
    if existing is None:
        entry = await add_entry(
            db, association, data, settings.base_url, user_id=member.id, ap_id=object_id, ap_object=document
        )
    else:
        entry = existing
        for key, value in vars(data).items():
            setattr(entry, key, value)
        entry.updated_at = utcnow()
        entry.ap_object = document
        entry.status = initial_status(association)
        entry.rejection_reason = ""
        entry.decided_by_id = None
        entry.decided_at = utcnow() if entry.status == EntryStatus.APPROVED else None
        await db.flush()
        if entry.status == EntryStatus.PENDING:
            await notify_pending(db, association, entry, settings.base_url)
    if entry.status == EntryStatus.APPROVED:
        await send_decision(db, settings, entry)
    return entry


async def _keep_values(
    db: AsyncSession, settings: Settings, association: Association, entry: TimeEntry, document: dict[str, Any]
) -> None:
    """Record the values of a late edit on a withdrawn entry (it stays withdrawn), so both sides hold the same."""
    values = wire.form_values(document, await _resolve(settings, association, document))
    try:
        data = await clean_entry(db, association, values, current=entry)
    except ValidationError:
        return
    for key, value in vars(data).items():
        setattr(entry, key, value)
    entry.ap_object = document
    await db.flush()


async def receive_withdrawal(db: AsyncSession, association: Association | None, activity: dict[str, Any]) -> None:
    """A ``Delete`` of a remote volunteer's entry: withdrawn here, and its id remembered."""
    actor = str(id_of(activity.get("actor")))
    object_id = id_of(activity.get("object"))
    if not object_id or origin(object_id) != origin(actor):
        raise NotForUs("the object is not the actor's own")
    entry: TimeEntry | None = await db.scalar(select(TimeEntry).where(TimeEntry.ap_id == object_id))
    if entry is None and await mirrors.mirrored_person(db, actor) is None:
        raise NotForUs("not from a member of a local association")
    if entry is not None:
        if wire.author_of(entry.ap_object or {}) != actor:
            raise NotForUs("the entry belongs to someone else")
        entry.status = EntryStatus.WITHDRAWN
        entry.updated_at = utcnow()
    if await db.scalar(select(DeletedObject.id).where(DeletedObject.uri == object_id)) is None:
        db.add(DeletedObject(uri=object_id))
    await db.flush()
