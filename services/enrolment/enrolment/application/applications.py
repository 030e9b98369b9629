"""Applications for a pass: submitted online by a family or on paper by the school's
correspondent, read by whom may read them, validated or rejected by the school, and marked
wallet_ready when the wallet service announces the wallet."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carnet_contracts.events import (
    ApplicationRejected,
    ApplicationSubmitted,
    Guardian as GuardianPart,
    PassGranted,
    Student as StudentPart,
    WalletCreated,
)
from carnet_runtime import Refusal, invalid_fields
from carnet_runtime.auth import Principal, forbidden

from ..domain import Application, ApplicationForm, ApplicationProgress, ApplicationStatus, Campaign
from ..store import EnrolmentUnitOfWork
from .common import check_correspondent_of, unknown_application, unknown_campaign, unknown_school


@dataclass(frozen=True)
class SubmitApplication:
    """A family's application (API.md's body, as sent: the domain names every wrong field)."""

    form: Mapping[str, Any]


@dataclass(frozen=True)
class SubmitPaperApplication:
    """A paper application the school's correspondent enters; `school_id` may be left out of the form."""

    school_id: str
    form: Mapping[str, Any]


@dataclass(frozen=True)
class RejectApplication:
    application_id: str
    reason: str | None


async def submit_online(uow: EnrolmentUnitOfWork, actor: Principal, command: SubmitApplication, *,
                        now: datetime) -> Application:
    return await _submit(uow, command.form, family_sub=actor.sub, channel="online", entered_by=None, now=now)


async def submit_on_paper(uow: EnrolmentUnitOfWork, actor: Principal, command: SubmitPaperApplication, *,
                          now: datetime) -> Application:
    check_correspondent_of(actor, command.school_id)
    form = dict(command.form)
    if form.get("school_id") in (None, ""):
        form["school_id"] = command.school_id
    elif form["school_id"] != command.school_id:
        raise invalid_fields({"school_id": "doit être le collège du correspondant"})
    return await _submit(uow, form, family_sub=None, channel="paper", entered_by=actor.sub, now=now)


async def _submit(uow: EnrolmentUnitOfWork, raw: Mapping[str, Any], *, family_sub: str | None, channel: str,
                  entered_by: str | None, now: datetime) -> Application:
    """Checks in API.md's order: fields, campaign, school, window, residence, level, birth date,
    one live application per student (also held by a unique index against racing requests)."""
    form = ApplicationForm.parse(raw)
    async with uow:
        campaign = await uow.campaigns.get(form.campaign_id)
        if campaign is None:
            raise unknown_campaign(form.campaign_id)
        if await uow.schools.get(form.school_id) is None:
            raise unknown_school(form.school_id)
        form = form.check_eligible(campaign, now)
        if await uow.applications.student_already_applied(campaign.campaign_id, form.student.key):
            raise _duplicate(campaign)
        application = Application(str(uuid.uuid4()), form, ApplicationProgress.submitted(now), family_sub, channel)
        if not await uow.applications.add(application, entered_by=entered_by):
            raise _duplicate(campaign)
        uow.publish(ApplicationSubmitted(
            application_id=application.application_id, campaign_id=form.campaign_id, school_id=form.school_id,
            family_sub=family_sub, channel=channel, student=_student(form), guardian=_guardian(form), submitted_at=now,
        ))
        stored = await uow.applications.get(application.application_id)
    assert stored is not None
    return stored


def _may_read(actor: Principal, application: Application) -> bool:
    if actor.role == "admin":
        return True
    if actor.role == "correspondent":
        return actor.school_id == application.form.school_id
    if actor.role == "family":
        return application.family_sub is not None and application.family_sub == actor.sub
    return False


async def get_application(uow: EnrolmentUnitOfWork, actor: Principal, application_id: str) -> Application:
    async with uow:
        found = await uow.applications.get(application_id)
    if found is None:
        raise unknown_application(application_id)
    if not _may_read(actor, found):
        raise forbidden()
    return found


async def list_applications(uow: EnrolmentUnitOfWork, actor: Principal) -> list[Application]:
    """A family's own applications; a correspondent's school's."""
    async with uow:
        if actor.role == "family":
            return await uow.applications.of_family(actor.sub)
        if actor.role == "correspondent" and actor.school_id:
            return await uow.applications.of_school(actor.school_id, None)
    return []


async def school_applications(uow: EnrolmentUnitOfWork, actor: Principal, school_id: str,
                              status: ApplicationStatus | None) -> list[Application]:
    check_correspondent_of(actor, school_id, admin_too=True)
    async with uow:
        if await uow.schools.get(school_id) is None:
            raise unknown_school(school_id)
        return await uow.applications.of_school(school_id, status)


async def validate_application(uow: EnrolmentUnitOfWork, actor: Principal, application_id: str, *,
                               now: datetime) -> Application:
    """The school's correspondent validates: the pass is granted (PassGranted carries what the wallet needs)."""
    async with uow:
        found = await _decidable(uow, actor, application_id)
        await grant_pass(uow, found, actor, now)
        decided = await uow.applications.get(application_id)
    assert decided is not None
    return decided


async def reject_application(uow: EnrolmentUnitOfWork, actor: Principal, command: RejectApplication, *,
                             now: datetime) -> Application:
    async with uow:
        found = await _decidable(uow, actor, command.application_id)
        progress = found.progress.reject(command.reason or "", now)
        await uow.applications.save_progress(found, progress, decided_by=actor.sub)
        form = found.form
        uow.publish(ApplicationRejected(
            application_id=found.application_id, campaign_id=form.campaign_id, school_id=form.school_id,
            family_sub=found.family_sub, student_first_name=form.student.first_name, guardian=_guardian(form),
            reason=progress.rejection_reason or "", rejected_at=now,
        ))
        decided = await uow.applications.get(command.application_id)
    assert decided is not None
    return decided


async def _decidable(uow: EnrolmentUnitOfWork, actor: Principal, application_id: str) -> Application:
    found = await uow.applications.get(application_id, for_update=True)
    if found is None:
        raise unknown_application(application_id)
    check_correspondent_of(actor, found.form.school_id)
    return found


async def grant_pass(uow: EnrolmentUnitOfWork, found: Application, actor: Principal, now: datetime) -> None:
    """Inside the caller's unit of work: validates the application loaded under its lock and publishes PassGranted."""
    progress = found.progress.validate(now)
    campaign = await uow.campaigns.get(found.form.campaign_id)
    assert campaign is not None  # an application references its campaign
    await uow.applications.save_progress(found, progress, decided_by=actor.sub)
    uow.publish(_pass_granted(found, campaign, now))


async def record_wallet(uow: EnrolmentUnitOfWork, event: WalletCreated) -> None:
    """The family's progress shows wallet_ready with the wallet id once its wallet exists. A wallet
    for an unknown or unvalidated application is a contract breach: refused, it is dead-lettered."""
    async with uow:
        found = await uow.applications.get(event.application_id, for_update=True)
        if found is None:
            raise unknown_application(event.application_id)
        progress = found.progress.wallet_ready(event.wallet_id, event.created_at)
        if progress is not found.progress:
            await uow.applications.save_progress(found, progress)


def _pass_granted(found: Application, campaign: Campaign, now: datetime) -> PassGranted:
    return PassGranted(
        application_id=found.application_id, campaign_id=campaign.campaign_id, campaign_label=campaign.label,
        school_id=found.form.school_id, family_sub=found.family_sub, student=_student(found.form),
        guardian=_guardian(found.form), allowance_cents=campaign.allowance_cents,
        tickets_per_pass=campaign.tickets_per_pass, ticket_min_cents=campaign.ticket_min_cents,
        ticket_max_cents=campaign.ticket_max_cents, pass_valid_until=campaign.calendar.pass_valid_until,
        validated_at=now,
    )


def _student(form: ApplicationForm) -> StudentPart:
    st = form.student
    return StudentPart(last_name=st.last_name, first_name=st.first_name, birth_date=st.birth_date, level=st.level)


def _guardian(form: ApplicationForm) -> GuardianPart:
    gu = form.guardian
    return GuardianPart(last_name=gu.last_name, first_name=gu.first_name, email=gu.email, phone=gu.phone)


def _duplicate(campaign: Campaign) -> Refusal:
    return Refusal(
        "DUPLICATE_APPLICATION",
        "Une inscription au Pass a déjà été enregistrée pour ce collégien pour cette campagne : "
        "une seule inscription par collégien est possible.",
        {"campaign_id": campaign.campaign_id},
    )
