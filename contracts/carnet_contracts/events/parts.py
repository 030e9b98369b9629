"""The parts events carry: who a pupil or a guardian is, as much as other services need."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

Level = Literal["6e", "5e", "4e", "3e"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Student(_Part):
    """The pupil as version 1 events carried it (retired: the birth date never leaves enrolment now)."""

    last_name: str
    first_name: str
    birth_date: date
    level: str


class Guardian(_Part):
    """The guardian as version 1 events carried it (retired: the phone never leaves enrolment now)."""

    last_name: str
    first_name: str
    email: str
    phone: str | None = None


class Pupil(_Part):
    """What other services need of a pupil: the name printed on the tickets, the level."""

    last_name: str
    first_name: str
    level: str


class GuardianContact(_Part):
    """What other services need of a guardian: whom to write to."""

    last_name: str
    first_name: str
    email: str
