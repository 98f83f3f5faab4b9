"""The pieces of reading a Bénévalibre 2.x export: the file's shape, its metadata and typed field readers.

``benevalibre_parse.parse_export`` puts them together. Every problem is collected in ``Problems`` so that one
error names them all, on the ``file`` field.

Durations are Django's ``HH:MM:SS`` or ``D HH:MM:SS`` (with optional ``.ffffff``); we keep whole minutes,
rounding seconds to the nearest minute (30 s and more round up), and report each rounded action.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from instance import reference
from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.services.entries import today

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DISTANCE = Decimal("999999.99")
MAX_PROBLEMS_SHOWN = 10
VERSION_RE = re.compile(r"^2\.\d+(\.\d+)?([.-]?[a-z0-9]+)*$")
DURATION_RE = re.compile(r"^(?:(\d+) )?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MODEL_ORDER = (
    "accounts.user",
    "associations.association",
    "associations.associationrole",
    "associations.associationbenevalocategory",
    "associations.associationbenevalolevel",
    "associations.associationproject",
    "associations.associationmembership",
    "associations.associationanonymousmember",
    "benevalibre.benevalo",
)


class Problems:
    """Collects what is wrong with a file, so that one error names every problem."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: object) -> None:
        self.items.append(str(message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_PROBLEMS_SHOWN]
        text = " ".join(f"{index}. {item}" for index, item in enumerate(shown, 1))
        more = len(self.items) - len(shown)
        if more:
            text += " " + str(lazy_gettext("(and %(n)s more problems)", n=more))
        raise ValidationError({"file": lazy_gettext("This file cannot be imported: %(problems)s", problems=text)})


def file_error(message: object) -> ValidationError:
    return ValidationError({"file": message})


# -- small typed readers --------------------------------------------------------------------------------------


def text_field(fields: dict[str, Any], key: str, where: str, problems: Problems, max_length: int = 0) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.add(lazy_gettext("%(where)s: “%(key)s” should be text.", where=where, key=key))
        return ""
    if max_length and len(value) > max_length:
        problems.add(
            lazy_gettext("%(where)s: “%(key)s” is longer than %(n)s characters.", where=where, key=key, n=max_length)
        )
    return value


def flag_field(fields: dict[str, Any], key: str, where: str, problems: Problems, default: bool = False) -> bool:
    value = fields.get(key, default)
    if not isinstance(value, bool):
        problems.add(lazy_gettext("%(where)s: “%(key)s” should be true or false.", where=where, key=key))
        return default
    return value


def key_field(fields: dict[str, Any], key: str, where: str, problems: Problems, size: int) -> tuple[str, ...] | None:
    """A natural key: a list of ``size`` strings, or None when the field is empty."""
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != size or not all(isinstance(v, str) for v in value):
        problems.add(lazy_gettext("%(where)s: “%(key)s” is not a valid reference.", where=where, key=key))
        return None
    return tuple(value)


def read_date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def read_stamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def parse_duration(value: Any) -> tuple[int, bool] | None:
    """Django's duration text -> (whole minutes, whether seconds were rounded); None when unreadable."""
    match = DURATION_RE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    days, hours, minutes, seconds, fraction = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        return None
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    micro = int((fraction or "0").ljust(6, "0"))
    whole, rest = divmod(total * 1_000_000 + micro, 60_000_000)
    rounded = whole + (1 if rest >= 30_000_000 else 0)
    return rounded, rest != 0


def parse_distance(value: Any) -> Decimal | None:
    """``"12.50"`` (or a number, or null) -> km; None when it is not a valid distance."""
    if value is None:
        return Decimal("0")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        distance = Decimal(str(value))
    except InvalidOperation:
        return None
    if (
        not distance.is_finite()
        or distance < 0
        or distance > MAX_DISTANCE
        or distance != distance.quantize(Decimal("0.01"))
    ):
        return None
    return distance.quantize(Decimal("0.01"))


# -- the file as a whole --------------------------------------------------------------------------------------


def load_json(data: bytes, max_bytes: int = MAX_FILE_BYTES) -> dict[str, Any]:
    if len(data) > max_bytes:
        raise file_error(
            lazy_gettext("The file is too large: an export can have at most %(n)s MiB.", n=max_bytes // (1024 * 1024))
        )
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise file_error(
            lazy_gettext("This file is not a Bénévalibre export: it is not JSON text (%(error)s).", error=error)
        ) from error
    if not isinstance(document, dict) or not isinstance(document.get("objects"), list):
        raise file_error(
            lazy_gettext("This file is not a Bénévalibre export: it has no “objects” list and “metadata”.")
        )
    if not isinstance(document.get("metadata"), dict):
        raise file_error(lazy_gettext("This file is not a Bénévalibre export: its “metadata” is missing."))
    return document


def read_metadata(metadata: dict[str, Any]) -> tuple[str, dt.datetime, str, str]:
    version = metadata.get("app_version")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise file_error(
            lazy_gettext(
                "This export comes from Bénévalibre %(version)s; this instance imports exports of Bénévalibre 2.x.",
                version=str(version)[:20],
            )
        )
    problems = Problems()
    exported_at = read_stamp(metadata.get("date"))
    if exported_at is None:
        problems.add(lazy_gettext("The export's date is missing or not valid."))
    elif exported_at > dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
        problems.add(lazy_gettext("The export is dated in the future (%(date)s).", date=metadata.get("date")))
    endpoint = metadata.get("endpoint")
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(str(endpoint)) > 500:
        problems.add(lazy_gettext("The export does not name the address of its origin instance (“endpoint”)."))
    token = metadata.get("token")
    if not isinstance(token, str) or not token.strip() or len(token) > 100:
        problems.add(lazy_gettext("The export has no valid move token (“token”)."))
    problems.raise_if_any()
    assert exported_at is not None and isinstance(endpoint, str) and isinstance(token, str)
    return version, exported_at, endpoint, token.strip()


def objects_by_model(objects: list[Any], problems: Problems) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in MODEL_ORDER}
    for index, item in enumerate(objects, 1):
        if not isinstance(item, dict) or not isinstance(item.get("fields"), dict):
            problems.add(lazy_gettext("Object %(n)s is not a serialised object.", n=index))
            continue
        model = item.get("model")
        if model not in grouped:
            problems.add(lazy_gettext("Object %(n)s is of an unknown kind (%(model)s).", n=index, model=str(model)))
            continue
        grouped[str(model)].append(item)
    return grouped


def check_action_dates(action_pk: int, start: dt.date, end: dt.date | None, problems: Problems) -> None:
    where = lazy_gettext("Action %(pk)s", pk=action_pk)
    if start > today():
        problems.add(lazy_gettext("%(where)s is dated in the future (%(date)s).", where=where, date=start.isoformat()))
    if end is not None and end > today():
        problems.add(lazy_gettext("%(where)s ends in the future (%(date)s).", where=where, date=end.isoformat()))
    if end is not None and end < start:
        problems.add(lazy_gettext("%(where)s ends before it starts.", where=where))


def known_activity_fields(values: Any, problems: Problems) -> tuple[list[str], list[str]]:
    """(known, unknown) activity fields; unknown ones are set aside and reported, not refused."""
    if values is None:
        return [], []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        problems.add(lazy_gettext("The association's activity fields are not a list of names."))
        return [], []
    known = reference.all_activity_fields()
    chosen = list(dict.fromkeys(v for v in values if v))
    return [v for v in chosen if v in known], [v for v in chosen if v not in known]


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
