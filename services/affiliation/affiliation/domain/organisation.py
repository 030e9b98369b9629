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


@dataclass(frozen=True)
class Address:
    line: str
    postcode: str
    city: str


@dataclass(frozen=True)
class Organisation:
    """What the département's staff type in when they affiliate an organisation."""

    name: str
    siret: str
    activity: Activity
    address: Address
    contact_email: str
    iban: str


def register_organisation(
    *, name: str, siret: str, activity: str, address: Address, contact_email: str, iban: str
) -> Organisation:
    """A checked organisation, or the first refusal among its fields (SIRET, then IBAN, then the rest)."""
    compact_siret = check_siret(siret)
    compact_iban = check_iban(iban)
    problems: dict[str, str] = {}
    if not name.strip():
        problems["name"] = "required"
    try:
        checked_activity = Activity(activity)
    except ValueError:
        problems["activity"] = f"one of {', '.join(a.value for a in Activity)}"
    if not _EMAIL.match(contact_email.strip()):
        problems["contact_email"] = "invalid"
    if not _POSTCODE.match(address.postcode.strip()):
        problems["address.postcode"] = "five digits"
    if not address.city.strip():
        problems["address.city"] = "required"
    if not address.line.strip():
        problems["address.line"] = "required"
    if problems:
        raise invalid_fields(problems)
    return Organisation(
        name=" ".join(name.split()),
        siret=compact_siret,
        activity=checked_activity,
        address=Address(address.line.strip(), address.postcode.strip(), address.city.strip()),
        contact_email=contact_email.strip(),
        iban=compact_iban,
    )


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


def suspend(status: AffiliateStatus) -> AffiliateStatus:
    if status is not AffiliateStatus.ACTIVE:
        raise Refusal(
            "AFFILIATE_NOT_ACTIVE",
            "Seul un organisme affilié actif peut être suspendu.",
            {"status": status.value},
        )
    return AffiliateStatus.SUSPENDED


def reinstate(status: AffiliateStatus) -> AffiliateStatus:
    if status is not AffiliateStatus.SUSPENDED:
        raise Refusal(
            "AFFILIATE_NOT_SUSPENDED",
            "Seul un organisme affilié suspendu peut être rétabli.",
            {"status": status.value},
        )
    return AffiliateStatus.ACTIVE
