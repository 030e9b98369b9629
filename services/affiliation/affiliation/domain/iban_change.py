"""An organisation's new bank account, confirmed by a code e-mailed to its current contact.

The IBAN is checked as at creation (schwifty). The code confirms that IBAN for that organisation
(it is kept keyed over both), under the limits of every e-mailed code (one_time_code.py). Once
confirmed, the new IBAN is the one the next reimbursement batch pays; a batch already created keeps
the IBAN it was made with (each of its transfers stores its own).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from carnet_runtime import Refusal, invalid_fields

from . import one_time_code
from .one_time_code import CodeState, OtpPolicy
from .organisation import Affiliate, check_iban

PURPOSE = "iban-otp"


@dataclass(frozen=True)
class IbanChange:
    """The change waiting for its code (`new_iban` None once confirmed), and the code's window."""

    affiliate_id: str
    new_iban: str | None = None
    requested_by: str | None = None
    requested_at: datetime | None = None
    code: CodeState = CodeState()


def request_change(
    change: IbanChange | None, affiliate: Affiliate, iban: str, requested_by: str, at: datetime, policy: OtpPolicy
) -> tuple[IbanChange, str]:
    """A code for this new IBAN (replacing any change waiting, within the window's limits); the
    clear code is returned to be sealed for the contact, never stored."""
    new_iban = check_iban(iban)
    if new_iban == affiliate.organisation.iban:
        raise invalid_fields({"iban": "unchanged"})
    current = change or IbanChange(affiliate.affiliate_id)
    code, clear = one_time_code.issue(current.code, at, policy, PURPOSE, affiliate.affiliate_id, new_iban)
    return IbanChange(affiliate.affiliate_id, new_iban, requested_by, at, code), clear


def not_requested() -> Refusal:
    return Refusal(
        "IBAN_CHANGE_NOT_REQUESTED",
        "Aucun changement d'IBAN n'attend de confirmation : demandez d'abord le changement.",
        {"otp": "no change requested"},
    )


def confirm_change(
    change: IbanChange | None, otp: str, at: datetime, policy: OtpPolicy
) -> tuple[IbanChange, str | None, Refusal | None]:
    """The new IBAN when the code is right; a wrong code is refused but counted (hence the change
    returned with the refusal instead of a raise)."""
    if change is None or change.new_iban is None:
        raise not_requested()
    code, refusal = one_time_code.check(change.code, otp, at, policy, PURPOSE, change.affiliate_id, change.new_iban)
    if refusal is not None:
        return replace(change, code=code), None, refusal
    return replace(change, new_iban=None, code=code), change.new_iban, None
