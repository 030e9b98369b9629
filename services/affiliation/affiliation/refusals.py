"""Every refusal code the affiliation service raises, and its HTTP status (API.md, Affiliation).
The runtime adds its own (VALIDATION_ERROR 422, FORBIDDEN 403, AUTHENTICATION_REQUIRED 401...)."""

REFUSALS: dict[str, int] = {
    # organisations
    "INVALID_SIRET": 422,
    "INVALID_IBAN": 422,
    "DUPLICATE_SIRET": 409,
    "AFFILIATE_NOT_FOUND": 404,
    "AFFILIATE_NOT_ACTIVE": 409,
    "AFFILIATE_NOT_SUSPENDED": 409,
    "AFFILIATE_ALREADY_ACTIVATED": 409,
    # accounts
    "WEAK_PASSWORD": 422,
    "ACTIVATION_TOKEN_INVALID": 422,
    "ACTIVATION_TOKEN_EXPIRED": 410,
    "RESET_TOKEN_INVALID": 422,
    "RESET_TOKEN_EXPIRED": 410,
    "INVALID_CREDENTIALS": 401,
    "ACCOUNT_LOCKED": 429,  # this client failed too often on this account (Retry-After)
    "TOO_MANY_FAILED_LOGINS": 429,  # this client failed on too many accounts (Retry-After)
    # the convention
    "CONVENTION_HASH_MISMATCH": 422,
    "CONVENTION_STEP_OUT_OF_ORDER": 409,
    "OTP_INVALID": 422,
    "OTP_EXPIRED": 410,
    "OTP_LIMIT_REACHED": 429,  # too many codes sent or wrong codes tried this hour (Retry-After)
    # reimbursement
    "UNKNOWN_CAMPAIGN": 422,
    "CAMPAIGN_REQUIRED": 422,
    "NOTHING_TO_REIMBURSE": 409,
    "BATCH_NOT_FOUND": 404,
    "BATCH_ALREADY_PAID": 409,
}
