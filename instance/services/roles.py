"""Roles of an association: their permissions, the default role, and the rule that a manager always remains."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import Conflict, NotFound, PermissionDenied, ValidationError
from instance.i18n import lazy_gettext
from instance.models import PERMISSIONS, Association, Membership, MembershipStatus, Role, User
from instance.services.access import require_permission


async def roles_of(db: AsyncSession, association: Association) -> list[Role]:
    """The association's roles, the default first, then by name."""
    rows = await db.scalars(
        select(Role).where(Role.association_id == association.id).order_by(Role.is_default.desc(), Role.name)
    )
    return list(rows)


async def role_in(db: AsyncSession, association: Association, role_id: int | str) -> Role:
    """One role of this association, or NotFound (never a role of another association)."""
    try:
        key = int(role_id)
    except (TypeError, ValueError):
        key = 0
    role = await db.scalar(select(Role).where(Role.id == key, Role.association_id == association.id))
    if role is None:
        raise NotFound(lazy_gettext("This role does not exist in this association."))
    return role


async def default_role(db: AsyncSession, association: Association) -> Role:
    role = await db.scalar(
        select(Role).where(Role.association_id == association.id, Role.is_default.is_(True)).order_by(Role.id)
    )
    if role is None:
        raise Conflict(lazy_gettext("This association has no default role; a manager must choose one."))
    return role


async def role_usage(db: AsyncSession, association: Association) -> dict[int, int]:
    """How many memberships (pending or active) each role of the association has."""
    rows = await db.execute(
        select(Membership.role_id, func.count(Membership.id))
        .where(Membership.association_id == association.id)
        .group_by(Membership.role_id)
    )
    return {role_id: int(count) for role_id, count in rows.all()}


def permissions_of(role: Role) -> frozenset[str]:
    return frozenset(p for p in PERMISSIONS if role.allows(p))


def may_grant(actor_role: Role, role: Role) -> bool:
    """Whether someone with ``actor_role`` may give ``role`` to someone: only permissions they hold themselves."""
    return permissions_of(role) <= permissions_of(actor_role)


async def ensure_a_manager_remains(
    db: AsyncSession,
    association: Association,
    *,
    removing: Membership | None = None,
    moving: tuple[Membership, Role] | None = None,
    role_change: tuple[Role, bool] | None = None,
) -> None:
    """Conflict unless, after the change, an active member still has a role that manages the association.

    ``removing``: a membership about to be deleted; ``moving``: a membership and the role it is about to get;
    ``role_change``: a role and whether it is about to manage the association.
    """
    members = await db.scalars(
        select(Membership).where(
            Membership.association_id == association.id, Membership.status == MembershipStatus.ACTIVE
        )
    )
    for member in members:
        if removing is not None and member.id == removing.id:
            continue
        role = moving[1] if moving is not None and member.id == moving[0].id else member.role
        manages = (
            role_change[1] if role_change is not None and role.id == role_change[0].id else role.manage_association
        )
        if manages:
            return
    raise Conflict(
        lazy_gettext(
            "This would leave the association without a manager. Give another member a role that manages "
            "the association first."
        )
    )


def _check_grant(actor_role: Role, permissions: set[str] | frozenset[str]) -> None:
    """PermissionDenied when someone would hand out (or take back) a permission they do not hold."""
    unknown = set(permissions) - set(PERMISSIONS)
    if unknown:
        raise ValidationError({"permissions": lazy_gettext("Choose permissions from the list only.")})
    if not set(permissions) <= permissions_of(actor_role):
        raise PermissionDenied(lazy_gettext("You can only manage roles whose permissions you have yourself."))


def _check_role_fields(name: str, description: str) -> tuple[str, str]:
    errors: dict[str, object] = {}
    name = " ".join(name.split())
    if not name:
        errors["name"] = lazy_gettext("Please give the role a name.")
    elif len(name) > 100:
        errors["name"] = lazy_gettext("The name can have at most 100 characters.")
    if len(description) > 2000:
        errors["description"] = lazy_gettext("The description can have at most 2000 characters.")
    if errors:
        raise ValidationError(errors)
    return name, description.strip()


async def _check_unique_name(db: AsyncSession, association: Association, name: str, current: Role | None) -> None:
    query = select(Role).where(Role.association_id == association.id)
    for role in await db.scalars(query):
        if role is not current and role.name.casefold() == name.casefold():
            raise ValidationError({"name": lazy_gettext("This association already has a role with this name.")})


async def _make_default(db: AsyncSession, association: Association, role: Role) -> None:
    for other in await roles_of(db, association):
        if other is not role and other.is_default:
            other.is_default = False
    role.is_default = True


async def create_role(
    db: AsyncSession,
    actor: User | None,
    association: Association,
    *,
    name: str,
    description: str = "",
    permissions: Iterable[str] = (),
    is_default: bool = False,
) -> Role:
    mine = await require_permission(db, actor, association, "manage_roles")
    name, description = _check_role_fields(name, description)
    await _check_unique_name(db, association, name, None)
    granted = set(permissions)
    _check_grant(mine.role, granted)
    role = Role(association_id=association.id, name=name, description=description)
    for permission in PERMISSIONS:
        setattr(role, permission, permission in granted)
    db.add(role)
    await db.flush()
    if is_default:
        await _make_default(db, association, role)
    await db.flush()
    return role


async def update_role(
    db: AsyncSession,
    actor: User | None,
    association: Association,
    role: Role,
    *,
    name: str,
    description: str = "",
    permissions: Iterable[str] = (),
    is_default: bool = False,
) -> Role:
    """Change a role; the last manager's role keeps ``manage_association`` and one role stays the default."""
    mine = await require_permission(db, actor, association, "manage_roles")
    name, description = _check_role_fields(name, description)
    await _check_unique_name(db, association, name, role)
    granted = set(permissions)
    _check_grant(mine.role, granted | permissions_of(role))
    if role.is_default and not is_default:
        raise ValidationError(
            {"is_default": lazy_gettext("One role must be the default: make another role the default instead.")}
        )
    if role.manage_association and "manage_association" not in granted:
        await ensure_a_manager_remains(db, association, role_change=(role, False))
    role.name = name
    role.description = description
    for permission in PERMISSIONS:
        setattr(role, permission, permission in granted)
    if is_default:
        await _make_default(db, association, role)
    await db.flush()
    return role


async def delete_role(db: AsyncSession, actor: User | None, association: Association, role: Role) -> None:
    """Delete a role that no membership uses and that is not the default one."""
    mine = await require_permission(db, actor, association, "manage_roles")
    _check_grant(mine.role, permissions_of(role))
    if role.is_default:
        raise Conflict(lazy_gettext("The default role cannot be deleted; make another role the default first."))
    if (await role_usage(db, association)).get(role.id):
        raise Conflict(lazy_gettext("This role is given to members; give them another role first."))
    await db.delete(role)
    await db.flush()
