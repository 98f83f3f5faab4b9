"""What the person's archive is made from, for the page and the API alike: the domain's request, with the
verifiable record of all their approved time added (made by the federation layer)."""

from __future__ import annotations

import datetime as dt
import json

from federation import record
from federation.runtime import Federation
from instance.i18n import get_language
from instance.models import User
from instance.runtime import Instance
from instance.services import personal_data

FIRST_DAY = dt.date(2000, 1, 1)


async def archive_request(instance: Instance, federation: Federation, user_id: int) -> personal_data.ArchiveRequest:
    settings = instance.settings
    async with federation.sessions() as db:
        person = await db.get(User, user_id)
        document = await record.build_record(db, settings, person, FIRST_DAY, dt.date.today()) if person else None
        await db.commit()
    files = (("record.json", json.dumps(document, ensure_ascii=False, indent=2).encode()),) if document else ()
    return personal_data.ArchiveRequest(
        user_id, settings.instance_name, settings.base_url, get_language(), settings.default_hourly_rate, files
    )
