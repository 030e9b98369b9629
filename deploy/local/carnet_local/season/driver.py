"""The plumbing every phase of a season uses: tokens, one request with its retries, waiting for what
happens asynchronously, running work concurrently, and knowing a consumer group has caught up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import httpx

from carnet_contracts.calendar import PARIS

from ..config import local_token
from ..endpoints import Endpoints, ToolError
from .mailbox import Mailbox
from .outcome import Affiliate, CreditedTicket, Family, SeasonOutcome, SeasonSize
from .progress import Phases

T = TypeVar("T")
SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")


class Driver:
    """One campaign season against running services: its state, and how it talks to them."""

    def __init__(self, endpoints: Endpoints, size: SeasonSize = SeasonSize(), *, campaign_id: str | None = None,
                 phases: Phases | None = None, timeout: float = 120.0, concurrency: int = 8,
                 after_phase: Callable[[str], Awaitable[None]] | None = None):
        self.ep = endpoints
        self.size = size
        self.run_id = uuid.uuid4().hex[:6]
        self.campaign_id = campaign_id or f"demo-{datetime.now(PARIS):%Y%m%d-%H%M%S}-{self.run_id}"
        self.phases = phases or Phases()
        self.timeout = timeout
        self.after_phase = after_phase
        self.mailbox = Mailbox(endpoints.mail_dir)
        self.limit = asyncio.Semaphore(concurrency)
        self.outcome = SeasonOutcome(campaign_id=self.campaign_id, closed_campaign_id=f"{self.campaign_id}-closed")
        self.http: httpx.AsyncClient
        self.campaign: dict[str, Any] = {}
        self.schools: list[str] = []
        self.affiliates: list[Affiliate] = []
        self.families: list[Family] = []
        self.tickets: list[CreditedTicket] = []   # every credit, in order
        self.late: list[CreditedTicket] = []      # redeemed once the batch is paid
        self.in_flight: Counter = Counter()       # requests sent to each service and not answered yet
        self._services = {getattr(endpoints, name).rstrip("/"): name for name in SERVICES}

    # --- who acts -------------------------------------------------------------------------------------

    def token(self, role: str, sub: str, **claims: Any) -> dict[str, str]:
        token = local_token(self.ep.keys_dir, role, sub=sub, ttl_seconds=4 * 3600, **claims)
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.token("admin", "admin-demo")

    def correspondent(self, school_id: str) -> dict[str, str]:
        return self.token("correspondent", f"correspondant-{school_id}", school_id=school_id)

    def acting_for(self, family: Family) -> dict[str, str]:
        """The family itself, or for a family without internet, its school's correspondent."""
        return self.correspondent(family.school_id) if family.sub is None else self.token("family", family.sub)

    # --- requests -------------------------------------------------------------------------------------

    async def call(self, method: str, url: str, *, expect: tuple[int, ...] = (200,), what: str,
                   headers: dict[str, str] | None = None, idempotent: bool = False, **kwargs: Any) -> httpx.Response:
        """One request. A service that refuses the connection (restarting) is waited for, since nothing
        reached it; a request cut off midway is sent again only when that is harmless (GET, PUT, or a
        call the service makes idempotent, like a redemption with its Idempotency-Key). Any answer
        outside `expect` ends the season with one line."""
        deadline = time.monotonic() + self.timeout
        again = idempotent or method in ("GET", "PUT")
        service = next((name for base, name in self._services.items() if url.startswith(base + "/")), "?")
        while True:
            try:
                async with self.limit:
                    self.in_flight[service] += 1
                    try:
                        answer = await self.http.request(method, url, headers=headers, **kwargs)
                    finally:
                        self.in_flight[service] -= 1
            except httpx.TransportError as exc:
                unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if not (unsent or again):
                    raise ToolError(f"{what}: {method} {url} cut off ({exc.__class__.__name__}); not sent again") from None
                if time.monotonic() > deadline:
                    raise ToolError(f"{what}: {url} unreachable for {self.timeout:.0f} s ({exc.__class__.__name__})") from None
                self.outcome.resent["unsent, waited for" if unsent else "cut off, sent again"] += 1
                await asyncio.sleep(0.5)
                continue
            if answer.status_code == 503 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)  # a restarting service is not ready yet
                continue
            if answer.status_code not in expect:
                raise ToolError(f"{what}: {method} {url} answered {answer.status_code} {answer.text[:300]}")
            return answer

    async def refused(self, method: str, url: str, code: str, *, what: str, headers: dict[str, str],
                      **kwargs: Any) -> httpx.Response:
        answer = await self.call(method, url, expect=(403, 404, 409, 422, 429), what=what, headers=headers, **kwargs)
        got = answer.json().get("error", {}).get("code")
        if got != code:
            raise ToolError(f"{what}: expected the refusal {code}, got {answer.status_code} {got}")
        return answer

    async def wallet(self, family: Family, what: str) -> dict[str, Any]:
        return (await self.call("GET", f"{self.ep.wallet}/v1/wallets/{family.wallet_id}",
                                headers=self.acting_for(family), what=what)).json()

    async def void_shown(self, t: CreditedTicket, after: str) -> None:
        """Wait until a voided ticket is blank again in its family's wallet (the redemption service
        answered), then count the void."""
        async def probe() -> bool:
            wallet = await self.wallet(t.family, f"following {after}")
            return any(x["ticket_id"] == t.ticket_id and x["status"] == "blank" for x in wallet["tickets"])

        await self.until(f"ticket {t.ticket_id} blank again after {after}", probe)
        self.outcome.ledger.void(t.ticket_id)
        self.outcome.voided_tickets += 1
        self.outcome.voided_cents += t.amount

    # --- waiting and concurrency ----------------------------------------------------------------------

    async def until(self, what: str, probe: Callable[[], Awaitable[T | None]], *, timeout: float | None = None,
                    interval: float = 0.3) -> T:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            found = await probe()
            if found is not None and found is not False:
                return found
            if time.monotonic() > deadline:
                raise ToolError(f"{what} did not happen within {timeout or self.timeout:.0f} s")
            await asyncio.sleep(interval)

    async def each(self, items: list[T], work: Callable[[T], Awaitable[Any]], *, midway: str | None = None) -> list[Any]:
        """`work` on every item, concurrently; `after_phase(midway)` runs when half of them are done,
        while the other half is in flight."""
        finished = 0
        hooks: list[asyncio.Task] = []

        async def one(item: T) -> Any:
            nonlocal finished
            result = await work(item)
            self.phases.advance()
            finished += 1
            if midway and self.after_phase and finished == max(1, len(items) // 2):
                hooks.append(asyncio.create_task(self.after_phase(midway)))
            return result

        results = list(await asyncio.gather(*(one(item) for item in items)))
        await asyncio.gather(*hooks)
        return results

    async def phase_done(self, name: str, summary: str) -> None:
        self.phases.done(summary)
        if self.after_phase is not None:
            await self.after_phase(name)

    async def caught_up(self, group: str, topics: list[str], what: str) -> None:
        """Wait until `group` has consumed everything published on `topics` (its committed offsets reach
        the end offsets, and no new event came for a moment): the asynchronous effects are then visible."""
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.ep.kafka_bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.ep.kafka_bootstrap, enable_auto_commit=False)
        await admin.start()
        await consumer.start()
        try:
            # the broker's own description: a consumer subscribed to none of them knows no partition of theirs
            # (partitions_for_topic is None, even after consumer.topics()), and a barrier on no partition
            # would pass at once
            described = await admin.describe_topics(topics)
            missing = sorted({d["topic"] for d in described if d["error_code"]}
                             | (set(topics) - {d["topic"] for d in described}))
            if missing:
                raise ToolError(f"{what}: no topic {', '.join(missing)} on the broker")
            partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
            steady_since: float | None = None
            last_end: dict = {}

            async def probe() -> bool:
                nonlocal steady_since, last_end
                end = await consumer.end_offsets(partitions)
                committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
                # a partition that never held an event has nothing to commit
                done = all(end[tp] == 0 or (tp in committed and committed[tp].offset >= end[tp]) for tp in partitions)
                if not done or end != last_end:
                    steady_since, last_end = None, end
                    return False
                steady_since = steady_since or time.monotonic()
                return time.monotonic() - steady_since >= 1.0

            await self.until(what, probe, interval=0.25)
        finally:
            await consumer.stop()
            await admin.close()
