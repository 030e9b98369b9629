"""The notification service's rules: what each message says, how its delivery goes on, what it
keeps and when it forgets, and how a secret it carries is never kept in clear. Plain Python, no I/O:
the application services load, ask these, and store what they decide.

- contents.py: templates and what each message says; the wallet-ready join.
- people.py: recipients, message keys, broadcasts.
- delivery.py: states, attempt outcomes, retry policy, the messages as the log keeps them.
- secrets.py: sealed secrets and the placeholder the stored body has instead.
- retention.py: campaigns' dates and when personal data is forgotten.
"""

from carnet_contracts.calendar import PARIS, end_of_paris_day

from .contents import (
    AffiliateInvitation,
    AffiliateLoginReminder,
    ApplicationReceived,
    ApplicationRejected,
    BroadcastText,
    Content,
    ConventionOtp,
    ConventionSigned,
    PasswordReset,
    ReimbursementPaid,
    RenderedMessage,
    Template,
    TicketsSheet,
    WalletReadiness,
    WalletReady,
)
from .delivery import (
    Accepted,
    Attempt,
    AttemptOutcome,
    Delivery,
    IllegalTransition,
    Impossible,
    Message,
    MessageState,
    NewMessage,
    Refused,
    RetryPolicy,
    SheetRequest,
    Unreachable,
    message_id_for,
)
from .people import (
    Audience,
    Broadcast,
    BroadcastPlan,
    BroadcastStatus,
    distinct_recipients,
    message_key,
    normalise_recipient,
    plan_broadcast,
    redact,
)
from .retention import Campaign, RetentionPolicy, campaign_ends, forget_at
from .secrets import PLACEHOLDERS, SealedSecret, SecretKind, link_with_token

__all__ = [
    "PARIS",
    "PLACEHOLDERS",
    "Accepted",
    "AffiliateInvitation",
    "AffiliateLoginReminder",
    "ApplicationReceived",
    "ApplicationRejected",
    "Attempt",
    "AttemptOutcome",
    "Audience",
    "Broadcast",
    "BroadcastPlan",
    "BroadcastStatus",
    "BroadcastText",
    "Campaign",
    "Content",
    "ConventionOtp",
    "ConventionSigned",
    "Delivery",
    "IllegalTransition",
    "Impossible",
    "Message",
    "MessageState",
    "NewMessage",
    "PasswordReset",
    "Refused",
    "ReimbursementPaid",
    "RenderedMessage",
    "RetentionPolicy",
    "RetryPolicy",
    "SealedSecret",
    "SecretKind",
    "SheetRequest",
    "Template",
    "TicketsSheet",
    "Unreachable",
    "WalletReadiness",
    "WalletReady",
    "campaign_ends",
    "distinct_recipients",
    "end_of_paris_day",
    "forget_at",
    "link_with_token",
    "message_id_for",
    "message_key",
    "normalise_recipient",
    "plan_broadcast",
    "redact",
]
