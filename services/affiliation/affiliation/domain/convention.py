"""The electronic convention: read, accept, receive a one-time code, sign with it.

Four steps, in that order. Each accepted step yields an audit record (time, account, client
address, document hash). Signing is what makes the organisation active.

The one-time code follows the rules of every code e-mailed to an organisation (one_time_code.py):
kept keyed, limited codes and tries per hour, a new code never giving more tries.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from carnet_runtime import Refusal

from . import one_time_code
from .one_time_code import CodeState, OtpPolicy

__all__ = ["AuditRecord", "ConventionDocument", "ConventionProgress", "ConventionStep", "OtpPolicy", "StepContext",
           "accept", "issue_otp", "read", "sign"]


@dataclass(frozen=True)
class ConventionDocument:
    """The convention's text in force and its version; a signature binds the text's hash."""

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

    @property
    def code(self) -> CodeState:
        return CodeState(self.otp_hash, self.otp_expires_at, self.otp_failed_attempts, self.otp_issues,
                         self.otp_window_started_at)

    def with_code(self, code: CodeState, **changes: Any) -> ConventionProgress:
        return replace(self, otp_hash=code.code_hash, otp_expires_at=code.expires_at,
                       otp_failed_attempts=code.failed_attempts, otp_issues=code.issues,
                       otp_window_started_at=code.window_started_at, **changes)


@dataclass(frozen=True)
class StepContext:
    """Who takes the step, from where, when: what the audit trail keeps."""

    affiliate_id: str
    account: str
    client_address: str | None
    at: datetime


@dataclass(frozen=True)
class AuditRecord:
    """One act in an organisation's audit trail: the convention's steps, and what staff or the
    organisation changed (`details`: which fields, an IBAN's last four characters; never a value
    that identifies a person or an account)."""

    affiliate_id: str
    action: str
    account: str
    client_address: str | None
    at: datetime
    document_version: str | None
    document_sha256: str | None
    details: dict[str, Any] | None = None


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


def issue_otp(
    progress: ConventionProgress, document: ConventionDocument, ctx: StepContext, policy: OtpPolicy
) -> tuple[ConventionProgress, AuditRecord, str]:
    """A new 6-digit code, replacing any earlier one, within the window's limits. The clear code is
    returned to be sealed, never stored; the wrong tries already made still count."""
    if progress.step not in (ConventionStep.ACCEPTED, ConventionStep.OTP_ISSUED):
        raise _out_of_order(progress, "otp")
    _require_current(progress, document)
    code, otp = one_time_code.issue(progress.code, ctx.at, policy, "otp", ctx.affiliate_id)
    new = progress.with_code(code, step=ConventionStep.OTP_ISSUED)
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
    code, refusal = one_time_code.check(progress.code, otp, ctx.at, policy, "otp", ctx.affiliate_id)
    if refusal is not None:
        return progress.with_code(code), None, refusal
    new = progress.with_code(code, step=ConventionStep.SIGNED)
    return new, _record(ctx, "sign", progress.version, progress.sha256), None
