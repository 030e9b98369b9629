"""The use cases of the affiliation service, one class per aggregate: each method takes a unit of
work and a command, loads through the unit of work's repositories, lets the domain decide, stores,
and publishes the events the change produces. Routes and consumers only parse, call and render."""

from .accounts import Accounts, AffiliateTokens
from .campaigns import Campaigns
from .conventions import Conventions
from .organisations import Organisations
from .reimbursements import Reimbursements

__all__ = ["Accounts", "AffiliateTokens", "Campaigns", "Conventions", "Organisations", "Reimbursements"]
