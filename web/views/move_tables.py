"""The side-by-side tables of a move: what the export file held, and what this instance now holds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from instance.i18n import lazy_gettext
from instance.services.move_figures import COUNTS, Figures

COUNT_LABELS = {
    "users": lazy_gettext("People with an account"),
    "roles": lazy_gettext("Roles"),
    "memberships": lazy_gettext("Memberships"),
    "categories": lazy_gettext("Categories"),
    "levels": lazy_gettext("Levels"),
    "projects": lazy_gettext("Projects"),
    "anonymous_links": lazy_gettext("Anonymous links"),
    "entries": lazy_gettext("Time entries"),
    "approved_entries": lazy_gettext("Approved entries"),
    "pending_entries": lazy_gettext("Entries waiting for approval"),
}
DIMENSION_LABELS = {
    "category": lazy_gettext("Per category"),
    "project": lazy_gettext("Per project"),
    "member": lazy_gettext("Per member"),
}


@dataclass(frozen=True)
class Row:
    label: str
    before_minutes: int
    after_minutes: int
    before_km: Decimal
    after_km: Decimal

    @property
    def same(self) -> bool:
        return self.before_minutes == self.after_minutes and self.before_km == self.after_km


@dataclass(frozen=True)
class CountRow:
    label: str
    before: int
    after: int

    @property
    def same(self) -> bool:
        return self.before == self.after


@dataclass(frozen=True)
class Tables:
    counts: list[CountRow]
    totals: Row
    dimensions: list[tuple[str, list[Row]]]

    @property
    def same(self) -> bool:
        rows = [self.totals, *(row for _label, rows in self.dimensions for row in rows)]
        return all(row.same for row in self.counts) and all(row.same for row in rows)


def key_label(dimension: str, key: str, names: dict[str, str]) -> str:
    if dimension == "project" and not key:
        return str(lazy_gettext("No project"))
    if dimension != "member":
        return key
    if key == "none":
        return str(lazy_gettext("Nobody (no author)"))
    if key.startswith("link:"):
        return str(lazy_gettext("Anonymous link “%(name)s”", name=names.get(key, key[5:13])))
    return key.removeprefix("user:")


def comparison(before: Figures, after: Figures, names: dict[str, str]) -> Tables:
    """Rows of before/after values: the counts, the grand totals, then time and distance per key."""
    counts = [CountRow(str(COUNT_LABELS[c]), before.counts.get(c, 0), after.counts.get(c, 0)) for c in COUNTS]
    totals = Row(
        str(lazy_gettext("All entries")),
        before.total_minutes,
        after.total_minutes,
        before.total_distance,
        after.total_distance,
    )
    dimensions = []
    zero = Decimal("0")
    for dimension, label in DIMENSION_LABELS.items():
        keys = sorted(set(before.minutes[dimension]) | set(after.minutes[dimension]))
        rows = [
            Row(
                key_label(dimension, key, names),
                before.minutes[dimension].get(key, 0),
                after.minutes[dimension].get(key, 0),
                before.distance[dimension].get(key, zero),
                after.distance[dimension].get(key, zero),
            )
            for key in keys
        ]
        dimensions.append((str(label), rows))
    return Tables(counts, totals, dimensions)
