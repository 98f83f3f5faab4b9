"""Association logos: checked by their content, re-encoded to PNG, kept in the database."""

from __future__ import annotations

import asyncio
import io
import warnings

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import Association, AssociationLogo, User, utcnow
from instance.services.access import require_permission
from instance.settings import Settings

ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})
MAX_DIMENSION = 2000
STORED_SIZE = 512  # logos are shown small: keep at most this many pixels on a side
CONTENT_TYPE = "image/png"


def _invalid(message: object) -> ValidationError:
    return ValidationError({"logo": message})


def reencode(data: bytes, max_bytes: int) -> bytes:
    """The image in ``data`` as a PNG of at most STORED_SIZE pixels a side; ValidationError if it is not
    a PNG, JPEG, WebP or GIF image, is larger than ``max_bytes`` or than MAX_DIMENSION pixels a side."""
    if len(data) > max_bytes:
        raise _invalid(lazy_gettext("The logo can weigh at most %(size)s kB.", size=max_bytes // 1024))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise _invalid(lazy_gettext("The logo must be a PNG, JPEG, WebP or GIF image."))
            width, height = image.size
            if width > MAX_DIMENSION or height > MAX_DIMENSION:
                raise _invalid(lazy_gettext("The logo can be at most 2000 × 2000 pixels."))
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as error:
        raise _invalid(lazy_gettext("This file is not an image we can read (PNG, JPEG, WebP or GIF).")) from error
    except Image.DecompressionBombError as error:
        raise _invalid(lazy_gettext("The logo can be at most 2000 × 2000 pixels.")) from error
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA")
    image.thumbnail((STORED_SIZE, STORED_SIZE))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


async def set_logo(
    db: AsyncSession, settings: Settings, actor: User | None, association: Association, data: bytes
) -> None:
    """Check, re-encode and store a new logo; needs ``manage_association``."""
    await require_permission(db, actor, association, "manage_association")
    png = await asyncio.to_thread(reencode, data, settings.max_logo_bytes)
    logo = await db.get(AssociationLogo, association.id)
    if logo is None:
        logo = AssociationLogo(association_id=association.id, content_type=CONTENT_TYPE, data=png)
        db.add(logo)
    logo.content_type = CONTENT_TYPE
    logo.data = png
    logo.updated_at = utcnow()
    association.has_logo = True
    await db.flush()


async def remove_logo(db: AsyncSession, actor: User | None, association: Association) -> None:
    await require_permission(db, actor, association, "manage_association")
    logo = await db.get(AssociationLogo, association.id)
    if logo is not None:
        await db.delete(logo)
    association.has_logo = False
    await db.flush()


async def logo_version(db: AsyncSession, association: Association) -> str:
    """A short token that changes with the logo, to put in its URL so that browsers may cache it for long."""
    if not association.has_logo:
        return ""
    stamp = await db.scalar(select(AssociationLogo.updated_at).where(AssociationLogo.association_id == association.id))
    return str(int(stamp.timestamp())) if stamp is not None else ""


async def logo_of(db: AsyncSession, association: Association) -> AssociationLogo | None:
    if not association.has_logo:
        return None
    return await db.get(AssociationLogo, association.id)
