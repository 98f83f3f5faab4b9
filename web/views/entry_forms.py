"""What every time-entry form needs (the volunteer's, the manager's and the anonymous one); no routes here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from instance.i18n import gettext as _
from instance.models import Association, TimeEntry
from instance.services.catalog import entry_choices
from instance.services.entries import today


def presets() -> list[tuple[str, str]]:
    """The duration buttons: (value sent, label)."""
    return [
        ("30", _("30 min")),
        ("60", _("1 h")),
        ("120", _("2 h")),
        ("210", _("Half day (3 h 30)")),
        ("other", _("Other")),
    ]


def status_labels() -> dict[str, str]:
    return {
        "pending": _("Pending"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "withdrawn": _("Withdrawn"),
    }


async def form_context(db: AsyncSession, association: Association, entry: TimeEntry | None = None) -> dict[str, Any]:
    """The choices of the entry form for ``association`` (keeping the archived ones ``entry`` uses)."""
    keep = [entry.category_id, entry.level_id, entry.project_id] if entry is not None else []
    choices = await entry_choices(db, association, keep)
    return {
        "association": association,
        "categories": [(c.id, c.name) for c in choices.categories],
        "levels": [(level.id, f"{level.name}") for level in choices.levels],
        "projects": [(p.id, p.name) for p in choices.projects],
        "presets": presets(),
        "today": today().isoformat(),
    }
