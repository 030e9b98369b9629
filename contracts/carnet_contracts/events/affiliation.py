"""Events of the affiliation service: organisations, their notices, reimbursements."""

from __future__ import annotations

from datetime import datetime

from .. import topics
from ..envelope import Event
from .parts import _Part

# The notices moved to affiliation.notices in version 2 with the same fields: each pair of versions
# shares them.


class _Invitation(Event):
    affiliate_id: str
    name: str
    login: str
    contact_email: str
    sealed_activation_token: str
    activation_expires_at: datetime


class _ConventionOtp(Event):
    affiliate_id: str
    name: str
    contact_email: str
    sealed_otp: str
    expires_at: datetime


class _Signature(Event):
    affiliate_id: str
    name: str
    contact_email: str
    convention_version: str
    document_sha256: str
    signed_at: datetime


class _PasswordReset(Event):
    affiliate_id: str
    login: str
    contact_email: str
    sealed_reset_token: str
    expires_at: datetime


class _LoginReminder(Event):
    affiliate_id: str
    campaign_id: str
    campaign_label: str
    name: str
    login: str
    contact_email: str


# --- affiliation.affiliates ----------------------------------------------------------------


class AffiliateInvitedV1(_Invitation):
    retired = True
    """An organisation was created; its contact gets the login and a sealed activation token."""

    event_type = "AffiliateInvited"
    topic = topics.AFFILIATION_AFFILIATES


class AffiliateActivated(Event):
    """The organisation signed the convention (or was reinstated): it may redeem tickets."""

    event_type = "AffiliateActivated"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    name: str
    activity: str
    city: str
    postcode: str
    activated_at: datetime


class AffiliateSuspended(Event):
    event_type = "AffiliateSuspended"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    reason: str | None = None
    suspended_at: datetime


class ConventionOtpIssuedV1(_ConventionOtp):
    retired = True
    event_type = "ConventionOtpIssued"
    topic = topics.AFFILIATION_AFFILIATES


class ConventionSignedV1(_Signature):
    retired = True
    event_type = "ConventionSigned"
    topic = topics.AFFILIATION_AFFILIATES


class PasswordResetRequestedV1(_PasswordReset):
    retired = True
    event_type = "PasswordResetRequested"
    topic = topics.AFFILIATION_AFFILIATES


class AffiliateLoginRemindedV1(_LoginReminder):
    retired = True
    """At the start of a campaign every active organisation is reminded of its login (never its password)."""

    event_type = "AffiliateLoginReminded"
    topic = topics.AFFILIATION_AFFILIATES


# --- affiliation.notices (read by the notification service alone) -------------------------


class AffiliateInvited(_Invitation):
    """An organisation was created; its contact gets the login and a sealed activation token."""

    event_type = "AffiliateInvited"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES


class ConventionOtpIssued(_ConventionOtp):
    event_type = "ConventionOtpIssued"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES


class ConventionSigned(_Signature):
    event_type = "ConventionSigned"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES


class PasswordResetRequested(_PasswordReset):
    event_type = "PasswordResetRequested"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES


class AffiliateLoginReminded(_LoginReminder):
    """At the start of a campaign every active organisation is reminded of its login (never its password)."""

    event_type = "AffiliateLoginReminded"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES


class IbanChangeOtpIssued(Event):
    """An IBAN change was asked: the current contact gets the one-time code that confirms it."""

    event_type = "IbanChangeOtpIssued"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    sealed_otp: str
    new_iban_suffix: str
    expires_at: datetime


class AffiliateIbanChanged(Event):
    """The new IBAN is used from the next reimbursement batch on; the contact is told."""

    event_type = "AffiliateIbanChanged"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    iban_suffix: str
    changed_at: datetime


class AffiliateContactChanged(Event):
    """The organisation's contact address changed: the old address is told."""

    event_type = "AffiliateContactChanged"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    old_contact_email: str
    new_contact_email: str
    changed_at: datetime


class ReimbursementTransferSent(Event):
    """A batch was paid: the organisation is told what it receives."""

    event_type = "ReimbursementTransferSent"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    batch_id: str
    campaign_id: str
    amount_cents: int
    count: int
    paid_at: datetime


# --- affiliation.reimbursements ------------------------------------------------------------


class ReimbursementBatchCreated(Event):
    """Redemptions in a batch can no longer be cancelled."""

    event_type = "ReimbursementBatchCreated"
    topic = topics.AFFILIATION_REIMBURSEMENTS

    batch_id: str
    campaign_id: str
    redemption_ids: list[str]
    total_cents: int
    count: int
    created_at: datetime


class ReimbursementTransfer(_Part):
    """A transfer as version 1 of ReimbursementBatchPaid carried it (with the contact's address)."""

    affiliate_id: str
    name: str
    contact_email: str
    amount_cents: int
    count: int


class ReimbursementBatchPaidV1(Event):
    retired = True
    event_type = "ReimbursementBatchPaid"
    topic = topics.AFFILIATION_REIMBURSEMENTS

    batch_id: str
    campaign_id: str
    redemption_ids: list[str]
    transfers: list[ReimbursementTransfer]
    total_cents: int
    paid_at: datetime


class PaidTransfer(_Part):
    affiliate_id: str
    amount_cents: int
    count: int


class ReimbursementBatchPaid(Event):
    """The batch's transfers were made (contacts are told on affiliation.notices)."""

    event_type = "ReimbursementBatchPaid"
    schema_version = 2
    topic = topics.AFFILIATION_REIMBURSEMENTS

    batch_id: str
    campaign_id: str
    redemption_ids: list[str]
    transfers: list[PaidTransfer]
    total_cents: int
    paid_at: datetime
