"""Every event of Carnet, one module per service, each grouped by the topic that owns it.

A schema change within a version is additive (a new optional field); anything else is a
new version with a new class. `contracts/schemas/` holds the exported JSON Schemas and a
test fails when one of them changes incompatibly.
"""

from __future__ import annotations

from .. import topics
from ..envelope import Event, UnknownEvent
from . import affiliation, enrolment, notification, redemption, wallet
from .affiliation import (
    AffiliateActivated,
    AffiliateContactChanged,
    AffiliateIbanChanged,
    AffiliateInvited,
    AffiliateInvitedV1,
    AffiliateLoginReminded,
    AffiliateLoginRemindedV1,
    AffiliateSuspended,
    ConventionOtpIssued,
    ConventionOtpIssuedV1,
    ConventionSigned,
    ConventionSignedV1,
    IbanChangeOtpIssued,
    PaidTransfer,
    PasswordResetRequested,
    PasswordResetRequestedV1,
    ReimbursementBatchCreated,
    ReimbursementBatchPaid,
    ReimbursementBatchPaidV1,
    ReimbursementTransfer,
    ReimbursementTransferSent,
)
from .enrolment import (
    ApplicationRejected,
    ApplicationRejectedV1,
    ApplicationSubmitted,
    ApplicationSubmittedV1,
    CampaignPublished,
    CampaignPurgeStarted,
    CorrespondentDigestDue,
    GuardianErasureRequested,
    PassGranted,
    PassGrantedV1,
    SchoolRegistered,
    WaitingFile,
)
from .notification import (
    MessageDelivered,
    MessageFailed,
)
from .parts import Guardian, GuardianContact, Level, Pupil, Student
from .redemption import (
    RedemptionCancelled,
    RedemptionRejected,
    TicketRedeemed,
    TicketReplaced,
    TicketReplaceRefused,
    TicketVoided,
    TicketVoidRefused,
)
from .wallet import (
    PassExpiryReminderDue,
    TicketAssigned,
    TicketCredited,
    TicketReplaceRequested,
    TicketsEmailRequested,
    TicketVoidRequested,
    WalletCreated,
)

__all__ = [
    "ALL_EVENTS",
    "AffiliateActivated",
    "AffiliateContactChanged",
    "AffiliateIbanChanged",
    "AffiliateInvited",
    "AffiliateInvitedV1",
    "AffiliateLoginReminded",
    "AffiliateLoginRemindedV1",
    "AffiliateSuspended",
    "ApplicationRejected",
    "ApplicationRejectedV1",
    "ApplicationSubmitted",
    "ApplicationSubmittedV1",
    "CampaignPublished",
    "CampaignPurgeStarted",
    "ConventionOtpIssued",
    "ConventionOtpIssuedV1",
    "ConventionSigned",
    "ConventionSignedV1",
    "CorrespondentDigestDue",
    "Guardian",
    "GuardianContact",
    "GuardianErasureRequested",
    "IbanChangeOtpIssued",
    "Level",
    "MessageDelivered",
    "MessageFailed",
    "PassExpiryReminderDue",
    "PassGranted",
    "PassGrantedV1",
    "PasswordResetRequested",
    "PasswordResetRequestedV1",
    "Pupil",
    "RedemptionCancelled",
    "RedemptionRejected",
    "ReimbursementBatchCreated",
    "ReimbursementBatchPaid",
    "ReimbursementBatchPaidV1",
    "ReimbursementTransferSent",
    "SchoolRegistered",
    "Student",
    "TicketAssigned",
    "TicketCredited",
    "TicketRedeemed",
    "TicketReplaceRefused",
    "TicketReplaceRequested",
    "TicketReplaced",
    "TicketVoidRefused",
    "TicketVoidRequested",
    "TicketVoided",
    "TicketsEmailRequested",
    "WalletCreated",
    "events_on",
    "model_for",
    "PaidTransfer",
    "ReimbursementTransfer",
    "WaitingFile",
]


ALL_EVENTS: tuple[type[Event], ...] = tuple(
    cls for module in (enrolment, wallet, redemption, affiliation, notification) for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
    and not cls.__name__.startswith("_")  # the fields some events share, no events themselves
)

_BY_TYPE: dict[tuple[str, int], type[Event]] = {(cls.event_type, cls.schema_version): cls for cls in ALL_EVENTS}


def model_for(event_type: str, schema_version: int) -> type[Event]:
    try:
        return _BY_TYPE[(event_type, schema_version)]
    except KeyError:
        raise UnknownEvent(f"{event_type} v{schema_version}") from None


def events_on(topic: topics.Topic, *, retired: bool = True) -> list[type[Event]]:
    """The events of a topic; `retired=False` leaves out the versions no longer published."""
    return [cls for cls in ALL_EVENTS if cls.topic == topic and (retired or not cls.retired)]
