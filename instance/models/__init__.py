"""Every table of the instance; importing this package registers them all on ``Base.metadata``."""

from instance.models.accounts import Handle, User
from instance.models.associations import (
    PERMISSIONS,
    Association,
    AssociationLogo,
    AssociationStatus,
    Membership,
    MembershipStatus,
    Role,
)
from instance.models.base import Base, utcnow
from instance.models.catalog import Category, Level, Project
from instance.models.entries import AnonymousLink, EntryStatus, TimeEntry
from instance.models.federation import ActorKey
from instance.models.mail import MailState, OutgoingMail
from instance.models.notifications import Notification

__all__ = [
    "PERMISSIONS",
    "ActorKey",
    "AnonymousLink",
    "Association",
    "AssociationLogo",
    "AssociationStatus",
    "Base",
    "Category",
    "EntryStatus",
    "Handle",
    "Level",
    "MailState",
    "Membership",
    "MembershipStatus",
    "Notification",
    "OutgoingMail",
    "Project",
    "Role",
    "TimeEntry",
    "User",
    "utcnow",
]
