"""A campaign: its calendar in Europe/Paris days, its amounts and who is eligible."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from carnet_runtime import Refusal, field_errors, invalid_fields

from .text import COLLEGE_LEVELS, french_date, levels_in_words, normalise_level

PARIS = ZoneInfo("Europe/Paris")

# A collégien is about 11 entering 6e and 14 entering 3e; a year or two of advance or delay,
# plus a margin, gives the range below. Outside it, the date is almost surely mistyped.
YOUNGEST_AGE = 9
OLDEST_AGE = 17
SCHOOL_YEAR_START_MONTH = 9


def paris_day(instant: datetime) -> date:
    """The calendar day in Paris at that instant (an aware datetime)."""
    if instant.tzinfo is None:
        raise ValueError("an instant must carry its time zone")
    return instant.astimezone(PARIS).date()


def age_on(birth_date: date, day: date) -> int:
    """Full years of age on that day."""
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


@dataclass(frozen=True)
class CampaignCalendar:
    """The dates of a campaign, each a Europe/Paris day, inclusive."""

    enrolment_opens: date
    enrolment_closes: date
    pass_valid_until: date
    reimbursement_deadline: date

    def __post_init__(self) -> None:
        order = [
            ("enrolment_opens", self.enrolment_opens),
            ("enrolment_closes", self.enrolment_closes),
            ("pass_valid_until", self.pass_valid_until),
            ("reimbursement_deadline", self.reimbursement_deadline),
        ]
        for (earlier_name, earlier), (later_name, later) in zip(order, order[1:]):
            if later < earlier:
                raise Refusal(
                    "CAMPAIGN_CALENDAR_INVALID",
                    "Le calendrier de la campagne n'est pas dans l'ordre : ouverture des inscriptions, "
                    "fin des inscriptions, fin de validité des Pass, puis fin des remboursements aux affiliés.",
                    field_errors({later_name: f"doit être au plus tôt le {earlier.isoformat()} ({earlier_name})"}),
                )

    def enrolment_open_on(self, day: date) -> bool:
        return self.enrolment_opens <= day <= self.enrolment_closes

    def check_enrolment_open(self, instant: datetime) -> None:
        """Refuses an application made outside the enrolment window (whole Paris days)."""
        if not self.enrolment_open_on(paris_day(instant)):
            raise Refusal(
                "ENROLMENT_CLOSED",
                f"Les inscriptions sont ouvertes du {french_date(self.enrolment_opens)} "
                f"au {french_date(self.enrolment_closes)} : la demande ne peut pas être enregistrée en dehors de cette période.",
                {
                    "enrolment_opens": self.enrolment_opens.isoformat(),
                    "enrolment_closes": self.enrolment_closes.isoformat(),
                },
            )

    @property
    def school_year_start(self) -> date:
        """1 September of the school year the campaign serves.

        That is the first 1 September between the opening of enrolment and the end of the pass's
        validity (the 2014-2015 campaign opens 1 June 2014: 1 September 2014). A campaign that
        holds no 1 September serves the school year under way when enrolment opens.
        """
        for year in range(self.enrolment_opens.year, self.pass_valid_until.year + 1):
            start = date(year, SCHOOL_YEAR_START_MONTH, 1)
            if self.enrolment_opens <= start <= self.pass_valid_until:
                return start
        opens = self.enrolment_opens
        year = opens.year if opens.month >= SCHOOL_YEAR_START_MONTH else opens.year - 1
        return date(year, SCHOOL_YEAR_START_MONTH, 1)


_PREFIX = re.compile(r"\d{1,5}")
_POSTCODE = re.compile(r"\d{5}")


@dataclass(frozen=True)
class Campaign:
    """What the département sets for one campaign; every date and amount lives here, not in code."""

    campaign_id: str
    label: str
    calendar: CampaignCalendar
    allowance_cents: int = 7000
    tickets_per_pass: int = 7
    ticket_min_cents: int = 500
    ticket_max_cents: int = 7000
    eligible_postcode_prefixes: tuple[str, ...] = ("92",)
    eligible_levels: tuple[str, ...] = COLLEGE_LEVELS
    redemption_cancel_grace_minutes: int = 30

    @classmethod
    def from_settings(cls, campaign_id: str, settings: Mapping[str, Any]) -> Campaign:
        """Builds a campaign from an admin's settings, reporting every wrong field at once."""
        errors: dict[str, str] = {}

        def integer(name: str, default: int, minimum: int, maximum: int) -> int:
            value = settings.get(name, default)
            if value is None:
                value = default
            if isinstance(value, bool) or not isinstance(value, int):
                errors[name] = "doit être un nombre entier"
                return default
            if not minimum <= value <= maximum:
                errors[name] = f"doit être compris entre {minimum} et {maximum}"
            return value

        def day(name: str) -> date | None:
            value = settings.get(name)
            if isinstance(value, date) and not isinstance(value, datetime):
                return value
            if isinstance(value, str):
                try:
                    return date.fromisoformat(value)
                except ValueError:
                    pass
            errors[name] = "date attendue au format aaaa-mm-jj" if value is not None else "champ obligatoire"
            return None

        label = settings.get("label")
        if not isinstance(label, str) or not label.strip():
            errors["label"] = "champ obligatoire"
        elif len(label) > 200:
            errors["label"] = "200 caractères au plus"
        if not campaign_id or len(campaign_id) > 64 or not re.fullmatch(r"[A-Za-z0-9._-]+", campaign_id):
            errors["campaign_id"] = "identifiant de 1 à 64 caractères : lettres, chiffres, « . », « _ » ou « - »"

        dates = {name: day(name) for name in ("enrolment_opens", "enrolment_closes", "pass_valid_until", "reimbursement_deadline")}
        allowance = integer("allowance_cents", 7000, 1, 10_000_000)
        tickets = integer("tickets_per_pass", 7, 1, 7)
        ticket_min = integer("ticket_min_cents", 500, 1, 10_000_000)
        ticket_max = integer("ticket_max_cents", 7000, 1, 10_000_000)
        grace = integer("redemption_cancel_grace_minutes", 30, 0, 7 * 24 * 60)
        if "ticket_min_cents" not in errors and "ticket_max_cents" not in errors:
            if ticket_min > ticket_max:
                errors["ticket_min_cents"] = "doit être inférieur ou égal à ticket_max_cents"
            elif ticket_min > allowance:
                errors["ticket_min_cents"] = "doit être inférieur ou égal à allowance_cents"

        prefixes = settings.get("eligible_postcode_prefixes", ["92"])
        if (
            not isinstance(prefixes, (list, tuple))
            or not prefixes
            or not all(isinstance(p, str) and _PREFIX.fullmatch(p) for p in prefixes)
        ):
            errors["eligible_postcode_prefixes"] = "liste non vide de débuts de code postal (1 à 5 chiffres)"
            prefixes = ["92"]

        levels = settings.get("eligible_levels", list(COLLEGE_LEVELS))
        if not isinstance(levels, (list, tuple)) or not levels or not all(isinstance(v, str) and v.strip() for v in levels):
            errors["eligible_levels"] = "liste non vide de niveaux (par exemple 6e, 5e, 4e, 3e)"
            levels = list(COLLEGE_LEVELS)

        if errors:
            raise invalid_fields(errors)
        calendar = CampaignCalendar(**dates)  # type: ignore[arg-type]
        return cls(
            campaign_id=campaign_id,
            label=label.strip(),  # type: ignore[union-attr]
            calendar=calendar,
            allowance_cents=allowance,
            tickets_per_pass=tickets,
            ticket_min_cents=ticket_min,
            ticket_max_cents=ticket_max,
            eligible_postcode_prefixes=tuple(dict.fromkeys(prefixes)),
            eligible_levels=tuple(dict.fromkeys(normalise_level(v) for v in levels)),
            redemption_cancel_grace_minutes=grace,
        )

    def settings(self) -> dict[str, Any]:
        """The campaign as the API shows it and the CampaignPublished event carries it."""
        cal = self.calendar
        return {
            "campaign_id": self.campaign_id,
            "label": self.label,
            "enrolment_opens": cal.enrolment_opens.isoformat(),
            "enrolment_closes": cal.enrolment_closes.isoformat(),
            "pass_valid_until": cal.pass_valid_until.isoformat(),
            "reimbursement_deadline": cal.reimbursement_deadline.isoformat(),
            "allowance_cents": self.allowance_cents,
            "tickets_per_pass": self.tickets_per_pass,
            "ticket_min_cents": self.ticket_min_cents,
            "ticket_max_cents": self.ticket_max_cents,
            "eligible_postcode_prefixes": list(self.eligible_postcode_prefixes),
            "eligible_levels": list(self.eligible_levels),
            "redemption_cancel_grace_minutes": self.redemption_cancel_grace_minutes,
        }

    # --- eligibility -------------------------------------------------------------------------

    def check_resident(self, postcode: str) -> None:
        if not _POSTCODE.fullmatch(postcode) or not postcode.startswith(self.eligible_postcode_prefixes):
            prefixes = levels_in_words(list(self.eligible_postcode_prefixes))
            raise Refusal(
                "NOT_RESIDENT",
                "Le Pass est réservé aux collégiens qui résident dans le département : "
                f"le code postal de l'adresse doit commencer par {prefixes}.",
                {"postcode": postcode, "eligible_postcode_prefixes": list(self.eligible_postcode_prefixes)},
            )

    def check_level(self, level: str) -> str:
        """The level in its campaign spelling ('6e'), or a refusal."""
        normalised = normalise_level(level)
        if normalised not in self.eligible_levels:
            raise Refusal(
                "LEVEL_NOT_ELIGIBLE",
                f"Le Pass est réservé aux collégiens de {levels_in_words(list(self.eligible_levels))} : "
                f"le niveau « {level.strip()} » n'y donne pas droit.",
                {"level": level, "eligible_levels": list(self.eligible_levels)},
            )
        return normalised

    def check_birth_date(self, birth_date: date) -> None:
        """A collégien is 9 to 17 years old at the start of the campaign's school year."""
        start = self.calendar.school_year_start
        age = age_on(birth_date, start)
        if not YOUNGEST_AGE <= age <= OLDEST_AGE:
            born_after = date(start.year - OLDEST_AGE - 1, start.month, start.day)
            born_before = date(start.year - YOUNGEST_AGE, start.month, start.day)
            raise Refusal(
                "BIRTH_DATE_IMPLAUSIBLE",
                "La date de naissance indiquée ne correspond pas à l'âge d'un collégien : "
                "merci de la vérifier.",
                {
                    "birth_date": birth_date.isoformat(),
                    "born_after": born_after.isoformat(),
                    "born_on_or_before": born_before.isoformat(),
                },
            )
