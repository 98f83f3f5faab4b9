"""``parse_export``: a Bénévalibre 2.x association export read, checked and typed, or every problem named.

The file is ``{"objects": [...], "metadata": {"app_version", "date", "endpoint", "token"}}``. Objects refer to
each other by natural keys: users by email, the association by name, categories, levels, projects and roles by
``[name, association name]``, anonymous members by ``[uuid, association name]``. Every reference must resolve
inside the file; categories map to the shared default categories by their exact French name. Nothing here
touches the database.
"""

from __future__ import annotations

from typing import Any

from instance import reference
from instance.i18n import lazy_gettext
from instance.services.benevalibre_format import (
    EMAIL_RE,
    MAX_FILE_BYTES,
    Problems,
    check_action_dates,
    flag_field,
    is_uuid,
    key_field,
    known_activity_fields,
    load_json,
    objects_by_model,
    parse_distance,
    parse_duration,
    read_date,
    read_metadata,
    read_stamp,
    text_field,
)
from instance.services.benevalibre_records import (
    Export,
    ExportAction,
    ExportAnonymous,
    ExportAssociation,
    ExportCategory,
    ExportMembership,
    ExportNamed,
    ExportRole,
    ExportUser,
)

Objects = list[dict[str, Any]]


def parse_export(data: bytes, max_bytes: int = MAX_FILE_BYTES) -> Export:
    """Check an export file and return what it holds; ValidationError on ``file`` otherwise."""
    document = load_json(data, max_bytes)
    version, exported_at, endpoint, token = read_metadata(document["metadata"])
    problems = Problems()
    grouped = objects_by_model(document["objects"], problems)
    association = _association(grouped["associations.association"], problems)
    problems.raise_if_any()
    assert association is not None
    export = Export(version, exported_at, endpoint, token, association[0])
    export.unknown_activity_fields = association[1]
    reader = _Reader(export, problems)
    reader.read(grouped)
    problems.raise_if_any()
    return export


def _association(items: Objects, problems: Problems) -> tuple[ExportAssociation, list[str]] | None:
    if len(items) != 1:
        problems.add(lazy_gettext("An export holds exactly one association; this file has %(n)s.", n=len(items)))
        return None
    fields = items[0]["fields"]
    where = str(lazy_gettext("The association"))
    name = " ".join(text_field(fields, "name", where, problems, 150).split())
    if not name:
        problems.add(lazy_gettext("The association has no name."))
    income = fields.get("income")
    if income is not None and (isinstance(income, bool) or not isinstance(income, int) or income < 0):
        problems.add(lazy_gettext("The association's income should be a whole positive number of euros."))
        income = None
    country = text_field(fields, "country", where, problems) or "FR"
    if len(country) != 2 or not country.isalpha():
        problems.add(lazy_gettext("The association's country should be a two-letter code, not “%(c)s”.", c=country))
    known, unknown = known_activity_fields(fields.get("activity_field"), problems)
    association = ExportAssociation(
        name=name,
        description=text_field(fields, "description", where, problems).strip(),
        website=text_field(fields, "website_url", where, problems, 300).strip(),
        activity_fields=known,
        hidden=flag_field(fields, "is_hidden", where, problems),
        moderate_membership=flag_field(fields, "moderate_membership", where, problems),
        moderate_entries=flag_field(fields, "moderate_benevalo", where, problems, default=True),
        country=country.upper(),
        postal_code=text_field(fields, "postal_code", where, problems, 10).strip(),
        has_employees=flag_field(fields, "has_employees", where, problems),
        yearly_income=income,
        is_active=flag_field(fields, "is_active", where, problems, default=True),
    )
    return association, unknown


class _Reader:
    """Reads the objects of one export in dependency order, checking every natural key."""

    def __init__(self, export: Export, problems: Problems) -> None:
        self.export = export
        self.problems = problems
        self.name = export.association.name
        self.emails: set[str] = set()
        self.names: dict[str, set[str]] = {"role": set(), "category": set(), "level": set(), "project": set()}
        self.uuids: set[str] = set()

    def read(self, grouped: dict[str, Objects]) -> None:
        for item in grouped["accounts.user"]:
            self.user(item["fields"])
        for item in grouped["associations.associationrole"]:
            self.role(item["fields"])
        for item in grouped["associations.associationbenevalocategory"]:
            self.category(item["fields"])
        for item in grouped["associations.associationbenevalolevel"]:
            self.named(item["fields"], "level", self.export.levels)
        for item in grouped["associations.associationproject"]:
            self.named(item["fields"], "project", self.export.projects)
        for item in grouped["associations.associationmembership"]:
            self.membership(item["fields"])
        for item in grouped["associations.associationanonymousmember"]:
            self.anonymous(item["fields"])
        for index, item in enumerate(grouped["benevalibre.benevalo"], 1):
            pk = item.get("pk")
            self.action(item["fields"], pk if isinstance(pk, int) and not isinstance(pk, bool) else index)

    # -- references ------------------------------------------------------------------------------------------

    def owned(self, fields: dict[str, Any], where: str) -> bool:
        """Whether the object belongs to the export's association."""
        key = key_field(fields, "association", where, self.problems, 1)
        if key is None or key[0] != self.name:
            self.problems.add(lazy_gettext("%(where)s does not belong to the exported association.", where=where))
            return False
        return True

    def ref(self, fields: dict[str, Any], key: str, kind: str, where: str) -> str | None:
        """The name a ``[name, association]`` key refers to, checked against the objects read so far."""
        value = key_field(fields, key, where, self.problems, 2)
        if value is None:
            return None
        if value[1] != self.name or value[0] not in self.names[kind]:
            self.problems.add(
                lazy_gettext(
                    "%(where)s refers to an unknown %(kind)s “%(name)s”.", where=where, kind=kind, name=value[0]
                )
            )
            return None
        return value[0]

    def unique(self, kind: str, name: str, where: str) -> bool:
        if not name.strip():
            self.problems.add(lazy_gettext("%(where)s has no name.", where=where))
            return False
        if name in self.names[kind]:
            self.problems.add(lazy_gettext("%(where)s appears twice.", where=where))
            return False
        self.names[kind].add(name)
        return True

    # -- objects ---------------------------------------------------------------------------------------------

    def user(self, fields: dict[str, Any]) -> None:
        email = fields.get("email")
        if not isinstance(email, str) or not EMAIL_RE.match(email.strip()) or len(email) > 254:
            self.problems.add(lazy_gettext("A user has no valid email address (%(email)s).", email=str(email)[:80]))
            return
        where = str(lazy_gettext("User %(email)s", email=email))
        key = email.strip().lower()
        if key in self.emails:
            self.problems.add(lazy_gettext("%(where)s appears twice.", where=where))
            return
        self.emails.add(key)
        self.export.users.append(
            ExportUser(
                email=key,
                first_name=text_field(fields, "first_name", where, self.problems, 150),
                last_name=text_field(fields, "last_name", where, self.problems, 150),
                pseudo=text_field(fields, "pseudo", where, self.problems, 150),
            )
        )

    def role(self, fields: dict[str, Any]) -> None:
        name = fields.get("name") if isinstance(fields.get("name"), str) else ""
        where = str(lazy_gettext("Role “%(name)s”", name=name))
        if not self.owned(fields, where) or not self.unique("role", str(name), where):
            return
        permissions = frozenset(
            ours
            for theirs, ours in reference.PERMISSION_NAMES.items()
            if flag_field(fields, theirs, where, self.problems)
        )
        self.export.roles.append(
            ExportRole(
                name=text_field(fields, "name", where, self.problems, 100),
                description=text_field(fields, "description", where, self.problems),
                is_default=flag_field(fields, "is_default", where, self.problems),
                permissions=permissions,
            )
        )

    def category(self, fields: dict[str, Any]) -> None:
        name = fields.get("name") if isinstance(fields.get("name"), str) else ""
        where = str(lazy_gettext("Category “%(name)s”", name=name))
        if not self.owned(fields, where) or not self.unique("category", str(name), where):
            return
        default = key_field(fields, "default_category", where, self.problems, 1)
        codes = {common.fr: common.code for common in reference.common_categories()}
        if default is None or default[0] not in codes:
            self.problems.add(
                lazy_gettext(
                    "%(where)s maps to an unknown default category “%(default)s”.",
                    where=where,
                    default=default[0] if default else "",
                )
            )
            return
        self.export.categories.append(
            ExportCategory(
                name=text_field(fields, "name", where, self.problems, 255),
                description=text_field(fields, "description", where, self.problems),
                common_category=codes[default[0]],
            )
        )

    def named(self, fields: dict[str, Any], kind: str, into: list[ExportNamed]) -> None:
        name = fields.get("name") if isinstance(fields.get("name"), str) else ""
        label = lazy_gettext("Level") if kind == "level" else lazy_gettext("Project")
        where = f"{label} “{name}”"
        if not self.owned(fields, where) or not self.unique(kind, str(name), where):
            return
        into.append(
            ExportNamed(
                name=text_field(fields, "name", where, self.problems, 255),
                description=text_field(fields, "description", where, self.problems),
            )
        )

    def membership(self, fields: dict[str, Any]) -> None:
        user = key_field(fields, "user", "membership", self.problems, 1)
        email = user[0].strip().lower() if user else ""
        where = str(lazy_gettext("The membership of %(email)s", email=email))
        if not self.owned(fields, where):
            return
        if email not in self.emails:
            self.problems.add(lazy_gettext("%(where)s refers to a user who is not in the file.", where=where))
            return
        if any(m.email == email for m in self.export.memberships):
            self.problems.add(lazy_gettext("%(where)s appears twice.", where=where))
            return
        role = self.ref(fields, "role", "role", where)
        if role is None:
            self.problems.add(lazy_gettext("%(where)s has no valid role.", where=where))
            return
        active = flag_field(fields, "is_active", where, self.problems)
        self.export.memberships.append(ExportMembership(email=email, role=role, active=active))

    def anonymous(self, fields: dict[str, Any]) -> None:
        value = fields.get("uuid")
        where = str(lazy_gettext("Anonymous member %(uuid)s", uuid=str(value)[:40]))
        if not self.owned(fields, where):
            return
        if not is_uuid(value) or str(value) in self.uuids:
            self.problems.add(lazy_gettext("%(where)s has no valid, unique identifier.", where=where))
            return
        self.uuids.add(str(value))
        expires = fields.get("expiration_date")
        expiry = read_stamp(expires) if expires is not None else None
        if expires is not None and expiry is None:
            self.problems.add(lazy_gettext("%(where)s has an expiry date that is not valid.", where=where))
        name = " ".join(text_field(fields, "name", where, self.problems, 150).split())
        self.export.anonymous.append(
            ExportAnonymous(
                uuid=str(value),
                name=name or str(value)[:8],
                expires_on=expiry.date() if expiry else None,
                is_active=flag_field(fields, "is_active", where, self.problems, default=True),
                created_at=read_stamp(fields.get("created_at")),
                last_visit=read_stamp(fields.get("last_visit")),
            )
        )

    def author(self, fields: dict[str, Any], where: str) -> tuple[str | None, str | None]:
        user = key_field(fields, "user", where, self.problems, 1)
        anonymous = key_field(fields, "anonymous_member", where, self.problems, 2)
        email = user[0].strip().lower() if user else None
        if email is not None and email not in self.emails:
            self.problems.add(lazy_gettext("%(where)s refers to a user who is not in the file.", where=where))
        uuid = anonymous[0] if anonymous else None
        if uuid is not None and uuid not in self.uuids:
            self.problems.add(lazy_gettext("%(where)s refers to an unknown anonymous member.", where=where))
        if email is not None and uuid is not None:
            self.problems.add(lazy_gettext("%(where)s has both a user and an anonymous member.", where=where))
        return email, uuid

    def action(self, fields: dict[str, Any], pk: int) -> None:
        where = str(lazy_gettext("Action %(pk)s", pk=pk))
        if not self.owned(fields, where):
            return
        email, uuid = self.author(fields, where)
        category = self.ref(fields, "category", "category", where)
        if category is None:
            self.problems.add(lazy_gettext("%(where)s has no valid category.", where=where))
        start, end = read_date(fields.get("date")), read_date(fields.get("end_date"))
        if start is None:
            self.problems.add(lazy_gettext("%(where)s has no valid date.", where=where))
        if fields.get("end_date") is not None and end is None:
            self.problems.add(lazy_gettext("%(where)s has an end date that is not valid.", where=where))
        if start is not None:
            check_action_dates(pk, start, end, self.problems)
        duration = parse_duration(fields.get("duration"))
        if duration is None:
            self.problems.add(
                lazy_gettext(
                    "%(where)s has a duration that is not valid (%(value)s).",
                    where=where,
                    value=str(fields.get("duration"))[:30],
                )
            )
        distance = parse_distance(fields.get("distance"))
        if distance is None:
            self.problems.add(lazy_gettext("%(where)s has a distance that is not valid.", where=where))
        project = self.ref(fields, "project", "project", where)
        level = self.ref(fields, "level", "level", where)
        title = text_field(fields, "title", where, self.problems, 127)
        if category is None or start is None or duration is None or distance is None:
            return
        if duration[1]:
            self.export.rounded_actions.append(pk)
        self.export.actions.append(
            ExportAction(
                pk=pk,
                email=email,
                anonymous=uuid,
                category=category,
                project=project,
                level=level,
                start_date=start,
                end_date=end if end != start else None,
                title=title,
                description=text_field(fields, "description", where, self.problems),
                distance_km=distance,
                minutes=duration[0],
                approved=flag_field(fields, "is_active", where, self.problems, default=True),
            )
        )
