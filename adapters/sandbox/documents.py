"""Shared facts and the user documents of the sandbox's generated data set.

Shaped after seed 003's resources where one fits (a user with a ``line``, seed 003's voicemail,
agents / queues / recording campaigns in ``call_center``); the others are plausible PBX
settings. Every builder takes a seeded ``random.Random`` and the group's shared facts, so a
document is a pure function of (seed, scope, entity). Group documents are in
group_documents.py; announcement documents are built in dataset.py (they carry audio digests).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]

FIRST_NAMES = (
    "Jean",
    "Alice",
    "Chuck",
    "Maria",
    "Omar",
    "Yuki",
    "Lena",
    "Paulo",
    "Aisha",
    "Nils",
    "Sofia",
    "Kwame",
    "Ines",
    "Ravi",
    "Greta",
    "Tomas",
    "Mei",
    "Ivan",
    "Zoe",
    "Hugo",
)
LAST_NAMES = (
    "Dupond",
    "Houet",
    "Norris",
    "Garcia",
    "Haddad",
    "Tanaka",
    "Berg",
    "Silva",
    "Okafor",
    "Larsen",
    "Rossi",
    "Mensah",
    "Moreau",
    "Iyer",
    "Keller",
    "Novak",
    "Chen",
    "Petrov",
)
CITIES = ("Paris", "Lyon", "Quebec", "Lisbon", "Berlin", "Oslo", "Madrid", "Tokyo", "Accra")
DEPARTMENTS = ("Sales", "Support", "Billing", "Front desk", "Logistics", "R&D", "Legal")
TIMEZONES = ("Europe/Paris", "America/Montreal", "Europe/Lisbon", "Europe/Berlin", "Asia/Tokyo")
LANGUAGES = ("fr_FR", "en_US", "pt_PT", "de_DE", "ja_JP", "es_ES")
CONTEXTS = ("default", "internal", "office", "sales", "support")
VENDORS = (("Yealink", "T46U"), ("Polycom", "VVX 450"), ("Snom", "D785"), ("Cisco", "8841"))
HOLIDAYS = ("New Year", "Labour Day", "Summer closing", "Inventory", "Christmas")


@dataclass(frozen=True)
class GroupFacts:
    """Seed-dependent facts of a group that several documents share (so that they agree)."""

    tenant_id: str
    group_id: str
    users: int
    context: str
    ext_base: int
    timezone: str
    language: str
    city: str

    @classmethod
    @functools.lru_cache(maxsize=1024)
    def generate(cls, seed: int, group_id: str, users: int) -> GroupFacts:
        """The facts of ``group_id`` under ``seed`` (kept: every entity document of the
        group asks for them, and they never change)."""
        rng = random.Random(f"{seed}|{group_id}|facts")
        return cls(
            tenant_id=group_id.split("-", 1)[0],
            group_id=group_id,
            users=users,
            context=f"{group_id}-{rng.choice(CONTEXTS)}",
            ext_base=rng.randint(1, 8) * 10_000,
            timezone=rng.choice(TIMEZONES),
            language=rng.choice(LANGUAGES),
            city=rng.choice(CITIES),
        )

    def user_ids(self) -> list[str]:
        """The generated user ids of the group (ids depend only on the counts)."""
        return [user_id(self.group_id, k) for k in range(1, self.users + 1)]


def user_id(group_id: str, index: int) -> str:
    """The id of the ``index``-th (1-based) generated user of a group."""
    return f"{group_id}-u{index:04d}"


@functools.lru_cache(maxsize=16_384)
def person(seed: int, user_id: str) -> tuple[str, str]:
    """The first and last name of a generated user (shared by its profile and voicemail;
    kept, as several documents of the user ask)."""
    rng = random.Random(f"{seed}|{user_id}|person")
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def file_entry_name(rng: random.Random, file_id: str) -> tuple[str, str]:
    """A display name and a description for an announcement file."""
    kind = rng.choice(("welcome", "closed", "holiday", "busy", "menu"))
    description = rng.choice(("Greeting", "Out of hours", "Holiday", "Unavailable"))
    return f"{kind}-{file_id.rsplit('-', 1)[1]}.wav", description


def phone(rng: random.Random) -> str:
    """A plausible external phone number."""
    return f"0{rng.randrange(100_000_000, 999_999_999)}"


UserBuilder = Callable[[random.Random, GroupFacts, str, int, tuple[str, str]], Document]
"""A user document builder: (rng, group facts, user id, user index, (first, last))."""


def person_entries(rng: random.Random, count: int, prefix: str) -> list[Document]:
    entries = []
    for i in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        entries.append(
            {
                "id": f"{prefix}{i}",
                "firstname": first,
                "lastname": last,
                "company": rng.choice(("Acme", "Globex", "Initech", "Umbrella", "")),
                "number": phone(rng),
                "mobile": phone(rng),
                "email": f"{first}.{last}@example.com".lower(),
            }
        )
    return entries


# -- user documents -----------------------------------------------------------------------------


def _user_profile(
    rng: random.Random, f: GroupFacts, uid: str, index: int, name: tuple[str, str]
) -> Document:
    first, last = name
    number = str(f.ext_base + index)
    return {
        "id": uid,
        "firstname": first,
        "lastname": last,
        "callerid": f"{first} {last}",
        "username": number,
        "password": f"{rng.randrange(10_000):04d}",
        "enableclient": rng.randrange(2),
        "musiconhold": "default",
        "outcallerid": number,
        "mobilephonenumber": phone(rng),
        "userfield": "",
        "timezone": f.timezone,
        "language": f.language,
        "description": "",
        "voicemailid": index,
        "agentid": None,
        "entityid": 1,
        "line": {"number": number, "context": f.context},
    }


def _user_phone_book(
    rng: random.Random, f: GroupFacts, uid: str, index: int, name: tuple[str, str]
) -> Document:
    return {"entries": person_entries(rng, rng.randint(0, 4), "pb-")}


def _services(
    rng: random.Random, f: GroupFacts, uid: str, index: int, name: tuple[str, str]
) -> Document:
    def forward() -> Document:
        return {"enabled": rng.random() < 0.3, "destination": phone(rng)}

    return {
        "dnd": rng.random() < 0.1,
        "call_waiting": rng.random() < 0.8,
        "call_recording": rng.random() < 0.2,
        "incallfilter": False,
        "ring_seconds": rng.choice((15, 20, 30)),
        "forwards": {"busy": forward(), "noanswer": forward(), "unconditional": forward()},
    }


def _voice_mail(
    rng: random.Random, f: GroupFacts, uid: str, index: int, name: tuple[str, str]
) -> Document:
    first, last = name
    return {
        "id": index,
        "email": f"{first}.{last}@example.com".lower(),
        "fullname": f"{first} {last}",
        "mailbox": str(f.ext_base + index),
        "password": f"{rng.randrange(10_000):04d}",
        "attach": rng.randrange(2),
        "skipcheckpass": rng.randrange(2),
        "deleteaftersend": rng.randrange(2),
        "language": f.language,
    }


USER_BUILDERS: dict[str, UserBuilder] = {
    "profile": _user_profile,
    "phone_book": _user_phone_book,
    "services": _services,
    "voice_mail": _voice_mail,
}
