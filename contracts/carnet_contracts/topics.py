"""Every Kafka topic, declared once: its name, its key and the service that owns it.

Topic names are `<owner>.<aggregate>`, keyed by the aggregate id so that one aggregate's
events stay in order. Each name can be overridden by an environment variable
(`CARNET_TOPIC_<OWNER>_<AGGREGATE>`), for a cluster whose naming differs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    owner: str
    aggregate: str
    key: str
    partitions: int = 6

    @property
    def default_name(self) -> str:
        return f"{self.owner}.{self.aggregate}"

    @property
    def env_var(self) -> str:
        return f"CARNET_TOPIC_{self.owner.upper()}_{self.aggregate.upper()}"

    @property
    def name(self) -> str:
        return os.environ.get(self.env_var, self.default_name)

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}.dlt"


ENROLMENT_CAMPAIGNS = Topic("enrolment", "campaigns", key="campaign_id", partitions=1)
ENROLMENT_SCHOOLS = Topic("enrolment", "schools", key="school_id", partitions=1)
ENROLMENT_APPLICATIONS = Topic("enrolment", "applications", key="application_id")
# A family's rights: erasure requests, read by every service that holds personal data.
ENROLMENT_PRIVACY = Topic("enrolment", "privacy", key="erasure_id", partitions=1)
WALLET_WALLETS = Topic("wallet", "wallets", key="wallet_id")
WALLET_TICKETS = Topic("wallet", "tickets", key="ticket_id")
REDEMPTION_REDEMPTIONS = Topic("redemption", "redemptions", key="ticket_id")
AFFILIATION_AFFILIATES = Topic("affiliation", "affiliates", key="affiliate_id", partitions=3)
# What an organisation's contact is told (contact address, sealed codes): the notification service
# alone reads it, so that contact and bank details never reach the wallet or the redemption service.
AFFILIATION_NOTICES = Topic("affiliation", "notices", key="affiliate_id", partitions=3)
AFFILIATION_REIMBURSEMENTS = Topic("affiliation", "reimbursements", key="batch_id", partitions=1)
NOTIFICATION_MESSAGES = Topic("notification", "messages", key="message_id", partitions=3)

ALL_TOPICS: tuple[Topic, ...] = (
    ENROLMENT_CAMPAIGNS,
    ENROLMENT_SCHOOLS,
    ENROLMENT_APPLICATIONS,
    ENROLMENT_PRIVACY,
    WALLET_WALLETS,
    WALLET_TICKETS,
    REDEMPTION_REDEMPTIONS,
    AFFILIATION_AFFILIATES,
    AFFILIATION_NOTICES,
    AFFILIATION_REIMBURSEMENTS,
    NOTIFICATION_MESSAGES,
)
