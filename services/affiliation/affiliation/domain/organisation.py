"""The affiliated organisation (Affiliate): identity, bank account, status."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fr import siret as stdnum_siret

from .errors import Refusal, field_problems


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
            field_problems({"siret": "invalid"}),
        ) from None


def check_iban(text: str) -> str:
    """The IBAN in compact form, or INVALID_IBAN."""
    try:
        return IBAN(text).compact
    except (SchwiftyException, ValueError):
        raise Refusal(
            "INVALID_IBAN",
            "L'IBAN de l'organisme n'est pas valide : vérifiez le relevé d'identité bancaire.",
            field_problems({"iban": "invalid"}),
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
        raise Refusal(
            "VALIDATION_ERROR",
            "Certaines informations de l'organisme sont manquantes ou incorrectes.",
            field_problems(problems),
        )
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


def login_candidates(name: str, siret: str) -> list[str]:
    """Logins to try in order: short and readable first, then one unique by construction.

    The SIRET is unique per organisation, so the last candidate never collides.
    """
    slug = _slug(name)
    return [f"{slug}-{siret[-5:]}", f"{slug}-{siret}"]


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
