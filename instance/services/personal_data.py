"""Everything an instance holds about a person, as one ZIP archive they can download ("my data").

The archive holds ``README.txt``, ``profile.json`` (the account and its access tokens, without secrets),
``memberships.json``, ``entries.json`` and ``entries.csv`` (every entry the person logged, whatever its
status), and ``notifications.json``. It is streamed: entries are read in keyset batches, each in a short
session of its own. (The verifiable record of the entries, signed by the associations, joins it once the
federation core signs records.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance import i18n
from instance.errors import NotFound
from instance.i18n import lazy_gettext
from instance.models import ApiToken, Association, Category, Level, Notification, Project, TimeEntry, User, utcnow
from instance.services import export_writers, exports
from instance.services.membership import memberships_of_user
from instance.services.notifications import text_of
from instance.services.report_filters import EntryFilter
from instance.services.zipstream import Member, dumps, json_array, one, zip_chunks

BATCH = 500
README = """Your data on {site}
=====================

profile.json        your account, and your API access tokens (their names, never their secrets)
memberships.json    the associations you belong to or asked to join, with your role
entries.json        every time entry you logged, whatever its status (the same as entries.csv)
entries.csv         the same entries as a spreadsheet
notifications.json  the notifications you received
record.json         your approved time, each entry signed by its association (check it with benevalibre verify)

Made on {date} for @{handle}.
"""


@dataclass(frozen=True)
class ArchiveRequest:
    """Who asks, and what the archive is written with: the site, the language and the default hourly rate."""

    user_id: int
    site: str
    base_url: str
    language: str
    default_rate: Decimal
    extra_files: tuple[tuple[str, bytes], ...] = ()  # made by the caller (the verifiable record)


async def profile(db: AsyncSession, user: User) -> dict[str, Any]:
    tokens = await db.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    return {
        "handle": user.handle,
        "email": user.email,
        "display_name": user.display_name,
        "pseudonym": user.pseudonym,
        "language": user.language,
        "is_admin": user.is_admin,
        "created_at": user.created_at,
        "confirmed_at": user.confirmed_at,
        "last_login_at": user.last_login_at,
        "api_tokens": [
            {
                "name": t.name,
                "scope": str(t.scope),
                "prefix": t.prefix,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "revoked_at": t.revoked_at,
            }
            for t in tokens
        ],
    }


async def memberships(db: AsyncSession, user: User) -> list[dict[str, Any]]:
    return [
        {
            "association": m.association.handle,
            "association_name": m.association.name,
            "role": m.role.name,
            "status": str(m.status),
            "message": m.message,
            "created_at": m.created_at,
            "decided_at": m.decided_at,
        }
        for m in await memberships_of_user(db, user)
    ]


def _entry_query(user_id: int, after: int) -> Any:
    return (
        select(TimeEntry, Association.handle, Association.name, Category.name, Level.name, Project.name)
        .join(Association, Association.id == TimeEntry.association_id)
        .join(Category, Category.id == TimeEntry.category_id)
        .outerjoin(Level, Level.id == TimeEntry.level_id)
        .outerjoin(Project, Project.id == TimeEntry.project_id)
        .where(TimeEntry.user_id == user_id, TimeEntry.id > after)
        .order_by(TimeEntry.id)
        .limit(BATCH)
    )


def _entry(found: Any) -> dict[str, Any]:
    entry, handle, name, category, level, project = found
    return {
        "id": entry.id,
        "association": handle,
        "association_name": name,
        "status": str(entry.status),
        "start_date": entry.start_date,
        "end_date": entry.end_date,
        "duration_minutes": entry.duration_minutes,
        "distance_km": f"{entry.distance_km:.2f}",
        "title": entry.title,
        "description": entry.description,
        "category": category,
        "level": level,
        "project": project,
        "rejection_reason": entry.rejection_reason,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "decided_at": entry.decided_at,
    }


async def entry_batches(
    sessions: async_sessionmaker[AsyncSession], user_id: int
) -> AsyncIterator[list[dict[str, Any]]]:
    after = 0
    while True:
        async with sessions() as db:
            found = (await db.execute(_entry_query(user_id, after))).all()
        if not found:
            return
        yield [_entry(f) for f in found]
        after = found[-1][0].id


async def notification_batches(
    sessions: async_sessionmaker[AsyncSession], user_id: int, language: str
) -> AsyncIterator[list[dict[str, Any]]]:
    after = 0
    while True:
        async with sessions() as db:
            rows = list(
                await db.scalars(
                    select(Notification)
                    .where(Notification.user_id == user_id, Notification.id > after)
                    .order_by(Notification.id)
                    .limit(BATCH)
                )
            )
        if not rows:
            return
        with i18n.language(language):
            batch = [
                {"kind": n.kind, "text": text_of(n), "link": n.link, "created_at": n.created_at, "read_at": n.read_at}
                for n in rows
            ]
        yield batch
        after = rows[-1].id


async def _members(sessions: async_sessionmaker[AsyncSession], ask: ArchiveRequest) -> AsyncIterator[Member]:
    async with sessions() as db:
        user = await db.get(User, ask.user_id)
        if user is None:
            return
        about = await profile(db, user)
        joined = await memberships(db, user)
        handle = user.handle
    date = utcnow().date().isoformat()
    yield "README.txt", one(README.format(site=ask.site, date=date, handle=handle).encode())
    yield "profile.json", one(dumps(about))
    yield "memberships.json", one(dumps(joined))
    yield "entries.json", json_array(entry_batches(sessions, ask.user_id))
    with i18n.language(ask.language):
        labels = exports.Labels.current()
    scope = exports.ExportScope(EntryFilter(statuses=frozenset(), user_id=ask.user_id), None, ask.default_rate)
    rows = exports.entry_batches(sessions, scope, labels)
    yield "entries.csv", export_writers.csv_chunks(rows, labels.header, french=ask.language == "fr")
    yield "notifications.json", json_array(notification_batches(sessions, ask.user_id, ask.language))
    for name, content in ask.extra_files:
        yield name, one(content)


async def check_user(db: AsyncSession, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound(lazy_gettext("This account no longer exists."))
    return user


def archive(sessions: async_sessionmaker[AsyncSession], ask: ArchiveRequest) -> AsyncIterator[bytes]:
    """The person's archive, as chunks of a ZIP file."""
    return zip_chunks(_members(sessions, ask))


def archive_name(handle: str) -> str:
    return f"benevalibre-{handle}-data"
