"""Builders of the sandbox's generated group documents, one per GROUP_ENTITIES name.

``call_center`` holds seed 003's agents, queues and recording campaigns; the others are
plausible PBX settings that reference each other where a real PBX would (the IVR greets with a
group announcement, the main schedule closes onto one, pickup groups list generated users).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from .documents import (
    DEPARTMENTS,
    FIRST_NAMES,
    HOLIDAYS,
    LAST_NAMES,
    VENDORS,
    Document,
    GroupFacts,
    person_entries,
    phone,
)


def _group_profile(rng: random.Random, f: GroupFacts) -> Document:
    dept = rng.choice(DEPARTMENTS)
    return {
        "id": f.group_id,
        "tenant_id": f.tenant_id,
        "name": f"{f.city} {dept}",
        "description": f"{dept} team in {f.city}",
        "timezone": f.timezone,
        "language": f.language,
        "context": f.context,
        "extension_range": {"start": str(f.ext_base + 1), "end": str(f.ext_base + 9999)},
        "calling_line_id": {"name": f"{f.city} {dept}", "number": phone(rng)},
        "max_users": max(f.users, 1) * rng.choice((2, 4, 8)),
    }


def _queue(rng: random.Random, f: GroupFacts, i: int) -> Document:
    name = rng.choice(DEPARTMENTS).lower().replace(" ", "_").replace("&", "n")
    return {
        "id": i,
        "name": f"{name}_{i}",
        "displayname": f"{name.title()} {i}",
        "number": str(f.ext_base + 9000 + i),
        "context": f.context,
        "data_quality": 0,
        "hitting_callee": 0,
        "hitting_caller": 0,
        "retries": rng.randrange(4),
        "ring": rng.randrange(2),
        "transfer_user": 0,
        "transfer_call": rng.randrange(2),
        "write_caller": 0,
        "write_calling": 0,
        "url": "",
        "announceoverride": "",
        "timeout": rng.choice((0, 15, 30, 60)),
        "preprocess_subroutine": None,
        "announce_holdtime": rng.randrange(2),
        "waittime": rng.choice((0, 30, 120)),
        "waitratio": 0,
    }


def _call_center(rng: random.Random, f: GroupFacts) -> Document:
    queues = [_queue(rng, f, i) for i in range(1, rng.randint(1, 3) + 1)]
    agents = [
        {
            "id": i,
            "autologoff": rng.choice((0, 60)),
            "group": None,
            "language": f.language,
            "firstname": rng.choice(FIRST_NAMES),
            "passwd": "",
            "lastname": rng.choice(LAST_NAMES),
            "number": str(f.ext_base + 8000 + i),
            "context": f.context,
            "numgroup": 1,
            "preprocess_subroutine": None,
            "description": "",
        }
        for i in range(1, rng.randint(2, 5) + 1)
    ]
    start = date(2024, 1, 1) + timedelta(days=rng.randrange(300))
    campaigns = [
        {
            "id": "1",
            "campaign_name": f"{queues[0]['name']}_quality",
            "start_date": f"{start.isoformat()} 08:00:00",
            "end_date": f"{(start + timedelta(days=30)).isoformat()} 18:00:00",
            "queue_id": str(queues[0]["id"]),
            "activated": rng.choice(("True", "False")),
            "base_filename": f"{queues[0]['name']}-file-",
        }
    ]
    return {"agents": agents, "queues": queues, "recording_campaigns": campaigns}


def _ivr(rng: random.Random, f: GroupFacts) -> Document:
    ivrs = []
    for i in range(1, rng.randint(1, 2) + 1):
        menu = [
            {
                "digit": str(d),
                "action": rng.choice(("queue", "user", "voicemail", "hangup")),
                "destination": str(f.ext_base + rng.randrange(1, max(f.users, 1) + 1)),
            }
            for d in range(1, rng.randint(2, 5) + 1)
        ]
        ivrs.append(
            {
                "id": f"ivr-{i}",
                "name": f"{f.city} menu {i}",
                "number": str(f.ext_base + 7000 + i),
                "context": f.context,
                "greeting_file": f"{f.group_id}-ann-01",
                "timeout": rng.choice((5, 10, 15)),
                "max_tries": rng.randint(1, 3),
                "menu": menu,
            }
        )
    return {"ivrs": ivrs}


def _music_on_hold(rng: random.Random, f: GroupFacts) -> Document:
    return {
        "classes": [
            {
                "name": name,
                "mode": "files",
                "directory": f"/moh/{f.group_id}/{name}",
                "sort": rng.choice(("random", "alpha")),
            }
            for name in ("default", rng.choice(("jazz", "classic", "ambient")))
        ]
    }


def _phone_book(rng: random.Random, f: GroupFacts) -> Document:
    return {"entries": person_entries(rng, rng.randint(2, 6), "pb-")}


def _call_pickup(rng: random.Random, f: GroupFacts) -> Document:
    users = f.user_ids()
    members = sorted(rng.sample(users, min(len(users), rng.randint(1, 4)))) if users else []
    return {
        "groups": [
            {
                "id": 1,
                "name": f"{f.city} pickup",
                "number": str(f.ext_base + 6001),
                "members": members,
            }
        ]
    }


def _time_schedule(rng: random.Random, f: GroupFacts) -> Document:
    opening = rng.choice(("07:30", "08:00", "09:00"))
    closing = rng.choice(("17:00", "18:00", "19:30"))
    return {
        "schedules": [
            {
                "id": 1,
                "name": "Office hours",
                "timezone": f.timezone,
                "periods": [
                    {"weekdays": "1-5", "hours": f"{opening}-{closing}"},
                    {"weekdays": "6", "hours": rng.choice(("", "09:00-12:00"))},
                ],
            }
        ]
    }


def _calendar_schedule(rng: random.Random, f: GroupFacts) -> Document:
    events = [
        {
            "name": name,
            "date": (date(2025, 1, 1) + timedelta(days=rng.randrange(365))).isoformat(),
            "all_day": rng.random() < 0.8,
        }
        for name in rng.sample(HOLIDAYS, rng.randint(1, len(HOLIDAYS)))
    ]
    return {"calendars": [{"id": 1, "name": f"{f.city} holidays", "events": events}]}


def _access_devices(rng: random.Random, f: GroupFacts) -> Document:
    devices = []
    for uid in f.user_ids()[: rng.randint(1, 5)]:
        vendor, model = rng.choice(VENDORS)
        mac = ":".join(f"{rng.randrange(256):02x}" for _ in range(6))
        devices.append(
            {
                "id": f"dev-{uid}",
                "mac": mac,
                "vendor": vendor,
                "model": model,
                "protocol": "SIP",
                "user_id": uid,
            }
        )
    return {"devices": devices}


def _fax_messaging(rng: random.Random, f: GroupFacts) -> Document:
    return {
        "enabled": rng.random() < 0.5,
        "number": str(f.ext_base + 5000),
        "email": f"fax-{f.group_id}@example.com",
        "resolution": rng.choice(("fine", "standard")),
        "retries": rng.randint(0, 3),
    }


def _main_schedule(rng: random.Random, f: GroupFacts) -> Document:
    return {
        "schedule_id": 1,
        "open_destination": {"type": "ivr", "target": "ivr-1"},
        "closed_destination": {
            "type": "announcement",
            "target": f"{f.group_id}-ann-{rng.randint(1, 2):02d}",
        },
    }


def _time_based_forwarding(rng: random.Random, f: GroupFacts) -> Document:
    return {
        "rules": [
            {"id": i, "schedule_id": 1, "enabled": rng.random() < 0.7, "destination": phone(rng)}
            for i in range(1, rng.randint(1, 3) + 1)
        ]
    }


GROUP_BUILDERS: dict[str, Callable[[random.Random, GroupFacts], Document]] = {
    "profile": _group_profile,
    "ivr": _ivr,
    "call_center": _call_center,
    "music_on_hold": _music_on_hold,
    "phone_book": _phone_book,
    "call_pickup": _call_pickup,
    "time_schedule": _time_schedule,
    "calendar_schedule": _calendar_schedule,
    "access_devices": _access_devices,
    "fax_messaging": _fax_messaging,
    "main_schedule": _main_schedule,
    "time_based_forwarding": _time_based_forwarding,
}
