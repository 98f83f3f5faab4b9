"""Reports ("flags") sent to the instance's admins about an association, a person, a time entry or an account of
another server (a remote actor).

Anyone logged in may report an association they can see, a person or a remote actor this instance knows (by its
address or ``@name@domain``); a time entry may be reported by its volunteer or by someone who reviews the
association's entries. Admins list the reports and resolve them with a note, which the reporter is told; from the
report of a remote actor they may suspend it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import NotFound, ValidationError
from instance.i18n import N_, lazy_gettext
from instance.models import Association, Flag, FlagState, RemoteActor, TimeEntry, User, utcnow
from instance.services.access import require_permission, visible_association
from instance.services.admin_users import require_admin
from instance.services.notifications import notify

KINDS = ("association", "user", "entry", "remote")
MAX_REASON = 3000
LIST_SIZE = 100


async def describe_target(db: AsyncSession, reporter: User, kind: str, ref: str) -> tuple[str, str]:
    """Check that ``reporter`` may report this target; return its normalised reference and its label."""
    if kind == "association":
        association = await visible_association(db, ref, reporter)
        return association.handle, f"{association.name} (@{association.handle})"
    if kind == "user":
        person = await db.scalar(select(User).where(User.handle == ref.strip().lstrip("@").lower()))
        if person is None or not person.is_active:
            raise NotFound(lazy_gettext("This person does not exist."))
        if person.id == reporter.id:
            raise ValidationError(message=lazy_gettext("You cannot report yourself."))
        return person.handle, f"{person.public_name} (@{person.handle})"
    if kind == "entry":
        entry = await db.get(TimeEntry, int(ref)) if ref.isdecimal() else None
        if entry is None:
            raise NotFound(lazy_gettext("This entry does not exist."))
        owner = await db.get(Association, entry.association_id)
        assert owner is not None
        if entry.user_id != reporter.id:
            await require_permission(db, reporter, owner, "manage_entries")
        label = f"#{entry.id} {entry.title or ''} — {owner.name} (@{owner.handle})"
        return str(entry.id), " ".join(label.split())
    if kind == "remote":
        actor = await known_remote_actor(db, ref)
        label = f"{actor.name} ({actor.handle})" if actor.name else actor.handle
        return actor.uri, " ".join(label.split())
    raise NotFound(lazy_gettext("Page not found"))


async def known_remote_actor(db: AsyncSession, ref: str) -> RemoteActor:
    """The remote actor named by its address or by ``@name@domain``; ``NotFound`` if this instance does not know it."""
    ref = ref.strip()
    name, at, domain = ref.lstrip("@").rpartition("@")
    if "://" not in ref and at and name:
        query = select(RemoteActor).where(RemoteActor.preferred_username == name, RemoteActor.domain == domain.lower())
    else:
        query = select(RemoteActor).where(RemoteActor.uri == ref)
    actor = await db.scalar(query.limit(1))
    if actor is None:
        raise NotFound(lazy_gettext("This account of another server is not known here."))
    return actor


async def report(db: AsyncSession, reporter: User, kind: str, ref: str, reason: str, link: str = "") -> Flag:
    """Record a report and tell the admins (``link`` is the admins' page of reports). Flushes; caller commits."""
    ref, label = await describe_target(db, reporter, kind, ref)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": lazy_gettext("Please say what is wrong.")})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": lazy_gettext("Use at most %(n)s characters.", n=MAX_REASON)})
    already = await db.scalar(
        select(Flag.id).where(
            Flag.reporter_id == reporter.id,
            Flag.target_kind == kind,
            Flag.target_ref == ref,
            Flag.state == FlagState.OPEN,
        )
    )
    if already is not None:
        raise ValidationError(message=lazy_gettext("You already reported this; the administrators will look at it."))
    flag = Flag(reporter_id=reporter.id, target_kind=kind, target_ref=ref, target_label=label[:300], reason=reason)
    db.add(flag)
    await db.flush()
    admins = await db.scalars(
        select(User).where(User.is_admin.is_(True), User.is_active.is_(True), User.is_suspended.is_(False))
    )
    for admin in admins:
        notify(
            db,
            admin,
            "flag_new",
            N_("New report about %(target)s."),
            link,
            mail_subject=N_("New report about %(target)s"),
            mail_body=N_("%(reporter)s reported %(target)s:\n\n%(reason)s\n\nSee the reports:\n%(link)s\n"),
            data={"target": label, "reporter": reporter.public_name, "reason": reason, "link": link},
        )
    return flag


async def list_flags(db: AsyncSession, admin: User, state: FlagState) -> list[tuple[Flag, User | None]]:
    """Reports in ``state`` with their reporter, oldest open first / newest resolved first."""
    require_admin(admin)
    order = Flag.created_at.asc() if state == FlagState.OPEN else Flag.resolved_at.desc()
    query = (
        select(Flag, User)
        .outerjoin(User, User.id == Flag.reporter_id)
        .where(Flag.state == state)
        .order_by(order, Flag.id)
        .limit(LIST_SIZE)
    )
    return [(flag, reporter) for flag, reporter in (await db.execute(query)).all()]


async def resolve(db: AsyncSession, admin: User, flag_id: int, note: str) -> Flag:
    """Close a report with a note (what was done); the reporter is told in the app."""
    require_admin(admin)
    flag = await db.get(Flag, flag_id)
    if flag is None:
        raise NotFound(lazy_gettext("This report does not exist."))
    if flag.state == FlagState.RESOLVED:
        raise ValidationError(message=lazy_gettext("This report is already resolved."))
    note = note.strip()
    if len(note) > MAX_REASON:
        raise ValidationError({"resolution": lazy_gettext("Use at most %(n)s characters.", n=MAX_REASON)})
    flag.state = FlagState.RESOLVED
    flag.resolved_at = utcnow()
    flag.resolved_by_id = admin.id
    flag.resolution = note
    reporter = await db.get(User, flag.reporter_id) if flag.reporter_id is not None else None
    if reporter is not None:
        text = (
            N_("Your report about %(target)s was handled: %(note)s")
            if note
            else N_("Your report about %(target)s was handled.")
        )
        notify(db, reporter, "flag_resolved", text, "", data={"target": flag.target_label, "note": note})
    await db.flush()
    return flag
