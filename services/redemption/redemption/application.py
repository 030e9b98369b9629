"""The use cases: what an affiliate's scanner asks (redeem, check, list, cancel) and what the other
services' events change here. Each loads through its store or unit of work, asks the domain, writes
once, and says what happened in events; none knows SQL or HTTP.

The scanner's requests run on `ScannerStore` (one pooled connection, one-statement writes whose
outbox event rides in the same statement); cancel and the events run in a `RedemptionUnitOfWork`
(one transaction, events written to the outbox at commit).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram

from carnet_contracts import ticket_code
from carnet_contracts.events import (
    AffiliateActivated,
    AffiliateSuspended,
    CampaignPublished,
    CampaignPurgeStarted,
    RedemptionCancelled,
    RedemptionRejected,
    ReimbursementBatchCreated,
    TicketAssigned,
    TicketCredited,
    TicketRedeemed,
    TicketReplaced,
    TicketReplaceRefused,
    TicketReplaceRequested,
    TicketVoided,
    TicketVoidRefused,
    TicketVoidRequested,
)
from carnet_runtime import Refusal, invalid_fields
from carnet_runtime.auth import Principal

from . import domain as d
from .refusals import REFUSALS

if TYPE_CHECKING:
    from .store import RedemptionUnitOfWork, ScannerStore

log = logging.getLogger(__name__)

REDEMPTIONS = Counter(
    "carnet_redemption_answers_total", "Answers to POST /v1/redemptions, by outcome (201 or refusal code)", ["outcome"]
)
_WON = REDEMPTIONS.labels("201")
_REPLAYED = REDEMPTIONS.labels("replayed")

REDEMPTION_SECONDS = Histogram(
    "carnet_redemption_duration_seconds", "Time to answer POST /v1/redemptions, whatever the outcome",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

# A request loses a race at most once per competitor that changed the ticket or took the key
# meanwhile; after that it finds the final state. A few laps are plenty.
MAX_LAPS = 5

# Refusals that depend on the moment or on the request, not on the ticket: never kept as a key's
# first answer (a retry with the same key is answered afresh).
NOT_KEPT = frozenset({d.TOO_MANY_UNKNOWN_CODES, d.CODE_MALFORMED, d.IDEMPOTENCY_KEY_REUSED})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class KeptAnswer:
    """What an Idempotency-Key answers, the first time and on every retry, byte for byte: a 201 with
    the redemption, or a refusal about the ticket or the affiliate with its status from REFUSALS."""

    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class TicketCheck:
    """What redeeming would do now. Redeemable: `ticket` would be spent. Not: `refusal` is what
    redeeming would answer, and `amount_cents` the ticket's amount when the refusal is about the
    ticket itself (never told to an affiliate that may not redeem or is throttled)."""

    ticket: d.Ticket | None
    code_suffix: str | None = None
    reserved_for_you: bool = False
    refusal: Refusal | None = None
    amount_cents: int | None = None


@dataclass(frozen=True)
class LateCorrection:
    """The admin's cancel of a redemption after the grace period: why, and what the ticket becomes."""

    reason: str
    then: d.Then = d.Then.REDEEMABLE


@dataclass(frozen=True)
class RedemptionList:
    redemptions: list[tuple[d.Redemption, str]]  # with the ticket's code suffix

    @property
    def total_cents(self) -> int:
        return sum(r.amount_cents for r, _ in self.redemptions if r.status is d.RedemptionStatus.ACTIVE)


async def _always_known() -> bool:
    return True


# How long an admin whose cancel could not learn the latest batches is told to wait before retrying.
BATCHES_RETRY_AFTER_SECONDS = 5


class Scanner:
    """An affiliate's scanner: redeem, check, list and cancel.

    `batches_known()` says, waiting a bounded time, whether every reimbursement batch the affiliation
    service has made is applied here (the runtime's barrier on its topic): the admin's cancel asks it
    first, so that a batch answered 201 is never paid for a redemption cancelled after it."""

    def __init__(self, code_hash_key: bytes, limit: d.GuessingLimit, clock: Callable[[], datetime] = utc_now,
                 batches_known: Callable[[], Awaitable[bool]] = _always_known):
        self.code_hash_key = code_hash_key
        self.limit = limit
        self.clock = clock
        self.batches_known = batches_known

    def code_hash(self, text: str) -> str:
        """The keyed hash of the canonical code; CODE_MALFORMED when the text cannot be a code."""
        try:
            return ticket_code.code_hash(text, self.code_hash_key)
        except ticket_code.MalformedTicketCode as exc:
            raise d.code_malformed(str(exc)) from None

    async def redeem(self, store: ScannerStore, affiliate_id: str, idempotency_key: str, text: str) -> KeptAnswer:
        """Spend the ticket whose code is `text`, once per ticket and once per key: the key's first
        answer (a 201, or a refusal about the ticket) is every retry's answer. The hot path: one
        statement when the ticket can be spent (`spend_or_look`), a second to keep a refusal."""
        with REDEMPTION_SECONDS.time():
            try:
                code_hash = self.code_hash(text)
            except Refusal as refusal:
                REDEMPTIONS.labels(refusal.code).inc()
                raise
            async with store.connection() as conn:
                for _ in range(MAX_LAPS):
                    now = self.clock()
                    redemption_id = str(uuid.uuid4())
                    # The ticket's own facts (store.TICKET_FACTS) are written by the statement from the row it spends.
                    redeemed = TicketRedeemed(redemption_id=redemption_id, ticket_id="", wallet_id="", campaign_id="",
                                              affiliate_id=affiliate_id, amount_cents=0, code_suffix="", redeemed_at=now)
                    spent = await store.spend_or_look(conn, affiliate_id, code_hash, idempotency_key, redemption_id,
                                                      now, redeemed)
                    if spent is None:
                        continue  # the key was taken meanwhile: its first answer is the answer
                    if spent.ticket is not None:
                        _, redemption = d.redeem(spent.ticket, affiliate_id, redemption_id, now)
                        _WON.inc()
                        return KeptAnswer(201, redemption.answer())
                    look = spent.look
                    try:
                        if look.stored is not None:
                            d.check_same_request(look.stored.fingerprint, code_hash)
                            _REPLAYED.inc()
                            return KeptAnswer(look.stored.status_code, look.stored.body)
                        d.check_redemption(look.ticket, look.affiliate, affiliate_id, now, self.limit, look.retired)
                    except Refusal as refusal:
                        if refusal.code in NOT_KEPT:
                            REDEMPTIONS.labels(refusal.code).inc()
                            raise
                        answer = KeptAnswer(REFUSALS[refusal.code], refusal.body())
                        rejected = RedemptionRejected(
                            ticket_id=look.ticket.ticket_id if look.ticket else None,
                            affiliate_id=affiliate_id,
                            campaign_id=look.ticket.campaign_id if look.ticket else None,
                            reason_code=refusal.code,
                            attempted_at=now,
                        )
                        unknown = refusal.code == d.TICKET_UNKNOWN
                        if await store.keep_refusal(conn, affiliate_id, idempotency_key, code_hash,
                                                    answer.status_code, answer.body, now, unknown, rejected):
                            REDEMPTIONS.labels(refusal.code).inc()
                            return answer
                    # Redeemable as seen, yet not spent (a competitor changed the ticket or took the key
                    # meanwhile), or the refusal's key was taken meanwhile: look again.
            REDEMPTIONS.labels(d.REDEMPTION_BUSY).inc()
            raise d.redemption_busy()

    async def check(self, store: ScannerStore, affiliate_id: str, text: str) -> TicketCheck:
        """What redeeming would do now, without redeeming (an unknown code still counts as a guess)."""
        code_hash = self.code_hash(text)
        now = self.clock()
        async with store.connection() as conn:
            look = await store.look(conn, affiliate_id, code_hash, None)
            try:
                ticket = d.check_redemption(look.ticket, look.affiliate, affiliate_id, now, self.limit, look.retired)
            except Refusal as refusal:
                if refusal.code == d.TICKET_UNKNOWN:
                    await store.note_unknown_code(conn, affiliate_id, now)
                about_the_ticket = refusal.code not in (d.AFFILIATE_NOT_ACTIVE, d.TOO_MANY_UNKNOWN_CODES)
                shown = look.ticket.amount_cents if look.ticket is not None and about_the_ticket else None
                return TicketCheck(None, refusal=refusal, amount_cents=shown)
        return TicketCheck(ticket, look.code_suffix, ticket.reserved_for == affiliate_id, amount_cents=ticket.amount_cents)

    async def redemptions(
        self, store: ScannerStore, affiliate_id: str, since: datetime | None, until: datetime | None, limit: int
    ) -> RedemptionList:
        """The affiliate's own redemptions between two instants, oldest first."""
        return RedemptionList(await store.redemptions_of(affiliate_id, since, until, limit))

    async def cancel_as(self, uow: RedemptionUnitOfWork, actor: Principal, redemption_id: str,
                        correction: LateCorrection | None) -> d.Redemption:
        """POST /v1/redemptions/{id}/cancel: the affiliate's own cancel (no body), or the admin's late
        correction (a reason is required)."""
        if actor.role != "admin":
            assert actor.affiliate_id is not None
            return await self.cancel(uow, actor.affiliate_id, redemption_id)
        if correction is None:
            raise invalid_fields({"reason": "required: why the redemption is cancelled"})
        return await self.correct(uow, actor.sub, redemption_id, correction)

    async def cancel(self, uow: RedemptionUnitOfWork, affiliate_id: str, redemption_id: str) -> d.Redemption:
        """Undo a mistaken redemption within the campaign's grace period: the ticket is redeemable again."""
        async with uow:
            redemption, ticket, campaign = await _redemption_for_update(uow, redemption_id)
            now = self.clock()
            if d.check_cancel(redemption, affiliate_id, d.cancel_grace(campaign), now):
                redemption = await _cancel(uow, *d.cancel(redemption, ticket, now), now)
        return redemption

    async def correct(self, uow: RedemptionUnitOfWork, admin_sub: str, redemption_id: str,
                      correction: LateCorrection) -> d.Redemption:
        """The admin cancels a redemption at any time until a reimbursement batch holds it, with a reason
        (kept with who and when): the ticket is redeemable again, or voided (its code retired for ever,
        TicketVoided after RedemptionCancelled). Decided only once every batch already made is applied
        here (SERVICE_UNAVAILABLE, retryable, when that cannot be known in time)."""
        if not await self.batches_known():
            raise d.batches_not_known_yet(BATCHES_RETRY_AFTER_SECONDS)
        async with uow:
            redemption, ticket, _ = await _redemption_for_update(uow, redemption_id)
            now = self.clock()
            if d.check_late_correction(redemption):
                cancelled, ticket = d.cancel(redemption, ticket, now, by_role=d.CancelledBy.ADMIN, by=admin_sub,
                                             reason=correction.reason, then=correction.then)
                redemption = await _cancel(uow, cancelled, ticket, now)
        return redemption


async def _redemption_for_update(
    uow: RedemptionUnitOfWork, redemption_id: str
) -> tuple[d.Redemption, d.Ticket, d.Campaign | None]:
    try:
        rid = uuid.UUID(redemption_id)
    except ValueError:
        raise d.redemption_unknown() from None
    found = await uow.redemptions.get_for_update(rid)
    if found is None:
        raise d.redemption_unknown()
    return found


async def _cancel(uow: RedemptionUnitOfWork, redemption: d.Redemption, ticket: d.Ticket, now: datetime) -> d.Redemption:
    """Store a cancel `domain.cancel` decided, and say so; a ticket voided by it has its code retired."""
    await uow.redemptions.save_cancelled(redemption)
    await uow.tickets.save(ticket)
    assert redemption.cancelled_by_role is not None and redemption.cancel_then is not None
    uow.publish(RedemptionCancelled(
        redemption_id=redemption.redemption_id, ticket_id=redemption.ticket_id, wallet_id=redemption.wallet_id,
        campaign_id=redemption.campaign_id, affiliate_id=redemption.affiliate_id,
        amount_cents=redemption.amount_cents, cancelled_at=now, cancelled_by_role=redemption.cancelled_by_role.value,
        reason=redemption.cancel_reason, then=redemption.cancel_then.value,
    ))
    if ticket.status is d.TicketStatus.VOIDED:
        await uow.tickets.retire_code(ticket.ticket_id, d.Retired.VOIDED, now)
        uow.publish(TicketVoided(ticket_id=ticket.ticket_id, wallet_id=ticket.wallet_id,
                                 campaign_id=ticket.campaign_id, amount_cents=ticket.amount_cents, voided_at=now))
    return redemption


# --- what the other services' events change ----------------------------------------------------


async def credit_ticket(uow: RedemptionUnitOfWork, event: TicketCredited) -> None:
    """The wallet credited a ticket: redeemable under its code's hash (a spent ticket stays spent). A
    ticket voided then credited again comes with a new code; a retired code never comes back."""
    async with uow:
        if await uow.tickets.is_retired(event.code_hash):
            log.warning("a credit names a retired code: ignored", extra={"ticket_id": event.ticket_id})
            return
        existing = await uow.tickets.get_for_update(event.ticket_id)
        incoming = d.Ticket(ticket_id=event.ticket_id, wallet_id=event.wallet_id, campaign_id=event.campaign_id,
                            amount_cents=event.amount_cents, valid_until=event.valid_until,
                            reserved_for=event.affiliate_id)
        if d.apply_credited(existing, incoming) is incoming:
            await uow.tickets.save_credited(incoming, event.code_hash, event.code_suffix)


async def assign_ticket(uow: RedemptionUnitOfWork, event: TicketAssigned) -> None:
    """The family reserved a ticket for one affiliate (or for none)."""
    async with uow:
        ticket = await uow.tickets.get_for_update(event.ticket_id)
        if ticket is not None:
            await uow.tickets.save(d.apply_assigned(ticket, event.affiliate_id))


async def void_ticket(
    uow: RedemptionUnitOfWork, event: TicketVoidRequested, clock: Callable[[], datetime] = utc_now
) -> None:
    """The family asked to void a ticket: voided if not spent, its code retired for ever (TicketVoided;
    the wallet may credit it again, with a new code), refused with the reason if spent
    (TicketVoidRefused); this service alone knows which."""
    async with uow:
        decision = d.void(await uow.tickets.get_for_update(event.ticket_id))
        if decision.refusal is None:
            now = clock()
            if decision.ticket is not None:
                await uow.tickets.save(decision.ticket)
                await uow.tickets.retire_code(event.ticket_id, d.Retired.VOIDED, now)
            uow.publish(TicketVoided(
                ticket_id=event.ticket_id,
                wallet_id=event.wallet_id,
                campaign_id=event.campaign_id,
                amount_cents=decision.ticket.amount_cents if decision.ticket else 0,
                voided_at=now,
            ))
        else:
            assert decision.ticket is not None
            uow.publish(TicketVoidRefused(
                ticket_id=event.ticket_id,
                wallet_id=event.wallet_id,
                campaign_id=event.campaign_id,
                reason_code=decision.refusal.code,
                reason=decision.refusal.message,
                redeemed_at=decision.ticket.redeemed_at,
            ))


async def replace_ticket(
    uow: RedemptionUnitOfWork, event: TicketReplaceRequested, clock: Callable[[], datetime] = utc_now
) -> bool:
    """A lost or stolen ticket: if still redeemable, its old code is retired as replaced and the new one
    is its code (TicketReplaced); if it was redeemed meanwhile, it stays so (TicketReplaceRefused, with
    when and by whom). One conditional statement decides, under the guard a redemption takes, so a
    replacement racing a redemption ends with exactly one of them."""
    async with uow:
        now = clock()
        replaced, ticket = await uow.tickets.replace_code(event.ticket_id, event.new_code_hash,
                                                          event.new_code_suffix, now)
        if replaced:
            uow.publish(TicketReplaced(ticket_id=event.ticket_id, wallet_id=event.wallet_id,
                                       campaign_id=event.campaign_id, replaced_at=now))
        else:
            refusal = d.replace_refused(ticket)
            uow.publish(TicketReplaceRefused(
                ticket_id=event.ticket_id,
                wallet_id=event.wallet_id,
                campaign_id=event.campaign_id,
                reason_code=refusal.code,
                reason=refusal.message,
                redeemed_at=ticket.redeemed_at if ticket else None,
                affiliate_id=ticket.redeemed_by if ticket else None,
            ))
    return replaced


async def activate_affiliate(uow: RedemptionUnitOfWork, event: AffiliateActivated) -> None:
    async with uow:
        await uow.affiliates.set_active(event.affiliate_id, True)


async def suspend_affiliate(uow: RedemptionUnitOfWork, event: AffiliateSuspended) -> None:
    async with uow:
        await uow.affiliates.set_active(event.affiliate_id, False)


async def publish_campaign(uow: RedemptionUnitOfWork, event: CampaignPublished) -> None:
    """A campaign's grace period for cancels, and its validity end for its tickets."""
    async with uow:
        await uow.campaigns.save(d.Campaign(event.campaign_id, event.redemption_cancel_grace_minutes),
                                 event.pass_valid_until)


async def lock_in_batch(uow: RedemptionUnitOfWork, event: ReimbursementBatchCreated) -> int:
    """A reimbursement batch locks its redemptions against cancel; how many it locked here."""
    async with uow:
        locked = await uow.redemptions.lock_in_batch(event.batch_id, event.redemption_ids)
    if locked != len(event.redemption_ids):
        # Already locked by a redelivery under another event id, or unknown here: worth a look, never a stop.
        log.warning(
            "reimbursement batch names redemptions not locked here",
            extra={"batch_id": event.batch_id, "expected": len(event.redemption_ids), "locked": locked},
        )
    return locked


async def purge_campaign(uow: RedemptionUnitOfWork, event: CampaignPurgeStarted) -> None:
    """This service's share of a campaign's purge: the staff accounts and free-text reasons of its late
    corrections (amounts, dates and what the ticket became are kept for the figures)."""
    async with uow:
        await uow.redemptions.forget_correctors(event.campaign_id)
