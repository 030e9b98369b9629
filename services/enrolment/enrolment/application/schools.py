"""Schools: register or change one, read them. The correspondent's address is a personal detail of
the school's staff: only the admin sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carnet_contracts.events import SchoolRegistered
from carnet_runtime.auth import Principal

from ..domain import School
from ..store import EnrolmentUnitOfWork
from .common import unknown_school


@dataclass(frozen=True)
class RegisterSchool:
    school_id: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class SchoolShown:
    """A school as the caller may see it: with its staff's details or without."""

    school: School
    with_staff: bool


def shown(actor: Principal, school: School) -> SchoolShown:
    return SchoolShown(school, with_staff=actor.role == "admin")


async def register_school(uow: EnrolmentUnitOfWork, actor: Principal, command: RegisterSchool) -> SchoolShown:
    """Creates or changes the school; SchoolRegistered only when something changed."""
    school = School.from_settings(command.school_id, command.settings)
    async with uow:
        before = await uow.schools.get(school.school_id, for_update=True)
        if before != school:
            await uow.schools.put(school)
            uow.publish(SchoolRegistered(**school.as_dict()))
    return shown(actor, school)


async def list_schools(uow: EnrolmentUnitOfWork, actor: Principal) -> list[SchoolShown]:
    async with uow:
        return [shown(actor, s) for s in await uow.schools.list()]


async def get_school(uow: EnrolmentUnitOfWork, actor: Principal, school_id: str) -> SchoolShown:
    async with uow:
        school = await uow.schools.get(school_id)
    if school is None:
        raise unknown_school(school_id)
    return shown(actor, school)
