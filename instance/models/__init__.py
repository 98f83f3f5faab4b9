"""Every table of the instance; importing this package registers them all on ``Base.metadata``."""

from instance.models import summary_upkeep  # noqa: F401 (its session events keep the summaries exact)
from instance.models.accounts import EndedSession, Handle, User
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
from instance.models.federation import (
    ActorKey,
    DeletedObject,
    Delivery,
    DeliveryState,
    FederatedDomain,
    Follow,
    FollowState,
    InboxItem,
    InboxState,
    RemoteActor,
)
from instance.models.mail import MailState, OutgoingMail
from instance.models.moves import AssociationMove, MoveState, MoveUpload
from instance.models.news import News
from instance.models.notifications import Notification
from instance.models.site import Announcement, Audience, Flag, FlagState, SiteSettings, WorkerHeartbeat
from instance.models.summaries import EntryMonthSummary, EntryVolunteerCount, EntryVolunteerSummary
from instance.models.tokens import ApiToken, TokenScope

__all__ = [
    "PERMISSIONS",
    "ActorKey",
    "Announcement",
    "AnonymousLink",
    "ApiToken",
    "Association",
    "AssociationLogo",
    "AssociationMove",
    "AssociationStatus",
    "Audience",
    "Base",
    "Category",
    "DeletedObject",
    "Delivery",
    "DeliveryState",
    "EndedSession",
    "EntryMonthSummary",
    "EntryStatus",
    "EntryVolunteerCount",
    "EntryVolunteerSummary",
    "FederatedDomain",
    "Flag",
    "FlagState",
    "Follow",
    "FollowState",
    "Handle",
    "InboxItem",
    "InboxState",
    "Level",
    "MailState",
    "Membership",
    "MembershipStatus",
    "MoveState",
    "MoveUpload",
    "News",
    "Notification",
    "OutgoingMail",
    "Project",
    "RemoteActor",
    "Role",
    "SiteSettings",
    "TimeEntry",
    "TokenScope",
    "User",
    "WorkerHeartbeat",
    "utcnow",
]
