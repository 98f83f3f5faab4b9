"""Who hears about an entry: managers when it waits for them, the volunteer when it is decided.

Managers who chose the daily digest (``EntryDigestPreference``) get no mail per entry; ``DigestTask`` sends
them one mail a day listing what waits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance.i18n import N_, gettext, language
from instance.mail import queue_mail
from instance.models import Association, Membership, MembershipStatus, Role, TimeEntry, User, utcnow
from instance.models.entries import EntryDigestPreference, EntryStatus
from instance.services.notifications import notify

DIGEST_INTERVAL = dt.timedelta(hours=23)


def moderation_path(association: Association) -> str:
    return f"/associations/{association.handle}/moderation"


async def entry_managers(db: AsyncSession, association: Association) -> list[User]:
    """Active members whose role lets them decide on entries."""
    rows = await db.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(Role, Role.id == Membership.role_id)
        .where(
            Membership.association_id == association.id,
            Membership.status == MembershipStatus.ACTIVE,
            Role.manage_entries.is_(True) | Role.manage_association.is_(True),
        )
        .order_by(User.id)
    )
    return list(rows.unique().all())


async def digest_user_ids(db: AsyncSession, association: Association) -> set[int]:
    rows = await db.scalars(
        select(EntryDigestPreference.user_id).where(EntryDigestPreference.association_id == association.id)
    )
    return set(rows.all())


async def author_name(db: AsyncSession, entry: TimeEntry) -> str:
    if entry.user_id is not None:
        user = await db.get(User, entry.user_id)
        if user is not None:
            return user.public_name
    return entry.participant_name


async def notify_pending(db: AsyncSession, association: Association, entry: TimeEntry, base_url: str) -> None:
    """Tell each entry manager (but its author) that ``entry`` waits; a mail unless they chose the digest."""
    digest = await digest_user_ids(db, association)
    path = moderation_path(association)
    data: dict[str, object] = {
        "name": await author_name(db, entry),
        "association": association.name,
        "title": entry.title,
        "link": base_url.rstrip("/") + path,
    }
    for manager in await entry_managers(db, association):
        if manager.id in (entry.user_id, entry.entered_by_id):
            continue
        notify(
            db,
            manager,
            "entry_pending",
            N_("%(name)s logged time for %(association)s (“%(title)s”); it waits for approval."),
            path,
            mail_subject="" if manager.id in digest else N_("Time waiting for approval in %(association)s"),
            mail_body=N_(
                "Hello,\n\n%(name)s logged time for %(association)s: “%(title)s”.\n"
                "It waits for your approval:\n%(link)s\n"
            ),
            data=data,
        )


async def notify_decisions(
    db: AsyncSession, association: Association, entries: Sequence[TimeEntry], approved: bool, reason: str = ""
) -> None:
    """Tell each volunteer, once per decision, which of their entries were approved or rejected (and why)."""
    by_user: dict[int, list[TimeEntry]] = {}
    for entry in entries:
        if entry.user_id is not None:
            by_user.setdefault(entry.user_id, []).append(entry)
    for user_id, own in by_user.items():
        user = await db.get(User, user_id)
        if user is None:
            continue
        data: dict[str, object] = {
            "association": association.name,
            "titles": ", ".join(f"“{e.title}”" for e in own),
            "reason": reason,
        }
        if approved:
            notify(
                db,
                user,
                "entry_approved",
                N_("%(association)s approved your time: %(titles)s."),
                "/entries",
                mail_subject=N_("Your time was approved by %(association)s"),
                mail_body=N_("Hello,\n\n%(association)s approved your time: %(titles)s.\n\nThank you!\n"),
                data=data,
            )
        else:
            notify(
                db,
                user,
                "entry_rejected",
                N_("%(association)s did not approve your time: %(titles)s. Reason: %(reason)s"),
                "/entries",
                mail_subject=N_("Your time was not approved by %(association)s"),
                mail_body=N_(
                    "Hello,\n\n%(association)s did not approve your time: %(titles)s.\n\n"
                    "Reason given: %(reason)s\n\nYou can correct the entry and send it again.\n"
                ),
                data=data,
            )


class DigestTask:
    """Worker task: one mail a day to each manager who chose the digest, when entries wait for them."""

    name = "entry_digest"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], base_url: str) -> None:
        self.sessions = sessions
        self.base_url = base_url

    async def run_once(self) -> int:
        sent = 0
        async with self.sessions() as db:
            now = utcnow()
            query = (
                select(EntryDigestPreference)
                .where(
                    EntryDigestPreference.last_sent_at.is_(None)
                    | (EntryDigestPreference.last_sent_at < now - DIGEST_INTERVAL)
                )
                .order_by(EntryDigestPreference.id)
                .limit(50)
            )
            if db.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for preference in (await db.scalars(query)).all():
                if await self._send(db, preference):
                    sent += 1
                preference.last_sent_at = now
            await db.commit()
        return sent

    async def _send(self, db: AsyncSession, preference: EntryDigestPreference) -> bool:
        association = await db.get(Association, preference.association_id)
        user = await db.get(User, preference.user_id)
        if association is None or user is None or user not in await entry_managers(db, association):
            return False
        waiting = await db.scalar(
            select(func.count())
            .select_from(TimeEntry)
            .where(TimeEntry.association_id == association.id, TimeEntry.status == EntryStatus.PENDING)
        )
        if not waiting:
            return False
        params: dict[str, object] = {
            "count": waiting,
            "association": association.name,
            "link": self.base_url.rstrip("/") + moderation_path(association),
        }
        with language(user.language or "fr"):
            queue_mail(
                db,
                user.email,
                gettext("%(count)s entries wait for approval in %(association)s", **params),
                gettext("Hello,\n\n%(count)s entries wait for your approval in %(association)s:\n%(link)s\n", **params),
            )
        return True
