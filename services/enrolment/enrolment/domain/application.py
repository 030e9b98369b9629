"""An application for a pass: the form, the student's identity, the status and its history."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from carnet_contracts.postal import Address
from carnet_runtime import Refusal, invalid_fields

from .campaign import Campaign
from .email import deliverable_email
from .text import fold_name, normalise_level, tidy_name

NAME_MAX = 100
REASON_MAX = 500
_POSTCODE = re.compile(r"\d{5}")
_PHONE = re.compile(r"\+?[0-9]{9,15}")


@dataclass(frozen=True, order=True)
class StudentKey:
    """Who a student is for the one-pass-per-student rule: folded names and birth date."""

    last_name: str
    first_name: str
    birth_date: date

    @classmethod
    def of(cls, last_name: str, first_name: str, birth_date: date) -> StudentKey:
        return cls(fold_name(last_name), fold_name(first_name), birth_date)

    def __str__(self) -> str:
        return f"{self.last_name}|{self.first_name}|{self.birth_date.isoformat()}"


@dataclass(frozen=True)
class Student:
    last_name: str
    first_name: str
    birth_date: date
    level: str

    @property
    def key(self) -> StudentKey:
        return StudentKey.of(self.last_name, self.first_name, self.birth_date)


@dataclass(frozen=True)
class Guardian:
    """The guardian as the form names them; the phone never leaves this service."""

    last_name: str
    first_name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True)
class ApplicationForm:
    """What a family (or a correspondent on paper) fills in, checked field by field."""

    campaign_id: str
    school_id: str
    student: Student
    guardian: Guardian
    address: Address

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ApplicationForm:
        """Reads the submitted body; every malformed field is reported at once (VALIDATION_ERROR)."""
        errors: dict[str, str] = {}

        def section(name: str) -> Mapping[str, Any]:
            value = raw.get(name)
            if not isinstance(value, Mapping):
                errors[name] = "champ obligatoire"
                return {}
            return value

        def text(src: Mapping[str, Any], path: str, key: str, *, required: bool = True, maximum: int = NAME_MAX) -> str:
            value = src.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                if required:
                    errors[path] = "champ obligatoire"
                return ""
            if not isinstance(value, str):
                errors[path] = "texte attendu"
                return ""
            value = tidy_name(value)
            if len(value) > maximum:
                errors[path] = f"{maximum} caractères au plus"
            return value

        campaign_id = text(raw, "campaign_id", "campaign_id", maximum=64)
        school_id = text(raw, "school_id", "school_id", maximum=64)

        s = section("student")
        last_name = text(s, "student.last_name", "last_name")
        first_name = text(s, "student.first_name", "first_name")
        level = text(s, "student.level", "level", maximum=20)
        birth_raw = s.get("birth_date")
        birth_date: date | None = None
        if isinstance(birth_raw, date) and not isinstance(birth_raw, datetime):
            birth_date = birth_raw
        elif birth_raw is None or (isinstance(birth_raw, str) and not birth_raw.strip()):
            errors["student.birth_date"] = "champ obligatoire"
        else:
            try:
                birth_date = date.fromisoformat(str(birth_raw).strip())
            except ValueError:
                errors["student.birth_date"] = "date attendue au format aaaa-mm-jj"

        g = section("guardian")
        g_last = text(g, "guardian.last_name", "last_name")
        g_first = text(g, "guardian.first_name", "first_name")
        email = text(g, "guardian.email", "email", maximum=254)
        if email:
            normalised, problem = deliverable_email(email)
            if problem:
                errors["guardian.email"] = problem
            email = normalised or ""
        phone = text(g, "guardian.phone", "phone", required=False, maximum=30)
        if phone:
            digits = re.sub(r"[\s.\-()]", "", phone)
            if not _PHONE.fullmatch(digits):
                errors["guardian.phone"] = "numéro de téléphone invalide"

        a = section("address")
        line = text(a, "address.line", "line", maximum=200)
        postcode = text(a, "address.postcode", "postcode", maximum=10)
        if postcode and not _POSTCODE.fullmatch(postcode.replace(" ", "")):
            errors["address.postcode"] = "code postal à 5 chiffres attendu"
        city = text(a, "address.city", "city")

        if errors:
            raise invalid_fields(errors)
        assert birth_date is not None
        return cls(
            campaign_id=campaign_id,
            school_id=school_id,
            student=Student(last_name, first_name, birth_date, level),
            guardian=Guardian(g_last, g_first, email, phone or None),
            address=Address(line, postcode.replace(" ", ""), city),
        )

    def check_eligible(self, campaign: Campaign, now: datetime) -> ApplicationForm:
        """Refuses what the département's rules refuse; the form with its level spelled as the campaign spells it."""
        campaign.calendar.check_enrolment_open(now)
        campaign.check_resident(self.address.postcode)
        level = campaign.check_level(self.student.level)
        campaign.check_birth_date(self.student.birth_date)
        return replace(self, student=replace(self.student, level=level))

    def as_dict(self) -> dict[str, Any]:
        st, gu, ad = self.student, self.guardian, self.address
        return {
            "campaign_id": self.campaign_id,
            "school_id": self.school_id,
            "student": {
                "last_name": st.last_name,
                "first_name": st.first_name,
                "birth_date": st.birth_date.isoformat(),
                "level": normalise_level(st.level),
            },
            "guardian": {"last_name": gu.last_name, "first_name": gu.first_name, "email": gu.email, "phone": gu.phone},
            "address": {"line": ad.line, "postcode": ad.postcode, "city": ad.city},
        }


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    VALIDATED = "validated"
    REJECTED = "rejected"
    WALLET_READY = "wallet_ready"


@dataclass(frozen=True)
class StatusChange:
    status: ApplicationStatus
    at: datetime


def parse_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise invalid_fields({"reason": "le motif du refus est obligatoire"})
    reason = " ".join(reason.split())
    if len(reason) > REASON_MAX:
        raise invalid_fields({"reason": f"{REASON_MAX} caractères au plus"})
    return reason


@dataclass(frozen=True)
class ApplicationProgress:
    """The life of an application: submitted, then validated or rejected, then wallet_ready.

    Each step returns a new value with one more entry in the history; a refused step raises and
    leaves the value as it was.
    """

    status: ApplicationStatus
    history: tuple[StatusChange, ...]
    rejection_reason: str | None = None
    wallet_id: str | None = None

    @classmethod
    def submitted(cls, at: datetime) -> ApplicationProgress:
        return cls(ApplicationStatus.SUBMITTED, (StatusChange(ApplicationStatus.SUBMITTED, at),))

    def _pending(self) -> None:
        if self.status is not ApplicationStatus.SUBMITTED:
            raise Refusal(
                "APPLICATION_NOT_PENDING",
                "Cette inscription a déjà été traitée par le collège : elle ne peut plus être validée ni refusée.",
                {"status": self.status.value},
            )

    def _to(self, status: ApplicationStatus, at: datetime, **changes: Any) -> ApplicationProgress:
        return replace(self, status=status, history=self.history + (StatusChange(status, at),), **changes)

    def validate(self, at: datetime) -> ApplicationProgress:
        self._pending()
        return self._to(ApplicationStatus.VALIDATED, at)

    def reject(self, reason: str, at: datetime) -> ApplicationProgress:
        self._pending()
        return self._to(ApplicationStatus.REJECTED, at, rejection_reason=parse_reason(reason))

    def wallet_ready(self, wallet_id: str, at: datetime) -> ApplicationProgress:
        """Records the wallet the wallet service created; the same wallet announced again changes nothing."""
        if self.status is ApplicationStatus.WALLET_READY:
            if self.wallet_id == wallet_id:
                return self
            raise Refusal(
                "WALLET_ALREADY_RECORDED",
                "Un porte-monnaie électronique a déjà été créé pour cette inscription.",
                {"wallet_id": self.wallet_id},
            )
        if self.status is not ApplicationStatus.VALIDATED:
            raise Refusal(
                "APPLICATION_NOT_VALIDATED",
                "Cette inscription n'a pas été validée par le collège : aucun porte-monnaie ne peut lui être associé.",
                {"status": self.status.value},
            )
        return self._to(ApplicationStatus.WALLET_READY, at, wallet_id=wallet_id)

    @property
    def submitted_at(self) -> datetime:
        return self.history[0].at

    @property
    def validated_at(self) -> datetime | None:
        return next((c.at for c in self.history if c.status is ApplicationStatus.VALIDATED), None)


@dataclass(frozen=True)
class Application:
    """An application as stored: the form, its progress, who made it and how; `on_roster` says
    whether its student is on the school's latest roster. Once anonymised (the campaign's purge or the
    guardian's erasure) the form keeps only the campaign, the school and the level: its names, birth
    date, contact and address are gone (empty), and the application can no longer be decided."""

    application_id: str
    form: ApplicationForm
    progress: ApplicationProgress
    family_sub: str | None
    channel: str
    on_roster: bool = False
    anonymised_at: datetime | None = None

    def check_decidable(self) -> None:
        if self.anonymised_at is not None:
            raise Refusal(
                "APPLICATION_ANONYMISED",
                "Cette inscription a été effacée (à la demande de la famille ou à la fin de la campagne) : "
                "elle ne peut plus être validée ni refusée.",
                {"anonymised_at": self.anonymised_at.isoformat()},
            )
