"""Every refusal code this service raises, and its HTTP status: the one table (API.md, Redemption).

The runtime merges it with its own codes (VALIDATION_ERROR 422, FORBIDDEN 403, ...) and answers
every `Refusal` with the status found here; an Idempotency-Key keeps a refusal about the ticket as
its first answer with the status found here too.
"""

from __future__ import annotations

from . import domain as d

REFUSALS: dict[str, int] = {
    d.CODE_MALFORMED: 422,
    d.TICKET_UNKNOWN: 404,
    d.TICKET_ALREADY_REDEEMED: 409,  # details.redeemed_at: when
    d.TICKET_EXPIRED: 409,  # details.valid_until, expired_since
    d.TICKET_VOIDED: 409,
    d.TICKET_RESERVED_FOR_OTHER_AFFILIATE: 409,
    d.AFFILIATE_NOT_ACTIVE: 403,
    d.IDEMPOTENCY_KEY_REUSED: 422,
    d.TOO_MANY_UNKNOWN_CODES: 429,  # Retry-After header, details.retry_after_seconds
    d.REDEMPTION_UNKNOWN: 404,
    d.REDEMPTION_OF_OTHER_AFFILIATE: 403,
    d.CANCEL_PERIOD_OVER: 409,
    d.REDEMPTION_IN_REIMBURSEMENT_BATCH: 409,
    d.REDEMPTION_BUSY: 503,  # lost its race MAX_LAPS times: retry with the same key
}

