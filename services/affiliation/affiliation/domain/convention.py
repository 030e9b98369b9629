"""The electronic convention: read, accept, receive a one-time code, sign with it.

Four steps, in that order. Each accepted step yields an audit record (time, account, client
address, document hash). Signing is what makes the organisation active.

The one-time code is kept as a keyed hash (`KeyedHash`). Within an hour (`OtpPolicy.issue_window`,
from the first code) at most `max_issues` codes are sent and at most `max_attempts` wrong codes are
tried, whatever the number of codes: a new code never gives more tries. Past either limit, a new
code is refused until the window ends (OTP_LIMIT_REACHED, with the wait).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from carnet_runtime import Refusal

from .keyed_hash import KeyedHash


@dataclass(frozen=True)
class ConventionDocument:
    version: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


class ConventionStep(StrEnum):
    NOT_STARTED = "not_started"
    READ = "read"
    ACCEPTED = "accepted"
    OTP_ISSUED = "otp_issued"
    SIGNED = "signed"


_NEXT_ACTION = {
    ConventionStep.NOT_STARTED: "read",
    ConventionStep.READ: "accept",
    ConventionStep.ACCEPTED: "otp",
    ConventionStep.OTP_ISSUED: "sign",
    ConventionStep.SIGNED: None,
}


@dataclass(frozen=True, kw_only=True)
class OtpPolicy:
    keyed: KeyedHash  # the key codes are kept under
    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5  # wrong codes tried within the window, whatever the number of codes
    max_issues: int = 5  # codes sent within the window
    issue_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class ConventionProgress:
    step: ConventionStep = ConventionStep.NOT_STARTED
    version: str | None = None
    sha256: str | None = None
    otp_hash: str | None = None
    otp_expires_at: datetime | None = None
    otp_failed_attempts: int = 0
    otp_issues: int = 0
    otp_window_started_at: datetime | None = None

    @property
    def next_action(self) -> str | None:
        return _NEXT_ACTION[self.step]


@dataclass(frozen=True)
class StepContext:
    """Who takes the step, from where, when: what the audit trail keeps."""

    affiliate_id: str
    account: str
    client_address: str | None
    at: datetime


@dataclass(frozen=True)
class AuditRecord:
    affiliate_id: str
    action: str
    account: str
    client_address: str | None
    at: datetime
    document_version: str | None
    document_sha256: str | None


def _out_of_order(progress: ConventionProgress, attempted: str) -> Refusal:
    if progress.step is ConventionStep.SIGNED:
        message = "La convention d'affiliation est déjà signée."
    else:
        message = (
            "Les étapes de la convention se suivent dans l'ordre : lire, accepter, recevoir le code "
            "par courriel, signer avec ce code."
        )
    return Refusal(
        "CONVENTION_STEP_OUT_OF_ORDER",
        message,
        {"attempted": attempted, "current_step": progress.step.value, "expected": progress.next_action},
    )


def _record(ctx: StepContext, action: str, version: str | None, sha256: str | None) -> AuditRecord:
    return AuditRecord(ctx.affiliate_id, action, ctx.account, ctx.client_address, ctx.at, version, sha256)


def read(
    progress: ConventionProgress, document: ConventionDocument, presented_sha256: str, ctx: StepContext
) -> tuple[ConventionProgress, AuditRecord]:
    """The client proves which text it showed by sending back its hash. Reading again before accepting is harmless."""
    if progress.step not in (ConventionStep.NOT_STARTED, ConventionStep.READ):
        raise _out_of_order(progress, "read")
    if not hmac.compare_digest(presented_sha256.strip().lower(), document.sha256):
        raise Refusal(
            "CONVENTION_HASH_MISMATCH",
            "Le texte lu n'est pas celui de la convention en vigueur : rechargez la convention et lisez-la à nouveau.",
            {"sha256": "mismatch", "version": document.version},
        )
    new = ConventionProgress(step=ConventionStep.READ, version=document.version, sha256=document.sha256)
    return new, _record(ctx, "read", document.version, document.sha256)


def _require_current(progress: ConventionProgress, document: ConventionDocument) -> None:
    """A new version published between two steps means the text read is no longer the one in force."""
    if progress.sha256 != document.sha256:
        raise Refusal(
            "CONVENTION_HASH_MISMATCH",
            "La convention a changé depuis votre lecture : lisez la nouvelle version avant de continuer.",
            {"sha256": "outdated", "version": document.version},
        )


def accept(
    progress: ConventionProgress, document: ConventionDocument, ctx: StepContext
) -> tuple[ConventionProgress, AuditRecord]:
    if progress.step is not ConventionStep.READ:
        raise _out_of_order(progress, "accept")
    _require_current(progress, document)
    new = replace(progress, step=ConventionStep.ACCEPTED)
    return new, _record(ctx, "accept", progress.version, progress.sha256)


def _window_open(progress: ConventionProgress, at: datetime, policy: OtpPolicy) -> bool:
    started = progress.otp_window_started_at
    return started is not None and at < started + policy.issue_window


def issue_otp(
    progress: ConventionProgress, document: ConventionDocument, ctx: StepContext, policy: OtpPolicy
) -> tuple[ConventionProgress, AuditRecord, str]:
    """A new 6-digit code, replacing any earlier one, within the window's limits. The clear code is
    returned to be sealed, never stored; the wrong tries already made still count."""
    if progress.step not in (ConventionStep.ACCEPTED, ConventionStep.OTP_ISSUED):
        raise _out_of_order(progress, "otp")
    _require_current(progress, document)
    if _window_open(progress, ctx.at, policy):
        issues, failures, started = progress.otp_issues, progress.otp_failed_attempts, progress.otp_window_started_at
    else:
        issues, failures, started = 0, 0, ctx.at
    if issues >= policy.max_issues or failures >= policy.max_attempts:
        wait = max(1, math.ceil((started + policy.issue_window - ctx.at).total_seconds()))
        raise Refusal(
            "OTP_LIMIT_REACHED",
            f"Trop de codes demandés ou d'essais : vous pourrez demander un nouveau code dans "
            f"{math.ceil(wait / 60)} minute(s).",
            {"retry_after_seconds": wait, "codes_sent": issues, "wrong_attempts": failures},
            retry_after=wait,
        )
    otp = f"{secrets.randbelow(10**6):06d}"
    new = replace(
        progress,
        step=ConventionStep.OTP_ISSUED,
        otp_hash=policy.keyed.of("otp", ctx.affiliate_id, otp),
        otp_expires_at=ctx.at + policy.ttl,
        otp_failed_attempts=failures,
        otp_issues=issues + 1,
        otp_window_started_at=started,
    )
    return new, _record(ctx, "otp", progress.version, progress.sha256), otp


def sign(
    progress: ConventionProgress, document: ConventionDocument, otp: str, ctx: StepContext, policy: OtpPolicy
) -> tuple[ConventionProgress, AuditRecord | None, Refusal | None]:
    """Sign with the code. A wrong code is refused but counted (the count must be kept), hence the
    returned progress alongside the refusal instead of a raise; after too many, the code is burnt
    and no new one is sent before the window ends."""
    if progress.step is not ConventionStep.OTP_ISSUED:
        raise _out_of_order(progress, "sign")
    _require_current(progress, document)
    if progress.otp_hash is None or progress.otp_expires_at is None or ctx.at >= progress.otp_expires_at:
        raise Refusal(
            "OTP_EXPIRED",
            "Le code reçu par courriel a expiré. Demandez un nouveau code.",
            {"otp": "expired"},
        )
    if not policy.keyed.matches(progress.otp_hash, "otp", ctx.affiliate_id, otp.strip()):
        failures = progress.otp_failed_attempts + 1
        attempts_left = max(0, policy.max_attempts - failures)
        burnt = attempts_left == 0
        new = replace(
            progress,
            otp_failed_attempts=failures,
            otp_hash=None if burnt else progress.otp_hash,
            otp_expires_at=None if burnt else progress.otp_expires_at,
        )
        message = (
            "Le code saisi n'est pas le bon. Trop d'essais : demandez un nouveau code d'ici une heure."
            if burnt
            else "Le code saisi n'est pas le bon. Vérifiez le code reçu par courriel."
        )
        return new, None, Refusal("OTP_INVALID", message, {"otp": "invalid", "attempts_left": attempts_left})
    new = replace(progress, step=ConventionStep.SIGNED, otp_hash=None, otp_expires_at=None)
    return new, _record(ctx, "sign", progress.version, progress.sha256), None
