"""Every refusal the wallet answers with, and its HTTP status: the one table (API.md, Wallet)."""

REFUSALS: dict[str, int] = {
    "AMOUNT_OUT_OF_RANGE": 422,
    "AFFILIATE_NOT_ACTIVE": 422,
    "POSITIONS_INVALID": 422,
    "ALLOWANCE_EXCEEDED": 409,
    "TICKET_NOT_BLANK": 409,
    "PASS_EXPIRED": 409,
    "TICKET_NOT_CREDITED": 409,
    "TICKET_NOT_PRINTABLE": 409,
    "NO_CREDITED_TICKET": 409,
    "TICKET_UNKNOWN": 404,
    "WALLET_UNKNOWN": 404,
    "OTHER_SCHOOL": 403,
}
