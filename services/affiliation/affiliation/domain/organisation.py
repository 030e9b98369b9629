"""The affiliated organisation (Affiliate): identity, bank account, login, status."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fr import siret as stdnum_siret

from carnet_contracts.postal import Address
from carnet_runtime import Refusal, field_errors, invalid_fields

from .convention import ConventionProgress


class Activity(StrEnum):
    SPORT = "sport"
    CULTURE = "culture"
    LEISURE = "leisure"
    EDUCATION = "education"
    SCIENCE = "science"
    ENVIRONMENT = "environment"
    CITIZENSHIP = "citizenship"
    OTHER = "other"


class AffiliateStatus(StrEnum):
    INVITED = "invited"  # created by staff, account not yet activated
    CONVENTION_PENDING = "convention_pending"  # password set, convention not signed
    ACTIVE = "active"  # convention signed: may redeem
    SUSPENDED = "suspended"  # staff suspended it: may not redeem


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTCODE = re.compile(r"^\d{5}$")


def check_siret(text: str) -> str:
    """The SIRET in compact form (14 digits), or INVALID_SIRET."""
    try:
        return stdnum_siret.validate(text)
    except StdnumValidationError:
        raise Refusal(
            "INVALID_SIRET",
            "Le numéro SIRET de l'organisme n'est pas valide : vérifiez les 14 chiffres.",
            field_errors({"siret": "invalid"}),
        ) from None


def check_iban(text: str) -> str:
    """The IBAN in compact form, or INVALID_IBAN."""
    try:
        return IBAN(text).compact
    except (SchwiftyException, ValueError):
        raise Refusal(
            "INVALID_IBAN",
            "L'IBAN de l'organisme n'est pas valide : vérifiez le relevé d'identité bancaire.",
            field_errors({"iban": "invalid"}),
        ) from None


def bic_for(iban: str) -> str | None:
    """The bank's BIC when the IBAN's bank is in the registry; SEPA transfers work without it."""
    try:
        bic = IBAN(iban).bic
    except (SchwiftyException, ValueError):
        return None
    return str(bic) if bic else None


def masked_iban(iban: str) -> str:
    """What a person sees of a bank account: the country and the last four characters."""
    return f"{iban[:4]}{'*' * (len(iban) - 8)}{iban[-4:]}"


def iban_suffix(iban: str) -> str:
    """What the audit trail and the e-mails keep of an IBAN: its last four characters."""
    return iban[-4:]


@dataclass(frozen=True)
class Organisation:
    """What the département's staff type in when they affiliate an organisation."""

    name: str
    siret: str
    activity: Activity
    address: Address
    contact_email: str
    iban: str


def _problems_of_contact(contact_email: str) -> dict[str, str]:
    return {} if _EMAIL.match(contact_email.strip()) else {"contact_email": "invalid"}


def _problems_of_address(address: Address) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not _POSTCODE.match(address.postcode.strip()):
        problems["address.postcode"] = "five digits"
    if not address.city.strip():
        problems["address.city"] = "required"
    if not address.line.strip():
        problems["address.line"] = "required"
    return problems


def _activity(text: str, problems: dict[str, str]) -> Activity | None:
    try:
        return Activity(text)
    except ValueError:
        problems["activity"] = f"one of {', '.join(a.value for a in Activity)}"
        return None


def _clean(address: Address) -> Address:
    return Address(address.line.strip(), address.postcode.strip(), address.city.strip())


def register_organisation(
    *, name: str, siret: str, activity: str, address: Address, contact_email: str, iban: str
) -> Organisation:
    """A checked organisation, or the first refusal among its fields (SIRET, then IBAN, then the rest)."""
    compact_siret = check_siret(siret)
    compact_iban = check_iban(iban)
    problems: dict[str, str] = {}
    if not name.strip():
        problems["name"] = "required"
    checked_activity = _activity(activity, problems)
    problems |= _problems_of_contact(contact_email) | _problems_of_address(address)
    if problems:
        raise invalid_fields(problems)
    return Organisation(
        name=" ".join(name.split()),
        siret=compact_siret,
        activity=checked_activity,
        address=_clean(address),
        contact_email=contact_email.strip(),
        iban=compact_iban,
    )


@dataclass(frozen=True)
class DetailsChange:
    """What an organisation (or staff) changed of its details: the new organisation, the fields that
    differ, and the contact address it had before (the one told of a contact change)."""

    organisation: Organisation
    fields: tuple[str, ...]
    old_contact_email: str

    @property
    def contact_changed(self) -> bool:
        return "contact_email" in self.fields


def change_details(
    organisation: Organisation, *, contact_email: str | None = None, address: Address | None = None,
    activity: str | None = None,
) -> DetailsChange:
    """The organisation with the details given (each checked as at creation), or VALIDATION_ERROR
    naming every field in error. Name, SIRET and IBAN are not details: the IBAN changes by code."""
    problems: dict[str, str] = {}
    changes: dict[str, object] = {}
    if contact_email is not None:
        problems |= _problems_of_contact(contact_email)
        changes["contact_email"] = contact_email.strip()
    if address is not None:
        problems |= _problems_of_address(address)
        changes["address"] = _clean(address)
    if activity is not None:
        changes["activity"] = _activity(activity, problems)
    if problems:
        raise invalid_fields(problems)
    changed = tuple(f for f, value in changes.items() if getattr(organisation, f) != value)
    return DetailsChange(replace(organisation, **changes), changed, organisation.contact_email)


def _slug(text: str, limit: int = 20) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "affilie"


# Characters no one confuses when reading a login aloud or copying it from a letter: no 0/o, 1/l/i.
LOGIN_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
LOGIN_RANDOM_LENGTH = 5  # 31^5: about 28 million logins per name, so a login cannot be guessed from the name


def new_login(name: str) -> str:
    """A login that reads like the organisation's name and ends with a random part:
    `theatre-des-sources-k7m4p`. (Logins made before were the name and the end of the SIRET: they
    stay valid.)"""
    suffix = "".join(secrets.choice(LOGIN_ALPHABET) for _ in range(LOGIN_RANDOM_LENGTH))
    return f"{_slug(name)}-{suffix}"


def duplicate_siret() -> Refusal:
    return Refusal(
        "DUPLICATE_SIRET",
        "Un organisme affilié porte déjà ce numéro SIRET.",
        field_errors({"siret": "already affiliated"}),
    )


def affiliate_not_found() -> Refusal:
    return Refusal("AFFILIATE_NOT_FOUND", "Cet organisme affilié n'existe pas.")


@dataclass(frozen=True)
class Affiliate:
    """An affiliated organisation with its account and its progress through the convention."""

    affiliate_id: str
    organisation: Organisation
    bic: str | None
    login: str
    created_at: datetime
    status: AffiliateStatus = AffiliateStatus.INVITED
    password_hash: str | None = None
    account_activated_at: datetime | None = None
    convention: ConventionProgress = field(default_factory=ConventionProgress)
    signed_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.organisation.name

    @property
    def contact_email(self) -> str:
        return self.organisation.contact_email

    def with_details(self, change: DetailsChange) -> Affiliate:
        return replace(self, organisation=change.organisation)

    def with_iban(self, iban: str) -> Affiliate:
        """The new bank account (checked), with its bank's BIC when the registry knows it."""
        return replace(self, organisation=replace(self.organisation, iban=iban), bic=bic_for(iban))

    def with_password(self, password_hash: str, now: datetime, *, activating: bool) -> Affiliate:
        """A new password; the first one (from the activation link) opens the convention's steps."""
        if not activating:
            return replace(self, password_hash=password_hash)
        return replace(
            self,
            password_hash=password_hash,
            account_activated_at=self.account_activated_at or now,
            status=AffiliateStatus.CONVENTION_PENDING if self.status is AffiliateStatus.INVITED else self.status,
        )

    def reinvitable(self) -> None:
        """A new activation link is for an account never activated."""
        if self.status is not AffiliateStatus.INVITED:
            raise Refusal(
                "AFFILIATE_ALREADY_ACTIVATED",
                "Le compte de cet organisme est déjà activé : utilisez la réinitialisation du mot de passe.",
                {"status": self.status.value},
            )

    def signed(self, progress: ConventionProgress, at: datetime) -> Affiliate:
        """The convention signed: an organisation waiting for it becomes active (a suspended one stays so)."""
        status = AffiliateStatus.ACTIVE if self.status is AffiliateStatus.CONVENTION_PENDING else self.status
        return replace(self, convention=progress, status=status, signed_at=at)


@dataclass(frozen=True)
class StatusChange:
    """A move staff make between ACTIVE and SUSPENDED, and the refusal when the organisation is elsewhere."""

    action: str  # as the audit trail records it
    source: AffiliateStatus
    target: AffiliateStatus
    refusal_code: str
    refusal_message: str

    def applied_to(self, status: AffiliateStatus) -> AffiliateStatus:
        if status is not self.source:
            raise Refusal(self.refusal_code, self.refusal_message, {"status": status.value})
        return self.target


SUSPEND = StatusChange("suspend", AffiliateStatus.ACTIVE, AffiliateStatus.SUSPENDED, "AFFILIATE_NOT_ACTIVE",
                       "Seul un organisme affilié actif peut être suspendu.")
REINSTATE = StatusChange("reinstate", AffiliateStatus.SUSPENDED, AffiliateStatus.ACTIVE, "AFFILIATE_NOT_SUSPENDED",
                         "Seul un organisme affilié suspendu peut être rétabli.")
