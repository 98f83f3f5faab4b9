"""Keeps the entry summaries (``instance.models.summaries``) exact, whatever writes the entries.

The summaries are cut in buckets: (association, month) for ``entry_month_summaries``, (association, year,
volunteer) for ``entry_volunteer_summaries``. Whenever entries change, every bucket they were in before or are
in after is computed again from ``time_entries``, in the same transaction. Session events do it, so that no
code path has to remember it:

- ``before_flush`` reads, as they still are in the database, the entries about to be changed or deleted, and
  those of accounts about to be deleted (they lose their account through ``ON DELETE SET NULL``);
- ``after_flush`` reads the same entries, and the new ones, as they are now, and computes their buckets again;
- ``do_orm_execute`` does the same around ``insert`` / ``update`` / ``delete`` statements on ``TimeEntry`` and
  ``delete`` statements on ``User`` sent through a session.

Deleting an association deletes its summaries by ``ON DELETE CASCADE``. Statements sent on a bare connection
or as SQL text are not seen: code that writes entries that way calls :func:`rebuild_summaries` afterwards.

On PostgreSQL a transaction takes an advisory lock per association before computing its buckets, so that two
transactions changing entries of the same association one after the other compute on each other's results
(SQLite lets one writer at a time anyway).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    and_,
    delete,
    distinct,
    event,
    extract,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Result
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.expression import case

from instance.models.accounts import User
from instance.models.catalog import Category
from instance.models.entries import EntryStatus, TimeEntry
from instance.models.summaries import EntryMonthSummary, EntryVolunteerCount, EntryVolunteerSummary

COUNTED = (EntryStatus.APPROVED, EntryStatus.PENDING)
# the columns whose change can change a figure of the summaries
RELEVANT = (
    "association_id",
    "user_id",
    "participant_name",
    "category_id",
    "level_id",
    "project_id",
    "start_date",
    "duration_minutes",
    "distance_km",
    "status",
)
CHUNK = 500
LOCK_SPACE = 0x5E11  # first key of the PostgreSQL advisory locks taken here (the second is the association)
PENDING_KEY = "entry_summaries"

MONTHS = cast(Table, EntryMonthSummary.__table__)
PEOPLE = cast(Table, EntryVolunteerSummary.__table__)
COUNTS = cast(Table, EntryVolunteerCount.__table__)


@dataclass
class Touched:
    """The buckets to compute again: ``associations`` entirely, ``everything`` when the change could not be
    told apart."""

    months: set[tuple[int, int, int]] = field(default_factory=set)
    people: dict[tuple[int, int], tuple[set[int], set[str]]] = field(default_factory=dict)
    associations: set[int] = field(default_factory=set)
    everything: bool = False

    def add(self, association_id: int, day: dt.date, user_id: int | None, name: str | None) -> None:
        self.months.add((association_id, day.year, day.month))
        users, names = self.people.setdefault((association_id, day.year), (set(), set()))
        if user_id is None:
            names.add(name or "")
        else:
            users.add(user_id)

    def add_rows(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.add(row.association_id, row.start_date, row.user_id, row.participant_name)

    def __bool__(self) -> bool:
        return bool(self.months or self.associations or self.everything)


@dataclass
class _Pending:
    """What ``before_flush`` saw, for ``after_flush``."""

    touched: Touched = field(default_factory=Touched)
    ids: set[int] = field(default_factory=set)


# -- the SQL that computes buckets --------------------------------------------------------------------------


def _year(dialect: str) -> ColumnElement[int]:
    if dialect == "sqlite":  # dates are ISO text there
        return sql_cast(func.substr(TimeEntry.start_date, literal_column("1"), literal_column("4")), Integer)
    return sql_cast(extract("year", TimeEntry.start_date), Integer)


def _month(dialect: str) -> ColumnElement[int]:
    if dialect == "sqlite":
        return sql_cast(func.substr(TimeEntry.start_date, literal_column("6"), literal_column("2")), Integer)
    return sql_cast(extract("month", TimeEntry.start_date), Integer)


def _distinct_list(column: Any, dialect: str) -> ColumnElement[str]:
    if dialect == "sqlite":
        return func.group_concat(distinct(column))
    return func.string_agg(distinct(sql_cast(column, String)), literal_column("','"))


def _sums() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(TimeEntry.id),
        func.coalesce(func.sum(TimeEntry.duration_minutes), 0),
        func.coalesce(func.sum(TimeEntry.distance_km), 0),
    )


def _months_query(dialect: str, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    keys = (
        TimeEntry.association_id,
        _year(dialect),
        _month(dialect),
        TimeEntry.status,
        func.coalesce(TimeEntry.project_id, 0),
        TimeEntry.category_id,
        func.coalesce(TimeEntry.level_id, 0),
    )
    return select(*keys, *_sums()).where(TimeEntry.status.in_(COUNTED), *where).group_by(*keys)


def _people_query(dialect: str, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    name = case((TimeEntry.user_id.is_(None), TimeEntry.participant_name), else_=literal_column("''"))
    keys = (TimeEntry.association_id, _year(dialect), TimeEntry.status, func.coalesce(TimeEntry.user_id, 0), name)
    lists = (
        _distinct_list(_month(dialect), dialect),
        _distinct_list(func.coalesce(TimeEntry.project_id, 0), dialect),
        _distinct_list(TimeEntry.category_id, dialect),
        _distinct_list(func.coalesce(TimeEntry.level_id, 0), dialect),
    )
    return select(*keys, *_sums(), *lists).where(TimeEntry.status.in_(COUNTED), *where).group_by(*keys)


MONTH_COLUMNS = (
    "association_id",
    "year",
    "month",
    "status",
    "project_id",
    "category_id",
    "level_id",
    "entries",
    "minutes",
    "distance_km",
)
PEOPLE_COLUMNS = (
    "association_id",
    "year",
    "status",
    "user_id",
    "participant_name",
    "entries",
    "minutes",
    "distance_km",
    "months",
    "projects",
    "categories",
    "levels",
)


def _refresh_month(connection: Connection, association_id: int, year: int, month: int) -> None:
    first = dt.date(year, month, 1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    connection.execute(
        delete(MONTHS).where(MONTHS.c.association_id == association_id, MONTHS.c.year == year, MONTHS.c.month == month)
    )
    query = _months_query(
        connection.dialect.name,
        [TimeEntry.association_id == association_id, TimeEntry.start_date.between(first, last)],
    )
    connection.execute(insert(MONTHS).from_select(MONTH_COLUMNS, query))


def _refresh_people(connection: Connection, association_id: int, year: int, users: list[int], names: list[str]) -> None:
    stored: list[ColumnElement[bool]] = []
    entries: list[ColumnElement[bool]] = []
    if users:
        stored.append(PEOPLE.c.user_id.in_(users))
        entries.append(TimeEntry.user_id.in_(users))
    if names:
        stored.append(and_(PEOPLE.c.user_id == 0, PEOPLE.c.participant_name.in_(names)))
        entries.append(and_(TimeEntry.user_id.is_(None), TimeEntry.participant_name.in_(names)))
    bucket = (PEOPLE.c.association_id == association_id, PEOPLE.c.year == year, or_(*stored))
    before = connection.execute(select(*PRESENCE_COLUMNS).where(*bucket)).all()
    connection.execute(delete(PEOPLE).where(*bucket))
    period = TimeEntry.start_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31))
    query = _people_query(connection.dialect.name, [TimeEntry.association_id == association_id, period, or_(*entries)])
    connection.execute(insert(PEOPLE).from_select(PEOPLE_COLUMNS, query))
    after = connection.execute(select(*PRESENCE_COLUMNS).where(*bucket)).all()
    commons = _commons(connection, association_id)
    change = _presence(after, commons)
    change.subtract(_presence(before, commons))
    _add_counts(connection, association_id, year, change)


# -- distinct volunteers --------------------------------------------------------------------------------------

PRESENCE_COLUMNS = (
    PEOPLE.c.user_id,
    PEOPLE.c.participant_name,
    PEOPLE.c.status,
    PEOPLE.c.months,
    PEOPLE.c.projects,
    PEOPLE.c.categories,
    PEOPLE.c.levels,
)


def _commons(connection: Connection, association_id: int) -> dict[str, str]:
    query = select(Category.id, Category.common_category).where(Category.association_id == association_id)
    return {str(category_id): code for category_id, code in connection.execute(query)}


def _split(text: str | None) -> list[str]:
    return text.split(",") if text else []


def _presence(rows: Iterable[Any], commons: dict[str, str]) -> Counter[tuple[str, str, str]]:
    """How many of the volunteers of ``rows`` (``entry_volunteer_summaries``) each (scope, dimension, key) has."""
    found: dict[tuple[str, int, str], set[tuple[str, str]]] = {}
    for user_id, name, status, months, projects, categories, levels in rows:
        keys = {("all", "")}
        keys.update(("month", str(int(m))) for m in _split(months))
        keys.update(("project", p) for p in _split(projects))
        keys.update(("category", c) for c in _split(categories))
        keys.update(("common", commons.get(c, "")) for c in _split(categories))
        keys.update(("level", level) for level in _split(levels))
        for scope in ("approved", "counted") if status == EntryStatus.APPROVED else ("counted",):
            found.setdefault((scope, user_id, name), set()).update(keys)
    return Counter((scope, dimension, key) for (scope, _u, _n), keys in found.items() for dimension, key in keys)


def _add_counts(connection: Connection, association_id: int, year: int, change: Counter[tuple[str, str, str]]) -> None:
    for (scope, dimension, key), difference in sorted(change.items()):
        if not difference:
            continue
        where = (
            COUNTS.c.association_id == association_id,
            COUNTS.c.year == year,
            COUNTS.c.scope == scope,
            COUNTS.c.dimension == dimension,
            COUNTS.c.key == key,
        )
        updated = connection.execute(update(COUNTS).where(*where).values(volunteers=COUNTS.c.volunteers + difference))
        if not updated.rowcount and difference > 0:  # (none to take from: the association was just deleted)
            values = {"association_id": association_id, "year": year, "scope": scope, "dimension": dimension}
            connection.execute(insert(COUNTS).values(**values, key=key, volunteers=difference))
    connection.execute(
        delete(COUNTS).where(COUNTS.c.association_id == association_id, COUNTS.c.year == year, COUNTS.c.volunteers == 0)
    )


def _lock(connection: Connection, association_ids: Iterable[int]) -> None:
    if connection.dialect.name != "postgresql":
        return
    for association_id in sorted(set(association_ids)):  # always in the same order: no deadlock between two
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:space, :id)"), {"space": LOCK_SPACE, "id": association_id}
        )


def refresh(connection: Connection, touched: Touched) -> None:
    """Compute the ``touched`` buckets again from ``time_entries``."""
    if touched.everything:
        rebuild_summaries(connection)
        return
    if touched.associations:
        rebuild_summaries(connection, sorted(touched.associations))
    _lock(connection, [a for a, _y, _m in touched.months] + [a for a, _y in touched.people])
    for association_id, year, month in sorted(touched.months):
        if association_id in touched.associations:
            continue
        _refresh_month(connection, association_id, year, month)
    for (association_id, year), (users, names) in sorted(touched.people.items()):
        if association_id in touched.associations:
            continue
        user_list, name_list = sorted(users), sorted(names)
        for start in range(0, max(len(user_list), len(name_list)), CHUNK):
            chunk_users, chunk_names = user_list[start : start + CHUNK], name_list[start : start + CHUNK]
            _refresh_people(connection, association_id, year, chunk_users, chunk_names)


def rebuild_summaries(connection: Connection, association_ids: Sequence[int] | None = None) -> None:
    """Write the summaries anew from the entries: of ``association_ids``, or of every association."""
    where: list[ColumnElement[bool]] = []
    if association_ids is not None:
        _lock(connection, association_ids)
        where.append(TimeEntry.association_id.in_(association_ids))
    for table in (MONTHS, PEOPLE, COUNTS):
        statement = delete(table)
        if association_ids is not None:
            statement = statement.where(table.c.association_id.in_(association_ids))
        connection.execute(statement)
    dialect = connection.dialect.name
    connection.execute(insert(MONTHS).from_select(MONTH_COLUMNS, _months_query(dialect, where)))
    connection.execute(insert(PEOPLE).from_select(PEOPLE_COLUMNS, _people_query(dialect, where)))
    stored = select(PEOPLE.c.association_id, PEOPLE.c.year, *PRESENCE_COLUMNS)
    if association_ids is not None:
        stored = stored.where(PEOPLE.c.association_id.in_(association_ids))
    rows = connection.execute(stored.order_by(PEOPLE.c.association_id, PEOPLE.c.year)).all()
    for association_id, years in groupby(rows, key=lambda row: row[0]):
        commons = _commons(connection, association_id)
        for year, group in groupby(years, key=lambda row: row[1]):
            _insert_counts(connection, association_id, year, _presence((row[2:] for row in group), commons))


def _insert_counts(
    connection: Connection, association_id: int, year: int, found: Counter[tuple[str, str, str]]
) -> None:
    if found:
        bucket = {"association_id": association_id, "year": year}
        rows = [{**bucket, "scope": s, "dimension": d, "key": k, "volunteers": n} for (s, d, k), n in found.items()]
        connection.execute(insert(COUNTS), rows)


# -- finding the buckets a change touches ---------------------------------------------------------------------

KEY_COLUMNS = (TimeEntry.association_id, TimeEntry.start_date, TimeEntry.user_id, TimeEntry.participant_name)


def _keys(connection: Connection, ids: Iterable[int]) -> list[Any]:
    """The bucket keys of the entries ``ids`` as they are in the database now (deleted ones are gone)."""
    id_list = sorted(ids)
    rows: list[Any] = []
    for start in range(0, len(id_list), CHUNK):
        query = select(*KEY_COLUMNS).where(TimeEntry.id.in_(id_list[start : start + CHUNK]))
        rows.extend(connection.execute(query).all())
    return rows


def _user_entries(connection: Connection, user_ids: Any) -> list[Any]:
    """Id and bucket keys of the entries of the accounts ``user_ids`` (a list or a subquery)."""
    return list(connection.execute(select(TimeEntry.id, *KEY_COLUMNS).where(TimeEntry.user_id.in_(user_ids))).all())


def _identity(instance: Any) -> int | None:
    identity = inspect(instance).identity
    return int(identity[0]) if identity else None


def _recoded(category: Category) -> bool:
    """Whether the category's common category changes (the summaries count volunteers per common category)."""
    return bool(inspect(category).attrs["common_category"].history.has_changes())


def _changed(entry: TimeEntry) -> bool:
    attributes = inspect(entry).attrs
    return any(attributes[name].history.has_changes() for name in RELEVANT)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    ids = {_identity(e) for e in session.dirty if isinstance(e, TimeEntry) and _changed(e)}
    ids |= {_identity(e) for e in session.deleted if isinstance(e, TimeEntry)}
    ids.discard(None)
    users = [u for u in (_identity(u) for u in session.deleted if isinstance(u, User)) if u is not None]
    recoded = {c.association_id for c in session.dirty if isinstance(c, Category) and _recoded(c)}
    if not ids and not users and not recoded:
        return
    connection = session.connection()
    pending: _Pending = session.info.setdefault(PENDING_KEY, _Pending())
    pending.touched.associations |= recoded
    entry_ids = cast(set[int], ids)
    for start in range(0, len(users), CHUNK):
        rows = _user_entries(connection, users[start : start + CHUNK])
        entry_ids |= {row.id for row in rows}
    pending.touched.add_rows(_keys(connection, entry_ids))
    pending.ids |= entry_ids


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    pending: _Pending = session.info.pop(PENDING_KEY, None) or _Pending()
    new_ids = {e.id for e in session.new if isinstance(e, TimeEntry)}
    if not new_ids and not pending.ids and not pending.touched:
        return
    connection = session.connection()
    pending.touched.add_rows(_keys(connection, pending.ids | new_ids))
    refresh(connection, pending.touched)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    """A flush that failed leaves nothing to compute."""
    session.info.pop(PENDING_KEY, None)


@event.listens_for(Session, "do_orm_execute")
def _around_statement(state: ORMExecuteState) -> Result[Any] | None:
    if not (state.is_insert or state.is_update or state.is_delete) or state.bind_mapper is None:
        return None
    entity = state.bind_mapper.class_
    if entity is TimeEntry:
        return _entry_statement(state)
    if entity is User and state.is_delete:
        return _user_deletion(state)
    if entity is Category and state.is_update:
        return _category_update(state)
    return None


def _parameter_list(state: ORMExecuteState) -> list[dict[str, Any]]:
    parameters: Any = state.parameters
    if isinstance(parameters, dict):
        return [parameters] if parameters else []
    return list(parameters or [])


def _entry_statement(state: ORMExecuteState) -> Result[Any]:
    connection = state.session.connection()
    touched = Touched()
    ids: list[int] = []
    parameters = _parameter_list(state)
    if state.is_insert:
        if parameters and all("association_id" in p and "start_date" in p for p in parameters):
            for p in parameters:
                touched.add(p["association_id"], p["start_date"], p.get("user_id"), p.get("participant_name", ""))
        else:  # inserted from a query or with values the statement holds: not worth telling apart
            touched.everything = True
    elif parameters and all("id" in p for p in parameters):  # bulk update by primary key
        ids = [p["id"] for p in parameters]
        touched.add_rows(_keys(connection, ids))
    else:
        where = getattr(state.statement, "whereclause", None)
        query = select(TimeEntry.id, *KEY_COLUMNS)
        rows = connection.execute(query if where is None else query.where(where)).all()
        ids = [row.id for row in rows]
        touched.add_rows(rows)
    result = state.invoke_statement()
    return _then_refresh(connection, result, touched, ids if state.is_update else [])


def _user_deletion(state: ORMExecuteState) -> Result[Any]:
    connection = state.session.connection()
    where = getattr(state.statement, "whereclause", None)
    users = select(User.id) if where is None else select(User.id).where(where)
    rows = _user_entries(connection, users)
    touched = Touched()
    touched.add_rows(rows)
    result = state.invoke_statement()
    return _then_refresh(connection, result, touched, [row.id for row in rows])


def _category_update(state: ORMExecuteState) -> Result[Any]:
    """A common category may change: the summaries of the associations concerned are written anew."""
    connection = state.session.connection()
    where = getattr(state.statement, "whereclause", None)
    query = select(Category.association_id).distinct()
    touched = Touched(associations=set(connection.scalars(query if where is None else query.where(where))))
    return _then_refresh(connection, state.invoke_statement(), touched, [])


def _then_refresh(connection: Connection, result: Result[Any], touched: Touched, ids: list[int]) -> Result[Any]:
    """After the statement: add the buckets the entries ``ids`` are in now, compute everything touched.

    (The async drivers' results are already fetched: further statements on the connection leave them whole.)
    """
    touched.add_rows(_keys(connection, ids))
    if touched:
        refresh(connection, touched)
    return result
