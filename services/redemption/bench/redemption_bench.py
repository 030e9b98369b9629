"""Redemption benchmark: prints figures, never passes or fails.

(a) baseline: the redemption use case without HTTP (Scanner.redeem on the ScannerStore: the one
    statement that spends the ticket with its redemption row, idempotency row and outbox event, on a
    pool of the same size) straight through asyncpg, at each concurrency;
(b) full path: HTTP -> service process -> the same statements -> response, at rising concurrency
    (at each level (a) and (b) run in turn, in --rounds slices each, so both meet the same moments of a
    machine whose pace drifts), and open-loop at a fixed rate (default 400/s) for the p99 aim, then (a)
    at the same rate, and where the machine's CPU went during each (load generator, service, PostgreSQL,
    Kafka: ms per redemption, and the cores busy), so that the tail reads against what the machine had left;
(c) lag from a 201 to the wallet showing the ticket redeemed, when the wallet service is runnable;
    otherwise from a 201 to the TicketRedeemed event readable on Kafka (said in the output);
(d) where the service's CPU goes on the full path: py-spy samples the service's processes during a
    closed-loop run (cpu_profile.py), by stage and by hottest frame, in ms of CPU per redemption.

Usage: uv run python services/redemption/bench/redemption_bench.py [--levels 1,8,32,64] [--requests 1500]
PostgreSQL and Kafka: the test stack's (started here, or CARNET_TEST_DATABASE_URL / CARNET_TEST_KAFKA_BOOTSTRAP).
The load generator shares the machine's cores with the service and the database: figures are for this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

from carnet_contracts import ticket_code
from carnet_contracts.topics import REDEMPTION_REDEMPTIONS
from carnet_local.testing import TestStack, start_test_stack
from carnet_runtime import db
from carnet_runtime.outbox import Outbox
from redemption import domain as d
from redemption.app import MIGRATIONS
from redemption.application import Scanner
from redemption.store import ScannerStore, scanner_pool

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu_profile  # noqa: E402  (beside this file)
from carnet_local.profiling import Profile  # noqa: E402
from http_load import Figures, HttpConnection, fixed_rate, full_path, liveness, paced, percentile  # noqa: E402

POOL_SIZE = 10  # the service's scanner pool (CARNET_REDEMPTION_SCANNER_POOL_SIZE), so (a) and (b) use as many connections


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (a service's worker processes), from /proc
    (Linux): the service's own cost, whatever the load."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return own + sum(_still_running(child) for child in children)


def _still_running(pid: int) -> float:
    """A child's CPU, or 0 for one that ended since it was listed (a PostgreSQL backend closing)."""
    try:
        return cpu_seconds(pid)
    except FileNotFoundError:
        return 0.0


def busy_cores_seconds() -> float:
    """CPU seconds the whole machine spent on anything but idling (all cores, from /proc/stat)."""
    jiffies = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(jiffies[:8]) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")


class MachineSplit:
    """Where the machine's CPU went during a run, by process: the load generator (this process), the
    service, PostgreSQL and Kafka (their processes and children, when the stack started them here), the
    rest, and how busy the machine was: so that an open loop's tail can be read against the cores left."""

    def __init__(self, service_cpu, stack: TestStack):
        self.groups = {"load generator": time.process_time, "service": service_cpu}
        if stack.postgres is not None and stack.postgres.process is not None:
            self.groups["PostgreSQL"] = lambda pid=stack.postgres.process.pid: cpu_seconds(pid)
        kafka = getattr(stack.kafka, "process", None)
        if kafka is not None:
            self.groups["Kafka"] = lambda pid=kafka.pid: cpu_seconds(pid)
        self._start = self._snapshot()

    def _snapshot(self) -> tuple[float, float, dict[str, float]]:
        return time.perf_counter(), busy_cores_seconds(), {name: seconds() for name, seconds in self.groups.items()}

    def line(self, items: int) -> str:
        wall0, busy0, groups0 = self._start
        wall1, busy1, groups1 = self._snapshot()
        spent = {name: groups1[name] - groups0[name] for name in self.groups}
        spent["the rest"] = max(0.0, (busy1 - busy0) - sum(spent.values()))
        return ("    where the machine's CPU went, ms per redemption: "
                + ", ".join(f"{name} {seconds / items * 1000:.2f}" for name, seconds in spent.items())
                + f"; the machine busy {(busy1 - busy0) / (wall1 - wall0):.2f} of {os.cpu_count()} cores")


# --- seeding -----------------------------------------------------------------------------------


async def seed(dsn: str, key: bytes, affiliate_id: str, count: int) -> list[str]:
    """Redeemable tickets straight into the redemption database (as TicketCredited would leave them)."""
    codes = [ticket_code.generate() for _ in range(count)]
    valid_until = date(2099, 3, 31)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO affiliates (affiliate_id, active) VALUES ($1, true) ON CONFLICT DO NOTHING", affiliate_id
        )
        await conn.copy_records_to_table(
            "tickets",
            columns=["ticket_id", "code_hash", "code_suffix", "wallet_id", "campaign_id", "amount_cents",
                     "valid_until", "valid_through"],
            records=[
                (f"bench-{uuid.uuid4()}", ticket_code.code_hash(c, key), c[-4:], f"w-{uuid.uuid4()}", "bench",
                 1000, valid_until, d.validity_end(valid_until))
                for c in codes
            ],
        )
    finally:
        await conn.close()
    return codes


# --- (a) the baseline: the same transaction through asyncpg --------------------------------------


async def baseline(store: ScannerStore, key: bytes, affiliate_id: str, codes: list[str], concurrency: int) -> Figures:
    scanner = Scanner(key, d.GuessingLimit())
    queue = list(reversed(codes))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        while queue:
            code = queue.pop()
            started = time.perf_counter()
            answer = await scanner.redeem(store, affiliate_id, str(uuid.uuid4()), code)
            latencies.append(time.perf_counter() - started)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Figures(latencies, time.perf_counter() - started, statuses)


# --- (b) the full path over HTTP ------------------------------------------------------------------


async def drain(dsn: str, timeout: float = 300.0) -> tuple[int, float]:
    """Wait until the outbox relay has published every pending event: (how many were pending, seconds)."""
    conn = await asyncpg.connect(dsn)
    try:
        query = "SELECT count(*) FROM outbox WHERE state = 'pending'"
        pending, started = await conn.fetchval(query), time.perf_counter()
        while await conn.fetchval(query) and time.perf_counter() - started < timeout:
            await asyncio.sleep(0.2)
        return pending, time.perf_counter() - started
    finally:
        await conn.close()


async def settle(dsn: str, *, relayed: bool = True) -> None:
    """Before the open loop, as pgbench does before its runs: the relay idle (the outbox drained) and the
    tables the closed loops churned vacuumed, so that the loop measures the service at its rate rather
    than the after-effects of the runs before it (the lag and drain figures below keep the relay's).
    The baseline's database has no relay (`relayed=False`): only vacuumed."""
    if relayed:
        await drain(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# --- (c) the lag --------------------------------------------------------------------------------


async def lag_to_kafka(stack: TestStack, port: int, token: str, codes: list[str]) -> list[float]:
    """From each 201 to its TicketRedeemed readable by a consumer on the topic."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(REDEMPTION_REDEMPTIONS.name, bootstrap_servers=stack.kafka_bootstrap,
                                group_id=None, auto_offset_reset="latest", enable_auto_commit=False)
    await consumer.start()
    answered_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    try:
        await consumer.getmany(timeout_ms=1000)  # join the partitions before the first 201
        conn = await HttpConnection("127.0.0.1", port, token).open()

        async def consume() -> None:
            while len(seen_at) < len(codes):
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    now = time.perf_counter()
                    for record in records:
                        envelope = json.loads(record.value)
                        if envelope.get("event_type") == "TicketRedeemed":
                            seen_at.setdefault(envelope["data"]["redemption_id"], now)

        reader = asyncio.create_task(consume())
        for code in codes:
            status, body = await conn.redeem(code)
            if status == 201:
                answered_at[json.loads(body)["redemption_id"]] = time.perf_counter()
            await asyncio.sleep(0.02)
        try:
            await asyncio.wait_for(reader, timeout=30)
        except TimeoutError:
            pass
        conn.close()
    finally:
        await consumer.stop()
    return sorted(seen_at[r] - t for r, t in answered_at.items() if r in seen_at)


def wallet_runnable() -> bool:
    return importlib.util.find_spec("wallet.__main__") is not None and importlib.util.find_spec("wallet.app") is not None


async def lag_to_wallet(stack: TestStack, redemption_port: int, token: str, redemption_dsn: str, wallets: int) -> list[float]:
    """From each 201 to the family's wallet (GET /v1/wallets/{id}) showing the ticket redeemed.

    The wallets are made as in production: PassGranted on Kafka, tickets credited through the wallet's
    API, TicketCredited carried to the redemption view by Kafka.
    """
    import httpx
    from aiokafka import AIOKafkaProducer

    from carnet_contracts.envelope import Envelope
    from carnet_contracts.events import GuardianContact, PassGranted, Pupil
    from carnet_contracts.topics import WALLET_WALLETS

    wallet = stack.service("wallet", database_url=await stack.create_database("wallet_bench"),
                           env={"CARNET_LOG_LEVEL": "WARNING"})
    await asyncio.to_thread(wallet.start, timeout=120)
    try:
        family_sub = f"bench-family-{uuid.uuid4().hex[:6]}"
        applications = [str(uuid.uuid4()) for _ in range(wallets)]
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for application_id in applications:
                event = PassGranted(
                    application_id=application_id, campaign_id="bench", campaign_label="Banc d'essai",
                    school_id="school-bench", family_sub=family_sub,
                    student=Pupil(last_name="Martin", first_name="Léa", level="5e"),
                    guardian=GuardianContact(last_name="Martin", first_name="Anne", email="anne.martin@example.org"),
                    allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
                    pass_valid_until=date(2099, 3, 31), validated_at=datetime.now(UTC))
                await producer.send(event.topic.name, Envelope.wrap(event, producer="bench").model_dump_json().encode(),
                                    key=event.key().encode())
            await producer.flush()
        finally:
            await producer.stop()

        def created(found: list[dict]) -> dict[str, str]:
            return {m["data"]["application_id"]: m["data"]["wallet_id"] for m in found
                    if m.get("event_type") == "WalletCreated" and m["data"]["application_id"] in applications}

        wallet_ids = list(created(await stack.events(
            WALLET_WALLETS.name, until=lambda found: len(created(found)) == wallets, timeout=60)).values())
        family = stack.auth("family", sub=family_sub)
        tickets: list[tuple[str, str, str]] = []  # wallet, ticket, code
        async with httpx.AsyncClient(base_url=wallet.url, headers=family, timeout=30) as client:
            for wallet_id in wallet_ids:
                view = (await client.get(f"/v1/wallets/{wallet_id}")).json()
                for t in view["tickets"]:
                    r = await client.post(f"/v1/wallets/{wallet_id}/tickets/{t['ticket_id']}/credit",
                                          json={"amount_cents": 1000})
                    r.raise_for_status()
                view = (await client.get(f"/v1/wallets/{wallet_id}")).json()
                tickets += [(wallet_id, t["ticket_id"], t["code"]) for t in view["tickets"] if t.get("code")]
            conn = await asyncpg.connect(redemption_dsn)
            try:
                ids = [t for _, t, _ in tickets]
                deadline = time.monotonic() + 60
                while await conn.fetchval("SELECT count(*) FROM tickets WHERE ticket_id = ANY($1::text[])", ids) < len(ids):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the redemption view did not receive the wallet's tickets")
                    await asyncio.sleep(0.1)
            finally:
                await conn.close()
            scanner = await HttpConnection("127.0.0.1", redemption_port, token).open()
            lags = []
            # The first one also waits for the wallet's consumer group to settle (a rebalance after
            # start-up pauses consumption for seconds); it is not counted.
            for i, (wallet_id, ticket_id, code) in enumerate(tickets):
                status, _ = await scanner.redeem(code)
                answered = time.perf_counter()
                if status != 201:
                    raise RuntimeError(f"the redemption of a wallet's ticket answered {status}")
                patience = 60 if i == 0 else 10
                while time.perf_counter() - answered < patience:
                    view = (await client.get(f"/v1/wallets/{wallet_id}")).json()
                    if any(t["ticket_id"] == ticket_id and t["status"] == "redeemed" for t in view["tickets"]):
                        if i:
                            lags.append(time.perf_counter() - answered)
                        break
                    await asyncio.sleep(0.005)
                else:
                    raise RuntimeError(f"the wallet did not show a redeemed ticket within {patience} s")
            scanner.close()
        return sorted(lags)
    finally:
        await asyncio.to_thread(wallet.stop)


# --- the run ------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    levels = [int(x) for x in args.levels.split(",")]
    stack = await asyncio.to_thread(start_test_stack)
    replicas = []
    try:
        key = stack.secrets["CARNET_TICKET_CODE_HASH_KEY"].encode()
        affiliate_id = f"bench-{uuid.uuid4().hex[:8]}"

        baseline_dsn = await stack.create_database("redemption_baseline")
        await db.migrate(baseline_dsn, MIGRATIONS, service="redemption")
        store = ScannerStore(scanner_pool(baseline_dsn, POOL_SIZE), Outbox("redemption"), d.GuessingLimit())

        service_dsn = await stack.create_database("redemption_bench")
        for _ in range(args.replicas):  # replicas share the database, as on Kubernetes
            replicas.append(stack.service("redemption", database_url=service_dsn, env={
                "CARNET_REDEMPTION_SCANNER_POOL_SIZE": str(POOL_SIZE),
                "CARNET_REDEMPTION_HTTP_WORKERS": str(args.workers),
                "CARNET_LOG_LEVEL": "WARNING",
                **dict(pair.split("=", 1) for pair in args.service_env),
            }))
            await asyncio.to_thread(replicas[-1].start, timeout=120)
        process = replicas[0]
        ports = [r.port for r in replicas]

        def service_cpu() -> float:
            return sum(cpu_seconds(r.process.pid) for r in replicas)

        token = stack.token("affiliate", affiliate_id=affiliate_id, ttl_seconds=6 * 3600)

        print(f"redemption benchmark: {args.requests} redemptions per level, pool {POOL_SIZE} per process,"
              f" {args.replicas} service replica(s) of {args.workers} worker process(es) each;"
              f" load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        warm = await seed(service_dsn, key, affiliate_id, 200)
        await full_path(ports, token, warm, 8)
        await baseline(store, key, affiliate_id, await seed(baseline_dsn, key, affiliate_id, 200), 8)

        floor_before = cpu_seconds(process.process.pid)
        floor = await liveness(process.port, token, args.requests, 8)
        floor_cpu = (cpu_seconds(process.process.pid) - floor_before) / args.requests
        print(floor.line("(b0) GET /health/live       c=8"))
        print(f"    service process CPU per request of the framework alone: {floor_cpu * 1000:.2f} ms")

        ratios, full_rates = [], []
        for level in levels:
            # (a) and (b) in turn, in `rounds` slices each: the machine's pace drifts from one minute to the
            # next (other tenants of the host), and a ratio of two runs minutes apart would measure the drift.
            slices = [args.requests // args.rounds + (i < args.requests % args.rounds) for i in range(args.rounds)]
            a_parts, b_parts, service_seconds = [], [], 0.0
            for count in slices:
                a_parts.append(await baseline(store, key, affiliate_id, await seed(baseline_dsn, key, affiliate_id, count), level))
                codes = await seed(service_dsn, key, affiliate_id, count)
                cpu_before = service_cpu()
                b_parts.append(await full_path(ports, token, codes, level))
                service_seconds += service_cpu() - cpu_before
            a, b = Figures.combined(a_parts), Figures.combined(b_parts)
            cpu_per_request = service_seconds / args.requests
            print(a.line(f"(a) baseline asyncpg  c={level}"))
            print(b.line(f"(b) full path HTTP    c={level}"))
            print(f"    service process CPU per redemption at c={level}: {cpu_per_request * 1000:.2f} ms")
            ratio = b.throughput / a.throughput if a.throughput else float("nan")
            ratios.append(ratio)
            full_rates.append(b.throughput)
            print(f"    ratio (b)/(a) throughput at c={level}: {ratio:.2f}")

        if args.profile_requests:
            level = args.profile_level or levels[max(range(len(levels)), key=lambda i: ratios[i])]
            codes = await seed(service_dsn, key, affiliate_id, args.profile_requests)
            samplings = [cpu_profile.sampling(r.process.pid) for r in replicas]
            await asyncio.sleep(1.0)  # py-spy attached to every process
            cpu_before = service_cpu()
            p = await full_path(ports, token, codes, level)
            cpu_per_request = (service_cpu() - cpu_before) / len(codes)
            profiles = [s.stop() for s in samplings]
            print(p.line(f"(d) profiled full path  c={level}"))
            print(f"    service CPU per redemption while sampled: {cpu_per_request * 1000:.2f} ms"
                  f" (py-spy at 200 Hz per process adds a little)")
            merged = Profile.merged(profiles)
            ms = cpu_per_request * 1000
            print(merged.table("by stage", cpu_profile.by_stage(merged), ms, per="redemption"))
            print(merged.table("hottest frames (own time)", merged.hottest(), ms, per="redemption"))

        rate_codes = await seed(service_dsn, key, affiliate_id, int(args.rate * args.rate_seconds))
        await settle(service_dsn)
        split = MachineSplit(service_cpu, stack)
        f = await fixed_rate(ports, token, rate_codes, args.rate)
        print(f.line(f"(b) open loop at {args.rate:.0f}/s"))
        print(split.line(len(rate_codes)))
        # The same rate through asyncpg alone (the baseline's transaction, no HTTP, no service process): what
        # the database and this machine answer at that rate, minutes apart from (b) at most.
        base_codes = await seed(baseline_dsn, key, affiliate_id, len(rate_codes))
        await settle(baseline_dsn, relayed=False)
        scanner = Scanner(key, d.GuessingLimit())

        async def redeem_directly(code: str) -> int:
            return (await scanner.redeem(store, affiliate_id, str(uuid.uuid4()), code)).status_code

        split = MachineSplit(service_cpu, stack)
        fa = await paced(base_codes, args.rate, redeem_directly)
        print(fa.line(f"(a) open loop at {args.rate:.0f}/s, asyncpg"))
        print(split.line(len(base_codes)))
        await store.close()

        drained = await drain(service_dsn)
        print(f"(c) outbox relay: {drained[0]} events pending after the runs, all on Kafka {drained[1]:.1f} s later"
              f" ({drained[0] / drained[1] if drained[1] else float('nan'):.0f} events/s; the lags below start empty)")
        lag_codes = await seed(service_dsn, key, affiliate_id, args.lag_samples)
        lags = await lag_to_kafka(stack, process.port, token, lag_codes)
        print("(c) lag from a 201 to the TicketRedeemed event readable on Kafka (outbox relay hop):")
        print(f"    over {len(lags)} redemptions: p50 {percentile(lags, 0.5) * 1000:.1f} ms"
              f"   p99 {percentile(lags, 0.99) * 1000:.1f} ms   max {(lags[-1] if lags else float('nan')) * 1000:.1f} ms")
        if not wallet_runnable():
            print("(c) lag to the wallet: not measured, the wallet service is not runnable here")
        else:
            try:
                lags = await lag_to_wallet(stack, process.port, token, service_dsn, max(1, args.lag_samples // 7))
            except Exception as exc:  # the wallet is another team's work in progress: say so, keep the figures
                print(f"(c) lag to the wallet: not measured ({type(exc).__name__}: {str(exc)[:200]})")
            else:
                print("(c) lag from a 201 to the wallet showing the ticket redeemed (GET /v1/wallets/{id}, polled every 5 ms):")
                print(f"    over {len(lags)} redemptions: p50 {percentile(lags, 0.5) * 1000:.1f} ms"
                      f"   p99 {percentile(lags, 0.99) * 1000:.1f} ms"
                      f"   max {(lags[-1] if lags else float('nan')) * 1000:.1f} ms")
        print(f"summary: ratio (b)/(a) by level {dict(zip(levels, (round(r, 2) for r in ratios), strict=True))};"
              f" best full path {max(full_rates):.0f}/s; open loop at {args.rate:.0f}/s p99"
              f" {percentile(f.latencies, 0.99) * 1000:.1f} ms (asyncpg alone at that rate:"
              f" {percentile(fa.latencies, 0.99) * 1000:.1f} ms); load average now {os.getloadavg()[0]:.1f}")
    finally:
        for replica in replicas:
            await asyncio.to_thread(replica.stop)
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,8,32,64", help="concurrency levels, comma-separated")
    parser.add_argument("--requests", type=int, default=1500, help="redemptions per level and path")
    parser.add_argument("--rounds", type=int, default=3,
                        help="(a) and (b) alternate in this many slices of each level's requests (the same in total)")
    parser.add_argument("--rate", type=float, default=400.0, help="open-loop rate, redemptions per second")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--lag-samples", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=1, help="service replicas sharing the database")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of each replica (CARNET_REDEMPTION_HTTP_WORKERS; default: the cores)")
    parser.add_argument("--profile-requests", type=int, default=3000,
                        help="redemptions of the profiled run (d); 0: no profile")
    parser.add_argument("--profile-level", type=int, default=0,
                        help="its concurrency (default: the level with the best ratio)")
    parser.add_argument("--service-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the service process, e.g. OTEL_SDK_DISABLED=true")
    asyncio.run(main(parser.parse_args()))
