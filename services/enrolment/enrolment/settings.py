"""The enrolment service's settings: CARNET_ENROLMENT_<NAME>, beside the runtime's (services/runtime/README.md)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from carnet_runtime import ServiceSettings


class EnrolmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_ENROLMENT_")

    service_name: ClassVar[str] = "enrolment"  # database carnet_enrolment, consumer group "enrolment"
    default_http_port: ClassVar[int] = 8001  # API.md's port; CARNET_ENROLMENT_HTTP_PORT overrides

    # The largest roster file a correspondent may send (bytes): larger is 413 PAYLOAD_TOO_LARGE before
    # it is read. Every other route has the runtime's CARNET_MAX_BODY_BYTES. 2 MiB holds about
    # 50,000 lines of a roster, many times the largest collège.
    roster_max_bytes: int = 2 * 1024 * 1024
    # The most lines a roster file may have (as a text editor counts them, header and blank lines
    # included); more is 422 ROSTER_TOO_LARGE, and no line is read.
    roster_max_lines: int = 10_000
    # How many bad lines the roster answer lists (the first ones); `rejected_count` gives them all.
    roster_rejected_shown: int = 200

    # The weekly digest of the files waiting for each school's correspondent (Europe/Paris): from this
    # day and hour on, each school with a correspondent address and waiting files gets it, once per ISO
    # week (a service down at that moment sends it when it is back, later that week).
    digest_weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    digest_hour: int = Field(8, ge=0, le=23)
    # How often the service looks whether the week's digests are due (seconds).
    digest_check_seconds: float = Field(300.0, gt=0)
    # How many waiting files a digest lists (the oldest); `total_waiting` counts them all.
    digest_max_listed: int = Field(200, ge=1)
    # How often the service looks for campaigns whose purge is due (reimbursement deadline +
    # data_retention_days passed), in seconds.
    purge_check_seconds: float = Field(900.0, gt=0)

    @field_validator("digest_weekday", mode="before")
    @classmethod
    def _weekday_name(cls, value: object) -> object:
        """`Monday`, `monday`, or the French `lundi`."""
        if isinstance(value, str):
            value = value.strip().lower()
            return _FRENCH_WEEKDAYS.get(value, value)
        return value


_FRENCH_WEEKDAYS = {"lundi": "monday", "mardi": "tuesday", "mercredi": "wednesday", "jeudi": "thursday",
                    "vendredi": "friday", "samedi": "saturday", "dimanche": "sunday"}
