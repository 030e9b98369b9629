"""Every refusal code the notification service raises, and its HTTP status: the one table the runtime
answers with (merged with its own codes: VALIDATION_ERROR 422, FORBIDDEN 403, NOT_FOUND 404...)."""

REFUSALS: dict[str, int] = {
    # GET /v1/messages?recipient= that is not an e-mail address (details.fields names `recipient`)
    "INVALID_RECIPIENT": 422,
    # GET /v1/broadcasts/{broadcast_id} of a broadcast that does not exist
    "BROADCAST_NOT_FOUND": 404,
    # an activation or reset token that cannot end a link: the event goes to the dead-letter topic
    "TOKEN_NOT_LINKABLE": 422,
}
