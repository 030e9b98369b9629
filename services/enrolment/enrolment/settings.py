"""The enrolment service's settings: CARNET_ENROLMENT_<NAME>, beside the runtime's (services/runtime/README.md)."""

from __future__ import annotations

from typing import ClassVar

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
