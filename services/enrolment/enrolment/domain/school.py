"""A school (collège) and the address its correspondent is reached at."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carnet_runtime import invalid_fields

from .text import tidy_name

_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_POSTCODE = re.compile(r"\d{5}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class School:
    school_id: str
    name: str
    postcode: str
    city: str
    correspondent_email: str | None = None

    @classmethod
    def from_settings(cls, school_id: str, raw: Mapping[str, Any]) -> School:
        errors: dict[str, str] = {}
        if not _ID.fullmatch(school_id):
            errors["school_id"] = "identifiant de 1 à 64 caractères : lettres, chiffres, « . », « _ » ou « - »"
        values: dict[str, str] = {}
        for name, maximum in (("name", 200), ("postcode", 10), ("city", 100)):
            value = raw.get(name)
            if not isinstance(value, str) or not value.strip():
                errors[name] = "champ obligatoire"
            elif len(value) > maximum:
                errors[name] = f"{maximum} caractères au plus"
            else:
                values[name] = tidy_name(value)
        if "postcode" in values and not _POSTCODE.fullmatch(values["postcode"]):
            errors["postcode"] = "code postal à 5 chiffres attendu"
        email = raw.get("correspondent_email")
        if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email.strip())):
            errors["correspondent_email"] = "adresse électronique invalide"
        if errors:
            raise invalid_fields(errors)
        return cls(school_id, values["name"], values["postcode"], values["city"], email.strip() if email else None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "school_id": self.school_id, "name": self.name, "postcode": self.postcode, "city": self.city,
            "correspondent_email": self.correspondent_email,
        }
