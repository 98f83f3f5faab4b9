"""The statistics page reads summaries of the entries; they must stay exact whatever writes the entries.

After each kind of write (logging, editing, moderation, withdrawal, account deletion, association deletion,
import, bulk statements, and a random sequence of all of them), the figures the page shows equal the figures
worked out in Python from the entries themselves, equal those of the direct queries over the entries, and
the summary tables equal summaries written anew from the entries.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import (
    Association,
    Category,
    EntryMonthSummary,
    EntryStatus,
    EntryVolunteerCount,
    EntryVolunteerSummary,
    Handle,
    TimeEntry,
    User,
)
from instance.models.summary_upkeep import rebuild_summaries
from instance.runtime import Instance
from instance.services import account_settings, admin_users, entries, moderation
from instance.services.benevalibre_import import import_export
from instance.services.benevalibre_parse import parse_export
from instance.services.report_filters import APPROVED_ONLY, COUNTED, EntryFilter, Period
from instance.services.statistics import Row, Statistics, association_statistics
from tests.conftest import PASSWORD, create_user
from tests.test_import_support import vector
from tests.test_reports_support import Seed, as_user, make_seed, quick_user

SUMMARY_TABLES = (EntryMonthSummary, EntryVolunteerSummary, EntryVolunteerCount)
Figures = dict[str, dict[Any, tuple[int, int, int, Decimal]]]


@pytest.fixture
async def seed(instance: Instance) -> Seed:
    return await make_seed(instance)


# -- the figures worked out from the entries, in Python -----------------------------------------------------------


async def expected(db: AsyncSession, association_id: int, year: int, statuses: frozenset[EntryStatus]) -> Figures:
    """Per breakdown, key → (entries, volunteers, minutes, km), from the entries the page counts."""
    commons = dict((await db.execute(select(Category.id, Category.common_category))).all())
    rows = await db.scalars(
        select(TimeEntry).where(
            TimeEntry.association_id == association_id,
            TimeEntry.status.in_(statuses),
            TimeEntry.start_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)),
        )
    )
    sums: dict[tuple[str, Any], list[Any]] = defaultdict(lambda: [0, set(), 0, Decimal("0")])
    for e in rows:
        person = ("user", e.user_id) if e.user_id is not None else ("name", e.participant_name)
        keys = {
            "totals": None,
            "month": (year, e.start_date.month),
            "project": e.project_id,
            "category": e.category_id,
            "common": commons[e.category_id],
            "level": e.level_id,
            "member": e.user_id if e.user_id is not None else e.participant_name,
        }
        for dimension, key in keys.items():
            figures = sums[(dimension, key)]
            figures[0] += 1
            figures[1].add(person)
            figures[2] += e.duration_minutes
            figures[3] += Decimal(str(e.distance_km))
    result: Figures = defaultdict(dict)
    for (dimension, key), (count, people, minutes, km) in sums.items():
        result[dimension][key] = (count, len(people), minutes, Decimal(km).quantize(Decimal("0.01")))
    return result


def shown(stats: Statistics) -> Figures:
    """The same figures as the page shows them (rows with no entry left out; members: the top of the list)."""

    def table(rows: list[Row], key: Any = lambda r: r.key) -> dict[Any, tuple[int, int, int, Decimal]]:
        return {key(r): (r.entries, r.volunteers, r.minutes, r.km) for r in rows if r.entries}

    figures: Figures = {
        "totals": table([stats.totals], lambda _r: None),
        "month": table(stats.by_month),
        "project": table(stats.by_project),
        "category": table(stats.by_category),
        "common": table(stats.by_common_category),
        "level": table(stats.by_level),
    }
    return {name: rows for name, rows in figures.items() if rows}


def members_of(stats: Statistics) -> list[tuple[Any, int, int, Decimal]]:
    return [(r.key if r.key is not None else r.label, r.entries, r.minutes, r.km) for r in stats.by_member]


async def summary_rows(connection: Connection) -> list[list[tuple[Any, ...]]]:
    found = []
    for model in SUMMARY_TABLES:
        table: Any = model.__table__
        rows = (await connection.execute(select(table))).all()
        found.append(sorted((tuple(str(v) for v in row) for row in rows), key=str))
    return found


async def check(instance: Instance, association_id: int) -> None:
    """The page's figures for every year of the association, approved only and with the pending ones."""
    async with instance.sessions() as db:
        association = await db.get(Association, association_id)
        assert association is not None
        dates = (await db.scalars(select(TimeEntry.start_date).where(TimeEntry.association_id == association_id))).all()
        years = {d.year for d in dates} | {2025}
        for year in sorted(years):
            for statuses in (APPROVED_ONLY, COUNTED):
                filters = EntryFilter(period=Period.year(year), statuses=statuses)
                summarised = await association_statistics(instance.sessions, association, filters)
                direct = await association_statistics(instance.sessions, association, filters, use_summaries=False)
                assert summarised == direct, (year, statuses)
                wanted = await expected(db, association_id, year, statuses)
                figures = shown(summarised)
                assert figures == {k: v for k, v in wanted.items() if k != "member"}, (year, statuses)
                members = wanted.get("member", {})
                assert len(summarised.by_member) == len(members)
                for key, count, minutes, km in members_of(summarised):
                    assert (members[key][0], *members[key][2:]) == (count, minutes, km)
    await check_tables(instance)


async def check_tables(instance: Instance) -> None:
    """The summary tables hold exactly what writing them anew from the entries gives."""
    async with instance.engine.connect() as connection:
        kept = await summary_rows(connection)
        await connection.run_sync(rebuild_summaries)
        assert await summary_rows(connection) == kept
        await connection.rollback()


# -- each kind of write ---------------------------------------------------------------------------------------------


async def test_the_seed_and_the_page_agree(app: Any, instance: Instance, seed: Seed) -> None:
    await check(instance, seed.association.id)
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/statistics?year=2025")).text
    totals = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html)
    assert totals == [("Entries", "4"), ("Hours", "5 h 02"), ("Volunteers", "3"), ("Distance", "15.5 km")]


async def test_logging_and_editing_an_entry_moving_its_month_and_category(instance: Instance, seed: Seed) -> None:
    base = instance.settings.base_url
    events, other = seed.categories["events"], seed.categories["other"]
    async with instance.sessions() as db:
        bob = await db.get(User, seed.bob.id)
        association = await db.get(Association, seed.association.id)
        assert bob is not None and association is not None
        values = {"start_date": "2025-03-07", "duration": "", "hours": "2", "minutes": "15", "title": "Tri"}
        created = await entries.create_entry(db, base, bob, association, {**values, "category": str(events.id)})
        await db.commit()
    await check(instance, seed.association.id)
    async with instance.sessions() as db:
        bob = await db.get(User, seed.bob.id)
        assert bob is not None
        moved = {"start_date": "2024-11-02", "hours": "1", "minutes": "0", "title": "Tri", "distance": "4,5"}
        moved |= {"category": str(other.id), "project": str(seed.jardin.id), "level": str(seed.expert.id)}
        await entries.update_entry(db, base, bob, created.id, moved)
        await db.commit()
    await check(instance, seed.association.id)


async def test_moderation_and_withdrawal(instance: Instance, seed: Seed) -> None:
    base = instance.settings.base_url
    async with instance.sessions() as db:
        association = await db.get(Association, seed.association.id)
        carol = await db.get(User, seed.carol.id)
        assert association is not None and carol is not None
        association.moderate_entries = True
        made = []
        for day, minutes in (("2025-02-01", "30"), ("2025-02-11", "45"), ("2025-06-30", "20")):
            values = {"start_date": day, "hours": "0", "minutes": minutes, "title": "Accueil"}
            values["category"] = str(seed.categories["events"].id)
            made.append(await entries.create_entry(db, base, carol, association, values))
        await db.commit()
    await check(instance, seed.association.id)  # pending: counted with the pending ones only
    async with instance.sessions() as db:
        alice = await db.get(User, seed.alice.id)
        association = await db.get(Association, seed.association.id)
        assert alice is not None and association is not None
        await moderation.decide(db, alice, association, [made[0].id, made[1].id], approve=True)
        await db.commit()
    await check(instance, seed.association.id)
    async with instance.sessions() as db:
        alice = await db.get(User, seed.alice.id)
        association = await db.get(Association, seed.association.id)
        assert alice is not None and association is not None
        await moderation.decide(db, alice, association, [made[1].id, made[2].id], approve=False, reason="Doublon")
        await db.commit()
    await check(instance, seed.association.id)
    async with instance.sessions() as db:
        carol = await db.get(User, seed.carol.id)
        assert carol is not None
        await entries.withdraw_entry(db, carol, made[0].id)
        await db.commit()
    await check(instance, seed.association.id)


async def test_entries_logged_by_a_manager_for_someone_without_an_account(instance: Instance, seed: Seed) -> None:
    async with instance.sessions() as db:
        alice = await db.get(User, seed.alice.id)
        association = await db.get(Association, seed.association.id)
        assert alice is not None and association is not None
        for name, day in (("Zoé Anonyme", "2025-05-02"), ("Yann Passant", "2025-05-03"), ("Zoé Anonyme", "2025-08-03")):
            values = {"start_date": day, "hours": "1", "minutes": "5", "title": "Stand", "participant_name": name}
            values["category"] = str(seed.categories["other"].id)
            await moderation.enter_for_member(db, instance.settings.base_url, alice, association, values)
        await db.commit()
    await check(instance, seed.association.id)


async def test_deleting_accounts_keeps_or_withdraws_their_entries(instance: Instance, seed: Seed) -> None:
    gina = await create_user(instance, "gina@example.org", "gina", display_name="Gina")
    async with instance.sessions() as db:
        db.add_all(
            [
                TimeEntry(association_id=seed.association.id, category_id=seed.categories["events"].id,
                          start_date=dt.date(2025, 4, d), duration_minutes=60, title="Tri", user_id=gina.id,
                          status=status)
                for d, status in ((1, EntryStatus.APPROVED), (2, EntryStatus.PENDING))
            ]
        )  # fmt: skip
        await db.commit()
    await check(instance, seed.association.id)
    async with instance.sessions() as db:  # the admin deletes bob: his entries stay, as a former member's
        admin = await quick_user(instance, "root@example.org", "root", admin=True)
        await admin_users.delete_user(db, admin, seed.bob.id)
        await db.commit()
    await check(instance, seed.association.id)
    async with instance.sessions() as db:  # gina deletes her account and withdraws her entries
        person = await db.get(User, gina.id)
        assert person is not None
        await account_settings.delete_account(db, person, PASSWORD, account_settings.WITHDRAW_ENTRIES)
        await db.commit()
    await check(instance, seed.association.id)
    async with instance.sessions() as db:  # an account deleted by the ORM alone: ON DELETE SET NULL
        carol = await db.get(User, seed.carol.id)
        await db.delete(carol)
        await db.commit()
    await check(instance, seed.association.id)


async def test_deleting_an_association_deletes_its_summaries(instance: Instance, seed: Seed) -> None:
    other = await _second_association(instance, seed)
    for association_id in (seed.association.id, other):
        await check(instance, association_id)
    async with instance.sessions() as db:  # some entries deleted by the ORM, the others by the cascade
        association = await db.get(Association, seed.association.id)
        bobs = await db.scalars(select(TimeEntry).where(TimeEntry.user_id == seed.bob.id, TimeEntry.id < 3))
        for entry in bobs.all():
            await db.delete(entry)
        await db.flush()
        await db.delete(association)
        await db.commit()
    await _assert_no_summaries(instance, seed.association.id)
    await check(instance, other)
    async with instance.sessions() as db:
        await db.execute(delete(Association).where(Association.id == other))
        await db.commit()
    await _assert_no_summaries(instance, other)
    await check_tables(instance)


async def _assert_no_summaries(instance: Instance, association_id: int) -> None:
    async with instance.sessions() as db:
        for model in SUMMARY_TABLES:
            found = await db.scalars(select(model).where(model.association_id == association_id))
            assert found.all() == []


async def _second_association(instance: Instance, seed: Seed) -> int:
    async with instance.sessions() as db:
        db.add(Handle(handle="velos", kind="association"))
        other = Association(handle="velos", name="Vélos", name_key="vélos")
        db.add(other)
        await db.flush()
        category = Category(association_id=other.id, name="Atelier", common_category="events")
        db.add(category)
        await db.flush()
        db.add(TimeEntry(association_id=other.id, category_id=category.id, start_date=dt.date(2025, 9, 9),
                         duration_minutes=75, title="Atelier", user_id=seed.bob.id,
                         status=EntryStatus.APPROVED))  # fmt: skip
        await db.commit()
        return other.id


async def test_an_imported_association(instance: Instance) -> None:
    export = parse_export(_export_bytes())
    async with instance.sessions() as db:
        result = await import_export(db, instance, export, owner=None, importer=None)
        await db.commit()
    await check(instance, result.association.id)


def _export_bytes() -> bytes:
    import json

    return json.dumps(vector(), ensure_ascii=False).encode()


async def test_bulk_statements(instance: Instance, seed: Seed) -> None:
    association_id = seed.association.id
    gov, events = seed.categories["governance"], seed.categories["events"]
    async with instance.sessions() as db:  # an import-like bulk insert
        rows = [
            {"association_id": association_id, "category_id": events.id, "start_date": dt.date(2025, m, 3),
             "duration_minutes": 10 * m, "title": "Lot", "status": EntryStatus.APPROVED,
             "participant_name": "Lou" if m % 2 else "", "user_id": None if m % 2 else seed.carol.id}
            for m in range(1, 13)
        ]  # fmt: skip
        await db.execute(insert(TimeEntry), rows)
        await db.commit()
    await check(instance, association_id)
    async with instance.sessions() as db:  # move entries to another month, category and status at once
        await db.execute(
            update(TimeEntry)
            .where(
                TimeEntry.association_id == association_id, TimeEntry.title == "Lot", TimeEntry.duration_minutes < 60
            )
            .values(start_date=dt.date(2024, 2, 29), category_id=gov.id, status=EntryStatus.PENDING)
        )
        await db.commit()
    await check(instance, association_id)
    async with instance.sessions() as db:  # a bulk update by primary key
        ids = (await db.scalars(select(TimeEntry.id).where(TimeEntry.title == "Lot"))).all()
        await db.execute(
            update(TimeEntry), [{"id": i, "duration_minutes": 7, "distance_km": Decimal("1.25")} for i in ids]
        )
        await db.commit()
    await check(instance, association_id)
    async with instance.sessions() as db:
        await db.execute(delete(TimeEntry).where(TimeEntry.title == "Lot", TimeEntry.user_id.is_not(None)))
        await db.execute(delete(User).where(User.id == seed.bob.id))
        await db.commit()
    await check(instance, association_id)
    async with instance.sessions() as db:  # a category changes common category: by the ORM, then a statement
        category = await db.get(Category, events.id)
        assert category is not None
        category.common_category = "governance"
        await db.commit()
    await check(instance, association_id)
    async with instance.sessions() as db:
        await db.execute(update(Category).where(Category.id == gov.id).values(common_category="other"))
        await db.commit()
    await check(instance, association_id)


async def test_a_rolled_back_change_leaves_the_summaries_as_they_were(instance: Instance, seed: Seed) -> None:
    async with instance.sessions() as db:
        db.add(TimeEntry(association_id=seed.association.id, category_id=seed.categories["events"].id,
                         start_date=dt.date(2025, 1, 1), duration_minutes=99, title="Annulé",
                         status=EntryStatus.APPROVED))  # fmt: skip
        await db.flush()
        await db.execute(delete(TimeEntry).where(TimeEntry.duration_minutes == 120))
        await db.rollback()
    await check(instance, seed.association.id)


# -- a random sequence of writes -------------------------------------------------------------------------------------


async def test_random_writes_keep_the_summaries_exact(instance: Instance, seed: Seed) -> None:
    rng = random.Random(20251127)
    association_id = seed.association.id
    async with instance.sessions() as db:
        categories = [c.id for c in seed.categories.values()]
        levels = [None, seed.animateur.id, seed.expert.id]
        projects = [None, seed.fete.id, seed.jardin.id]
        users: list[int | None] = [seed.alice.id, seed.bob.id, seed.carol.id, seed.erin.id, None, None]
        names = ["Zoé", "Yann", "Zoé "]
        statuses = list(EntryStatus)
    done: Counter[str] = Counter()
    for round_number in range(12):
        async with instance.sessions() as db:
            for _ in range(rng.randint(1, 6)):
                operation = rng.choice(("add", "add", "edit", "status", "delete", "bulk", "bulk_delete", "user"))
                ids = (await db.scalars(select(TimeEntry.id).where(TimeEntry.association_id == association_id))).all()
                if operation in ("edit", "status", "delete") and not ids:
                    operation = "add"
                done[operation] += 1
                if operation == "add":
                    user = rng.choice(users)
                    db.add(
                        TimeEntry(
                            association_id=association_id,
                            category_id=rng.choice(categories),
                            level_id=rng.choice(levels),
                            project_id=rng.choice(projects),
                            start_date=dt.date(rng.choice((2024, 2025)), rng.randint(1, 12), rng.randint(1, 28)),
                            duration_minutes=rng.randint(1, 300),
                            distance_km=Decimal(rng.randint(0, 400)) / 4,
                            title="Hasard",
                            user_id=user,
                            participant_name="" if user else rng.choice(names),
                            status=rng.choice(statuses),
                        )
                    )
                elif operation == "edit":
                    entry = await db.get(TimeEntry, rng.choice(ids))
                    assert entry is not None
                    field = rng.choice(("start_date", "category_id", "level_id", "project_id", "duration_minutes",
                                        "distance_km", "participant_name", "title"))  # fmt: skip
                    value = {
                        "start_date": dt.date(rng.choice((2024, 2025)), rng.randint(1, 12), rng.randint(1, 28)),
                        "category_id": rng.choice(categories),
                        "level_id": rng.choice(levels),
                        "project_id": rng.choice(projects),
                        "duration_minutes": rng.randint(1, 300),
                        "distance_km": Decimal(rng.randint(0, 40)),
                        "participant_name": rng.choice(names),
                        "title": "Autre titre",
                    }[field]
                    setattr(entry, field, value)
                elif operation == "status":
                    entry = await db.get(TimeEntry, rng.choice(ids))
                    assert entry is not None
                    entry.status = rng.choice(statuses)
                elif operation == "delete":
                    entry = await db.get(TimeEntry, rng.choice(ids))
                    await db.delete(entry)
                elif operation == "bulk":
                    month = rng.randint(1, 12)
                    await db.execute(
                        update(TimeEntry)
                        .where(
                            TimeEntry.association_id == association_id, TimeEntry.duration_minutes > rng.randint(0, 300)
                        )
                        .values(start_date=dt.date(2025, month, 15), status=rng.choice(statuses))
                    )
                elif operation == "bulk_delete":
                    await db.execute(delete(TimeEntry).where(TimeEntry.duration_minutes < rng.randint(0, 40)))
                else:  # an account goes; its entries stay without it
                    user_id = rng.choice([u for u in users if u is not None and u != seed.alice.id] or [0])
                    if user_id:
                        await db.execute(
                            update(TimeEntry)
                            .where(TimeEntry.user_id == user_id)
                            .values(user_id=None, participant_name="Ancien")
                        )
                        person = await db.get(User, user_id)
                        await db.delete(person)
                        users.remove(user_id)
            if rng.random() < 0.2:
                await db.rollback()
                done["rolled back"] += 1
            else:
                await db.commit()
        if round_number % 3 == 2:
            await check(instance, association_id)
    await check(instance, association_id)
    assert done["add"] and done["bulk"] and done["rolled back"]
