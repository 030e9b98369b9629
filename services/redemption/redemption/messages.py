"""Every refusal code of the service (API.md) and its refusal, with what happened and what to do in the
words of the counter (or of the family, for a void or a replacement that came too late). The HTTP
status of each code is decided in one place, refusals.py; the rules that raise them are in domain.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from carnet_contracts.display import day as format_day
from carnet_contracts.display import moment as format_moment
from carnet_runtime import Refusal

if TYPE_CHECKING:
    from .domain import Redemption, Ticket

__all__ = [  # the codes, then the refusals
    "CODE_MALFORMED",
    "TICKET_UNKNOWN",
    "TICKET_ALREADY_REDEEMED",
    "TICKET_EXPIRED",
    "TICKET_VOIDED",
    "TICKET_REPLACED",
    "TICKET_RESERVED_FOR_OTHER_AFFILIATE",
    "AFFILIATE_NOT_ACTIVE",
    "IDEMPOTENCY_KEY_REUSED",
    "TOO_MANY_UNKNOWN_CODES",
    "REDEMPTION_UNKNOWN",
    "REDEMPTION_OF_OTHER_AFFILIATE",
    "CANCEL_PERIOD_OVER",
    "REDEMPTION_IN_REIMBURSEMENT_BATCH",
    "REDEMPTION_BUSY",
    "code_malformed",
    "ticket_unknown",
    "ticket_already_redeemed",
    "ticket_expired",
    "ticket_voided",
    "ticket_replaced",
    "ticket_reserved_for_other_affiliate",
    "affiliate_not_active",
    "idempotency_key_reused",
    "too_many_unknown_codes",
    "redemption_busy",
    "void_refused_spent",
    "redemption_unknown",
    "redemption_of_other_affiliate",
    "cancel_period_over",
    "redemption_in_reimbursement_batch",
    "batches_not_known_yet",
]

# Stable refusal codes (API.md).
CODE_MALFORMED = "CODE_MALFORMED"
TICKET_UNKNOWN = "TICKET_UNKNOWN"
TICKET_ALREADY_REDEEMED = "TICKET_ALREADY_REDEEMED"
TICKET_EXPIRED = "TICKET_EXPIRED"
TICKET_VOIDED = "TICKET_VOIDED"
TICKET_REPLACED = "TICKET_REPLACED"
TICKET_RESERVED_FOR_OTHER_AFFILIATE = "TICKET_RESERVED_FOR_OTHER_AFFILIATE"
AFFILIATE_NOT_ACTIVE = "AFFILIATE_NOT_ACTIVE"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
TOO_MANY_UNKNOWN_CODES = "TOO_MANY_UNKNOWN_CODES"
REDEMPTION_UNKNOWN = "REDEMPTION_UNKNOWN"
REDEMPTION_OF_OTHER_AFFILIATE = "REDEMPTION_OF_OTHER_AFFILIATE"
CANCEL_PERIOD_OVER = "CANCEL_PERIOD_OVER"
REDEMPTION_IN_REIMBURSEMENT_BATCH = "REDEMPTION_IN_REIMBURSEMENT_BATCH"
REDEMPTION_BUSY = "REDEMPTION_BUSY"


def code_malformed(reason: str) -> Refusal:
    return Refusal(
        CODE_MALFORMED,
        "Ce code n'est pas un code de ticket valable : un caractère a sans doute été mal saisi. "
        "Vérifiez le code imprimé sous le code-barre et saisissez-le de nouveau, ou scannez le ticket.",
        {"fields": [{"field": "ticket_code", "problem": reason}]},
    )


def ticket_already_redeemed(ticket: Ticket, affiliate_id: str) -> Refusal:
    assert ticket.redeemed_at is not None
    by = "par votre organisme" if ticket.redeemed_by == affiliate_id else "par un autre organisme"
    return Refusal(
        TICKET_ALREADY_REDEEMED,
        f"Ce ticket a déjà été utilisé le {format_moment(ticket.redeemed_at)} {by}. "
        "Un ticket ne s'utilise qu'une fois : ne l'acceptez pas en paiement.",
        {"redeemed_at": ticket.redeemed_at.isoformat(), "redeemed_by_you": ticket.redeemed_by == affiliate_id},
    )


def ticket_expired(ticket: Ticket) -> Refusal:
    end = ticket.valid_through
    return Refusal(
        TICKET_EXPIRED,
        f"Ce ticket n'est plus valable depuis le {format_day(end.date())} : la validité du Pass "
        f"s'est terminée le {format_day(ticket.valid_until)}. Il ne peut plus être encaissé.",
        {"valid_until": ticket.valid_until.isoformat(), "expired_since": end.isoformat()},
    )


def too_many_unknown_codes(wait: timedelta, now: datetime) -> Refusal:
    seconds = max(1, int(-(-wait.total_seconds() // 1)))
    return Refusal(
        TOO_MANY_UNKNOWN_CODES,
        "Trop de codes inconnus ont été saisis en peu de temps : les encaissements de votre organisme "
        f"sont suspendus jusqu'au {format_moment(now + timedelta(seconds=seconds))}. "
        "Vérifiez les tickets présentés, puis réessayez.",
        {"retry_after_seconds": seconds},
        retry_after=seconds,
    )


def void_refused_spent(ticket: Ticket) -> Refusal:
    """Told to the family, whose void request came too late."""
    assert ticket.redeemed_at is not None
    return Refusal(
        TICKET_ALREADY_REDEEMED,
        f"Ce ticket a déjà été utilisé auprès d'un organisme le {format_moment(ticket.redeemed_at)} : "
        "il ne peut plus être annulé et son montant reste dépensé.",
        {"redeemed_at": ticket.redeemed_at.isoformat()},
    )


def cancel_period_over(redemption: Redemption, grace: timedelta) -> Refusal:
    minutes = int(grace.total_seconds() // 60)
    deadline = redemption.redeemed_at + grace
    return Refusal(
        CANCEL_PERIOD_OVER,
        f"Un encaissement s'annule dans les {minutes} minutes ; celui-ci ne pouvait plus l'être après le "
        f"{format_moment(deadline)}. Contactez le Département si le ticket a été encaissé par erreur.",
        {"redeemed_at": redemption.redeemed_at.isoformat(), "cancellable_until": deadline.isoformat()},
    )


def batches_not_known_yet(retry_after_seconds: int) -> Refusal:
    """The admin's cancel, when this service could not apply in time every reimbursement batch already
    made: deciding now might cancel a redemption a batch pays. Nothing changed; a retry will know."""
    return Refusal(
        "SERVICE_UNAVAILABLE",  # the runtime's own code, 503
        "Les derniers remboursements ne sont pas encore connus ici : l'annulation n'a pas été faite. "
        "Réessayez dans quelques secondes.",
        {"retry_after_seconds": retry_after_seconds},
        retry_after=retry_after_seconds,
    )


# The refusals whose message never changes (the others above say what the ticket or redemption is).
_ALWAYS_SAID: dict[str, str] = {
    TICKET_UNKNOWN: (
        "Ce code ne correspond à aucun ticket du Pass. Vérifiez le code saisi ; s'il est exact, "
        "le ticket n'a pas été crédité par la famille et ne peut pas être encaissé."
    ),
    TICKET_VOIDED: (
        "Ce ticket a été annulé et n'a plus de valeur : ne l'acceptez pas. "
        "La famille peut présenter un autre ticket de son Pass."
    ),
    TICKET_REPLACED: (
        "Ce ticket a été déclaré perdu ou volé par la famille et remplacé par un nouveau ticket : "
        "ce code n'a plus de valeur, ne l'acceptez pas. Seul le nouveau ticket envoyé à la famille peut être encaissé."
    ),
    TICKET_RESERVED_FOR_OTHER_AFFILIATE: (
        "La famille a réservé ce ticket à un autre organisme : vous ne pouvez pas l'encaisser. "
        "Elle peut changer l'organisme choisi depuis son espace Pass."
    ),
    AFFILIATE_NOT_ACTIVE: (
        "Votre organisme ne peut pas encaisser de tickets : l'affiliation n'est pas active. "
        "Signez votre convention d'affiliation électronique, ou contactez le Département si votre compte a été suspendu."
    ),
    IDEMPOTENCY_KEY_REUSED: (
        "Cette demande reprend l'identifiant d'une demande précédente faite pour un autre ticket : "
        "rien n'a été encaissé. Scannez ou saisissez de nouveau le ticket."
    ),
    # A request that lost its race more times than competitors can explain: let the scanner retry.
    REDEMPTION_BUSY: "Le ticket est en cours de traitement par une autre demande : réessayez dans un instant.",
    REDEMPTION_UNKNOWN: "Cet encaissement est introuvable : vérifiez sa référence.",
    REDEMPTION_OF_OTHER_AFFILIATE: (
        "Cet encaissement a été fait par un autre organisme : seul l'organisme qui a encaissé le ticket peut "
        "l'annuler."
    ),
    REDEMPTION_IN_REIMBURSEMENT_BATCH: (
        "Cet encaissement fait déjà partie d'un remboursement : il ne peut plus être annulé. "
        "Contactez le Département si le ticket a été encaissé par erreur."
    ),
}


def _always(code: str) -> Callable[[], Refusal]:
    def refusal() -> Refusal:
        return Refusal(code, _ALWAYS_SAID[code])

    refusal.__name__ = code.lower()
    return refusal


ticket_unknown = _always(TICKET_UNKNOWN)
ticket_voided = _always(TICKET_VOIDED)
ticket_replaced = _always(TICKET_REPLACED)
ticket_reserved_for_other_affiliate = _always(TICKET_RESERVED_FOR_OTHER_AFFILIATE)
affiliate_not_active = _always(AFFILIATE_NOT_ACTIVE)
idempotency_key_reused = _always(IDEMPOTENCY_KEY_REUSED)
redemption_busy = _always(REDEMPTION_BUSY)
redemption_unknown = _always(REDEMPTION_UNKNOWN)
redemption_of_other_affiliate = _always(REDEMPTION_OF_OTHER_AFFILIATE)
redemption_in_reimbursement_batch = _always(REDEMPTION_IN_REIMBURSEMENT_BATCH)
