"""What the scanner asks: redeem, check, list, cancel. Each reads, asks the domain, writes once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import Counter, Histogram

from carnet_contracts import ticket_code
from carnet_contracts.events import RedemptionCancelled, RedemptionRejected, TicketRedeemed
from carnet_runtime import DomainError

from . import domain as d
from .answers import HTTP_STATUS, NOT_KEPT, Answer, as_answer, error_body
from .store import RedemptionStore, outbox_row

REDEMPTIONS = Counter(
    "carnet_redemption_answers_total", "Answers to POST /v1/redemptions, by outcome (201 or refusal code)", ["outcome"]
)

REDEMPTION_SECONDS = Histogram(
    "carnet_redemption_duration_seconds", "Time to answer POST /v1/redemptions, whatever the outcome",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

# A request loses a race at most once per competitor that changed the ticket or took the key
# meanwhile; after that it finds the final state. A few laps are plenty.
MAX_LAPS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Answered:
    status_code: int
    body: dict[str, Any]


class Scanner:
    def __init__(
        self, store: RedemptionStore, code_hash_key: bytes, limit: d.GuessingLimit, clock: Callable[[], datetime] = utc_now
    ):
        self.store = store
        self.code_hash_key = code_hash_key
        self.limit = limit
        self.clock = clock

    def code_hash(self, text: str) -> str:
        try:
            return ticket_code.code_hash(text, self.code_hash_key)
        except ticket_code.MalformedTicketCode as exc:
            raise as_answer(d.code_malformed(str(exc))) from None

    async def redeem(self, affiliate_id: str, idempotency_key: str, text: str) -> Answered:
        with REDEMPTION_SECONDS.time():
            return await self._redeem_code(affiliate_id, idempotency_key, text)

    async def _redeem_code(self, affiliate_id: str, idempotency_key: str, text: str) -> Answered:
        try:
            code_hash = self.code_hash(text)
        except Answer:
            REDEMPTIONS.labels(d.CODE_MALFORMED).inc()
            raise
        async with self.store.pool.acquire() as conn:
            return await self._redeem(conn, affiliate_id, idempotency_key, code_hash)

    async def _redeem(self, conn: asyncpg.Connection, affiliate_id: str, idempotency_key: str, code_hash: str) -> Answered:
        for _ in range(MAX_LAPS):
            now = self.clock()
            look = await self.store.look(conn, affiliate_id, code_hash, idempotency_key)
            if look.stored is not None:
                try:
                    d.check_same_request(look.stored.fingerprint, code_hash)
                except d.Refusal as refusal:
                    REDEMPTIONS.labels(refusal.code).inc()
                    raise as_answer(refusal) from None
                REDEMPTIONS.labels("replayed").inc()
                return Answered(look.stored.status_code, look.stored.answer)
            try:
                ticket = d.check_redemption(look.ticket, look.affiliate, affiliate_id, now, self.limit)
            except d.Refusal as refusal:
                if refusal.code in NOT_KEPT:
                    REDEMPTIONS.labels(refusal.code).inc()
                    raise as_answer(refusal) from None
                answer = Answered(HTTP_STATUS[refusal.code], error_body(refusal))
                rejected = RedemptionRejected(
                    ticket_id=look.ticket.ticket_id if look.ticket else None,
                    affiliate_id=affiliate_id,
                    campaign_id=look.ticket.campaign_id if look.ticket else None,
                    reason_code=refusal.code,
                    attempted_at=now,
                )
                if await self.store.keep_refusal(
                    conn,
                    affiliate_id,
                    idempotency_key,
                    code_hash,
                    answer.status_code,
                    answer.body,
                    now,
                    refusal.code == d.TICKET_UNKNOWN,
                    outbox_row(rejected),
                ):
                    REDEMPTIONS.labels(refusal.code).inc()
                    return answer
                continue  # the key was taken meanwhile: its first answer is the answer
            _, redemption = d.redeem(ticket, affiliate_id, str(uuid.uuid4()), now)
            redeemed = TicketRedeemed(
                redemption_id=redemption.redemption_id,
                ticket_id=redemption.ticket_id,
                wallet_id=redemption.wallet_id,
                campaign_id=redemption.campaign_id,
                affiliate_id=affiliate_id,
                amount_cents=redemption.amount_cents,
                code_suffix=look.code_suffix or "",
                redeemed_at=now,
            )
            try:
                if await self.store.spend(conn, redemption, code_hash, idempotency_key, outbox_row(redeemed)):
                    REDEMPTIONS.labels("201").inc()
                    return Answered(201, redemption.answer())
            except asyncpg.UniqueViolationError:
                pass  # the same key won elsewhere meanwhile; nothing was written here
        raise DomainError(
            "REDEMPTION_BUSY",
            "Le ticket est en cours de traitement par une autre demande : réessayez dans un instant.",
            status=503,
        )

    async def check(self, affiliate_id: str, text: str) -> dict[str, Any]:
        """What redeeming would do now, without redeeming (an unknown code still counts as a guess)."""
        code_hash = self.code_hash(text)
        now = self.clock()
        async with self.store.pool.acquire() as conn:
            look = await self.store.look(conn, affiliate_id, code_hash, None)
            try:
                ticket = d.check_redemption(look.ticket, look.affiliate, affiliate_id, now, self.limit)
            except d.Refusal as refusal:
                if refusal.code == d.TICKET_UNKNOWN:
                    await self.store.note_unknown_code(conn, affiliate_id, now)
                extra: dict[str, Any] = {"redeemable": False}
                if look.ticket is not None and refusal.code not in (d.AFFILIATE_NOT_ACTIVE, d.TOO_MANY_UNKNOWN_CODES):
                    extra["amount_cents"] = look.ticket.amount_cents
                raise as_answer(refusal, **extra) from None
        return {
            "redeemable": True,
            "ticket_id": ticket.ticket_id,
            "amount_cents": ticket.amount_cents,
            "valid_until": ticket.valid_until.isoformat(),
            "code_suffix": look.code_suffix,
            "reserved_for_you": ticket.reserved_for == affiliate_id,
        }

    async def redemptions(
        self, affiliate_id: str, since: datetime | None, until: datetime | None, limit: int
    ) -> dict[str, Any]:
        found = await self.store.redemptions_of(affiliate_id, since, until, limit)
        items = [view(r, suffix) for r, suffix in found]
        return {
            "redemptions": items,
            "count": len(items),
            "total_cents": sum(r.amount_cents for r, _ in found if r.status is d.RedemptionStatus.ACTIVE),
        }

    async def cancel(self, affiliate_id: str, redemption_id: str) -> dict[str, Any]:
        try:
            rid = uuid.UUID(redemption_id)
        except ValueError:
            raise as_answer(d.redemption_unknown()) from None
        try:
            async with self.store.pool.acquire() as conn, conn.transaction():
                found = await self.store.redemption_for_update(conn, rid)
                if found is None:
                    raise d.redemption_unknown()
                redemption, ticket, campaign = found
                now = self.clock()
                if d.check_cancel(redemption, affiliate_id, d.cancel_grace(campaign), now):
                    redemption, restored = d.cancel(redemption, ticket, now)
                    await self.store.save_cancel(conn, redemption, restored)
                    await self.store.add_event(
                        conn,
                        outbox_row(
                            RedemptionCancelled(
                                redemption_id=redemption.redemption_id,
                                ticket_id=redemption.ticket_id,
                                wallet_id=redemption.wallet_id,
                                campaign_id=redemption.campaign_id,
                                affiliate_id=redemption.affiliate_id,
                                amount_cents=redemption.amount_cents,
                                cancelled_at=now,
                            )
                        ),
                    )
        except d.Refusal as refusal:
            raise as_answer(refusal) from None
        return view(redemption, None)


def view(redemption: d.Redemption, code_suffix: str | None) -> dict[str, Any]:
    body = {
        **redemption.answer(),
        "wallet_id": redemption.wallet_id,
        "campaign_id": redemption.campaign_id,
        "status": redemption.status.value,
        "cancelled_at": redemption.cancelled_at.isoformat() if redemption.cancelled_at else None,
        "in_reimbursement_batch": redemption.batch_id is not None,
    }
    if code_suffix is not None:
        body["code_suffix"] = code_suffix
    return body
