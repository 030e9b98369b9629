"""`carnet demo`: a whole campaign season, driven through the services' public APIs.

Everything goes through what the real users would use: the admin publishes the campaign and the
schools, affiliates receive their login by e-mail, activate their account and sign the convention
with the e-mailed one-time code, families enrol (some are refused), correspondents validate with a
roster import, families credit and print their tickets, counters redeem them (with the mistakes a
counter makes) and the département pays the affiliates. The driver only waits for what happens
asynchronously (a wallet after a validation, the redemption view fed by credit events) by polling,
each wait with a timeout that ends the season with one clear line.

The same code drives the local stack (`carnet demo`) and the end-to-end tests (explicit base URLs,
keys folder and mail folder).
"""

from __future__ import annotations

import asyncio
import email
import random
import re
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any, TypeVar

import httpx

from carnet_contracts.calendar import PARIS
from carnet_contracts.display import euros

from .config import local_token

T = TypeVar("T")

LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
    "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
]
FIRST_NAMES = [
    "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Louis", "Emma", "Nathan", "Inès", "Enzo", "Camille", "Théo",
    "Sarah", "Jules", "Jade", "Gabriel", "Zoé", "Raphaël", "Lina", "Arthur", "Louise", "Adam", "Alice", "Noé",
    "Lola", "Tom", "Clara", "Mathis", "Anaïs", "Maël", "Juliette", "Paul", "Rose", "Sacha", "Ambre", "Nolan",
    "Élise", "Ethan", "Mila", "Yanis",
]
CITIES_92 = [
    ("92160", "Antony"), ("92000", "Nanterre"), ("92100", "Boulogne-Billancourt"), ("92130", "Issy-les-Moulineaux"),
    ("92330", "Sceaux"), ("92200", "Neuilly-sur-Seine"), ("92500", "Rueil-Malmaison"), ("92120", "Montrouge"),
    ("92290", "Châtenay-Malabry"), ("92140", "Clamart"),
]
SCHOOL_NAMES = [
    "Collège Anne Frank", "Collège La Fontaine", "Collège Henri Wallon", "Collège Victor Hugo", "Collège Jean Moulin",
    "Collège Marie Curie", "Collège Les Ormeaux", "Collège Paul Éluard", "Collège Romain Rolland", "Collège Jules Ferry",
]
AFFILIATE_KINDS = [
    ("sport", "Club de judo"), ("culture", "Conservatoire de musique"), ("sport", "Association de natation"),
    ("leisure", "Centre équestre"), ("culture", "Théâtre des Sources"), ("sport", "Tennis club"),
    ("science", "Club d'astronomie"), ("culture", "École de danse"), ("sport", "Football club"),
    ("leisure", "Atelier d'arts plastiques"),
]
LEVELS = ["6e", "5e", "4e", "3e"]
DEMO_PASSWORD = "Pass-Hauts-de-Seine-2014!"


class DemoError(RuntimeError):
    """The season cannot go on; the message is one line saying what did not happen."""


@dataclass(frozen=True)
class Endpoints:
    """Where the services answer, which keys sign the gateways' tokens and where e-mails land."""

    enrolment: str
    wallet: str
    redemption: str
    affiliation: str
    notification: str
    keys_dir: Path
    mail_dir: Path
    kafka_bootstrap: str

    @classmethod
    def local(cls) -> Endpoints:
        from .config import SERVICE_PORTS, StackConfig

        config = StackConfig.from_env()
        urls = {name: f"http://127.0.0.1:{port}" for name, port in SERVICE_PORTS.items()}
        return cls(**urls, keys_dir=config.keys_dir, mail_dir=config.mail_dir,
                   kafka_bootstrap=f"127.0.0.1:{config.kafka_port}")


@dataclass(frozen=True)
class SeasonSize:
    families: int = 200
    schools: int = 4
    affiliates: int = 6
    seed: int = 2014


@dataclass
class SeasonOutcome:
    """What the driver did and saw: the figures a report of the campaign must find again."""

    campaign_id: str
    closed_campaign_id: str
    refused: Counter = field(default_factory=Counter)          # enrolment refusals by code
    submitted: int = 0
    validated: int = 0
    validated_by_roster: int = 0
    rejected: int = 0
    wallets: int = 0
    allowance_cents: int = 0
    credited_tickets: int = 0
    credited_cents: int = 0                                     # every credit, voided ones included
    credited_by_amount: Counter = field(default_factory=Counter)
    voided_tickets: int = 0
    voided_cents: int = 0
    redeemed_tickets: int = 0
    redeemed_cents: int = 0
    redeemed_by_amount: Counter = field(default_factory=Counter)
    students_who_used: int = 0
    affiliates: int = 0
    counter_mistakes: Counter = field(default_factory=Counter)  # what the counters got wrong, and the answers
    family_mistakes: Counter = field(default_factory=Counter)
    sheets: int = 0
    batch_id: str | None = None
    reimbursed_cents: int = 0
    reimbursed_tickets: int = 0
    pending_cents: int = 0
    late_redeemed_tickets: int = 0
    resent: Counter = field(default_factory=Counter)            # requests that met a stopped service


@dataclass
class Affiliate:
    affiliate_id: str
    name: str
    login: str
    token: str


@dataclass
class Family:
    index: int
    sub: str
    school_id: str
    student: dict[str, str]
    guardian: dict[str, str]
    address: dict[str, str]
    intent: str                  # ok, non_resident, late, duplicate
    application_id: str | None = None
    wallet_id: str | None = None
    uses_pass: bool = True


class Phases:
    """How the season shows its progress; the silent default is what tests use."""

    def start(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self, summary: str) -> None:
        pass


class RichPhases(Phases):
    """A progress bar per phase, and one summary line when a phase ends."""

    def __init__(self, console: Any):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.task: Any = None

    def __enter__(self) -> RichPhases:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, name: str, total: int) -> None:
        self.task = self.progress.add_task(name, total=max(total, 1))

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def done(self, summary: str) -> None:
        task = self.progress.tasks[-1]
        self.progress.update(self.task, completed=task.total)
        self.progress.console.print(f"  [dim]{summary}[/dim]", highlight=False)


def paris_today() -> date:
    return datetime.now(PARIS).date()


def siret_for(rng: random.Random) -> str:
    from stdnum import luhn

    siren = "".join(rng.choice("0123456789") for _ in range(8))
    siren += luhn.calc_check_digit(siren)
    siret = siren + "".join(rng.choice("0123456789") for _ in range(4))
    return siret + luhn.calc_check_digit(siret)


def iban_for(rng: random.Random) -> str:
    from schwifty import IBAN

    return IBAN.generate("FR", bank_code="30006", account_code="".join(rng.choice("0123456789") for _ in range(11))).compact


def mistype(code: str) -> str:
    """The code with one symbol changed, as a person typing it at the counter might."""
    from carnet_contracts.ticket_code import ALPHABET

    position = len(code) // 2
    wrong = ALPHABET[(ALPHABET.index(code[position]) + 1) % len(ALPHABET)]
    return code[:position] + wrong + code[position + 1:]


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


class Mailbox:
    """The captured e-mails (one .eml file each), read as a person reads their inbox."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._seen: dict[str, tuple[str, str, str]] = {}

    def _scan(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.eml")):
            if path.name in self._seen:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            body = message.get_body(preferencelist=("plain",))
            self._seen[path.name] = (str(message["To"]), str(message["Subject"]), body.get_content() if body else "")

    async def find(self, recipient: str, subject: str, pattern: str, timeout: float) -> str:
        """The first group of `pattern` in the latest e-mail to `recipient` whose subject holds `subject`."""
        deadline = time.monotonic() + timeout
        while True:
            self._scan()
            for to, subj, body in reversed(list(self._seen.values())):
                if recipient in to and subject in subj:
                    found = re.search(pattern, body)
                    if found:
                        return found.group(1)
            if time.monotonic() > deadline:
                raise DemoError(f"no e-mail « {subject} » reached {recipient} within {timeout:.0f} s (mail folder {self.directory})")
            await asyncio.sleep(0.3)


class Season:
    """One campaign season against running services."""

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
        self.schools: list[str] = []
        self.affiliates: list[Affiliate] = []
        self.families: list[Family] = []
        self.tickets: list[dict[str, Any]] = []   # credited tickets: wallet, family, ticket, code, amount, affiliate

    # --- plumbing -----------------------------------------------------------------------------------

    def token(self, role: str, sub: str, **claims: Any) -> dict[str, str]:
        token = local_token(self.ep.keys_dir, role, sub=sub, ttl_seconds=4 * 3600, **claims)
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.token("admin", "admin-demo")

    async def call(self, method: str, url: str, *, expect: tuple[int, ...] = (200,), what: str,
                   headers: dict[str, str] | None = None, idempotent: bool = False, **kwargs: Any) -> httpx.Response:
        """One request. A service that refuses the connection (restarting) is waited for, since nothing
        reached it; a request cut off midway is sent again only when that is harmless (GET, PUT, or a
        call the service makes idempotent, like a redemption with its Idempotency-Key). Any answer
        outside `expect` ends the season with one line."""
        deadline = time.monotonic() + self.timeout
        again = idempotent or method in ("GET", "PUT")
        while True:
            try:
                async with self.limit:
                    answer = await self.http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if not (unsent or again):
                    raise DemoError(f"{what}: {method} {url} cut off ({exc.__class__.__name__}); not sent again") from None
                if time.monotonic() > deadline:
                    raise DemoError(f"{what}: {url} unreachable for {self.timeout:.0f} s ({exc.__class__.__name__})") from None
                self.outcome.resent["unsent, waited for" if unsent else "cut off, sent again"] += 1
                await asyncio.sleep(0.5)
                continue
            if answer.status_code == 503 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)  # a restarting service is not ready yet
                continue
            if answer.status_code not in expect:
                raise DemoError(f"{what}: {method} {url} answered {answer.status_code} {answer.text[:300]}")
            return answer

    async def refused(self, method: str, url: str, code: str, *, what: str, headers: dict[str, str],
                      **kwargs: Any) -> httpx.Response:
        answer = await self.call(method, url, expect=(403, 404, 409, 422, 429), what=what, headers=headers, **kwargs)
        got = answer.json().get("error", {}).get("code")
        if got != code:
            raise DemoError(f"{what}: expected the refusal {code}, got {answer.status_code} {got}")
        return answer

    async def until(self, what: str, probe: Callable[[], Awaitable[T | None]], *, timeout: float | None = None,
                    interval: float = 0.3) -> T:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            found = await probe()
            if found is not None and found is not False:
                return found
            if time.monotonic() > deadline:
                raise DemoError(f"{what} did not happen within {timeout or self.timeout:.0f} s")
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
            missing = sorted({d["topic"] for d in described if d["error_code"]} | (set(topics) - {d["topic"] for d in described}))
            if missing:
                raise DemoError(f"{what}: no topic {', '.join(missing)} on the broker")
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

    # --- the season -----------------------------------------------------------------------------------

    async def run(self) -> SeasonOutcome:
        async with httpx.AsyncClient(timeout=60) as self.http:
            await self.preflight()
            await self.publish()
            await self.affiliate()
            await self.enrol()
            await self.validate()
            await self.wallets_ready()
            await self.credit()
            await self.print_and_void()
            await self.redeem()
            await self.reimburse()
            await self.settle()
        return self.outcome

    async def preflight(self) -> None:
        for name in ("enrolment", "wallet", "redemption", "affiliation", "notification"):
            url = f"{getattr(self.ep, name)}/health/ready"
            try:
                ready = (await self.http.get(url, timeout=5)).status_code == 200
            except httpx.HTTPError:
                ready = False
            if not ready:
                raise DemoError(f"the {name} service is not ready at {url}: start the stack first (`make run`)")

    async def publish(self) -> None:
        today = paris_today()
        self.phases.start("Campagne et collèges", 2 + self.size.schools)
        self.campaign = {
            "label": f"Pass Hauts-de-Seine {today.year}-{today.year + 1} (démonstration)",
            "enrolment_opens": (today - timedelta(days=14)).isoformat(),
            "enrolment_closes": (today + timedelta(days=90)).isoformat(),
            "pass_valid_until": (today + timedelta(days=210)).isoformat(),
            "reimbursement_deadline": (today + timedelta(days=240)).isoformat(),
            "allowance_cents": 7000, "tickets_per_pass": 7, "ticket_min_cents": 500, "ticket_max_cents": 7000,
            "eligible_postcode_prefixes": ["92"], "eligible_levels": LEVELS,
            "redemption_cancel_grace_minutes": 30,
        }
        enrolment = self.ep.enrolment
        await self.call("PUT", f"{enrolment}/v1/campaigns/{self.campaign_id}", json=self.campaign, headers=self.admin,
                        what="publishing the campaign")
        self.phases.advance()
        closed = self.campaign | {
            "label": f"Pass Hauts-de-Seine {today.year - 1}-{today.year} (démonstration)",
            "enrolment_opens": (today - timedelta(days=380)).isoformat(),
            "enrolment_closes": (today - timedelta(days=200)).isoformat(),
            "pass_valid_until": (today - timedelta(days=80)).isoformat(),
            "reimbursement_deadline": (today - timedelta(days=50)).isoformat(),
        }
        await self.call("PUT", f"{enrolment}/v1/campaigns/{self.outcome.closed_campaign_id}", json=closed,
                        headers=self.admin, what="publishing the previous, closed campaign")
        self.phases.advance()
        for i in range(self.size.schools):
            postcode, city = CITIES_92[i % len(CITIES_92)]
            school_id = f"{self.run_id}-{ascii_slug(city)}-{i + 1}"
            name = f"{SCHOOL_NAMES[i % len(SCHOOL_NAMES)]} ({city})"
            await self.call("PUT", f"{enrolment}/v1/schools/{school_id}", headers=self.admin, what="registering a school",
                            json={"name": name, "postcode": postcode, "city": city,
                                  "correspondent_email": f"correspondant.{school_id}@example.org"})
            self.schools.append(school_id)
            self.phases.advance()
        await self.phase_done("publish", f"campagne {self.campaign_id}, {len(self.schools)} collèges")

    async def affiliate(self) -> None:
        rng = random.Random(f"{self.size.seed}-{self.run_id}")  # a SIRET is affiliated once: new ones each run
        plans = []
        for i in range(self.size.affiliates):
            activity, kind = AFFILIATE_KINDS[i % len(AFFILIATE_KINDS)]
            postcode, city = CITIES_92[(i + 3) % len(CITIES_92)]
            plans.append((i, activity, f"{kind} de {city}", postcode, city, siret_for(rng), iban_for(rng)))
        self.phases.start("Organismes affiliés", len(plans))
        self.affiliates = await self.each(plans, self.onboard)
        self.outcome.affiliates = len(self.affiliates)
        await self.phase_done("affiliate", f"{len(self.affiliates)} organismes : invitation, activation, convention signée")

    async def onboard(self, plan: tuple) -> Affiliate:
        i, activity, name, postcode, city, siret, iban = plan
        base = self.ep.affiliation
        contact = f"contact.{self.run_id}.{i}@example.org"
        created = (await self.call(
            "POST", f"{base}/v1/affiliates", expect=(201,), headers=self.admin, what="affiliating an organisation",
            json={"name": name, "siret": siret, "activity": activity, "contact_email": contact, "iban": iban,
                  "address": {"line": f"{i + 1} avenue du Stade", "postcode": postcode, "city": city}},
        )).json()
        affiliate_id = created["affiliate_id"]
        token = await self.mailbox.find(contact, "identifiant", r"\?token=([A-Za-z0-9_-]+)", self.timeout)
        await self.call("POST", f"{base}/v1/affiliates/{affiliate_id}/activation", what="activating an affiliate account",
                        json={"token": token, "password": DEMO_PASSWORD})
        login = (await self.call("POST", f"{base}/v1/auth/token", what="an affiliate logging in",
                                 json={"login": created["login"], "password": DEMO_PASSWORD})).json()
        me = {"Authorization": f"Bearer {login['access_token']}"}
        convention = (await self.call("GET", f"{base}/v1/affiliates/{affiliate_id}/convention", headers=me,
                                      what="reading the convention")).json()
        here = f"{base}/v1/affiliates/{affiliate_id}/convention"
        await self.call("POST", f"{here}/read", headers=me, json={"sha256": convention["sha256"]}, what="convention: read")
        await self.call("POST", f"{here}/accept", headers=me, what="convention: accept")
        await self.call("POST", f"{here}/otp", headers=me, expect=(202,), what="convention: one-time code")
        otp = await self.mailbox.find(contact, "code", r"\b(\d{6})\b", self.timeout)
        signed = (await self.call("POST", f"{here}/sign", headers=me, json={"otp": otp}, what="convention: sign")).json()
        if signed.get("status") != "active":
            raise DemoError(f"convention signed but the organisation is {signed.get('status')}, not active")
        return Affiliate(affiliate_id, name, created["login"], login["access_token"])

    def plan_families(self) -> list[Family]:
        rng = random.Random(self.size.seed + 2)
        school_year = paris_today().year if paris_today().month >= 6 else paris_today().year - 1
        taken: set[tuple[str, str, str]] = set()
        families: list[Family] = []
        for i in range(self.size.families):
            draw = rng.random()
            originals = [f for f in families if f.intent == "ok"]
            intent = "non_resident" if draw < 0.05 else "late" if draw < 0.08 else "duplicate" if draw < 0.12 else "ok"
            intent = {1: "non_resident", 2: "late", 3: "duplicate"}.get(i, intent)  # every refusal, even in a small season
            if intent == "duplicate" and not originals:
                intent = "ok"
            level_index = rng.randrange(4)
            if intent == "duplicate":
                original = rng.choice(originals)
                student = dict(original.student)
                school_id = original.school_id
            else:
                while True:
                    last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
                    born = date(school_year - 11 - level_index, 1, 1) + timedelta(days=rng.randrange(365))
                    if (last, first, born.isoformat()) not in taken:
                        taken.add((last, first, born.isoformat()))
                        break
                student = {"last_name": last, "first_name": first, "birth_date": born.isoformat(), "level": LEVELS[level_index]}
                school_id = self.schools[i % len(self.schools)]
            postcode, city = ("75011", "Paris") if intent == "non_resident" else rng.choice(CITIES_92)
            families.append(Family(
                index=i, sub=f"famille-{self.run_id}-{i}", school_id=school_id, student=student,
                guardian={"last_name": student["last_name"], "first_name": rng.choice(FIRST_NAMES),
                          "email": f"famille.{self.run_id}.{i}@example.org", "phone": f"06{rng.randrange(10**8):08d}"},
                address={"line": f"{rng.randrange(1, 120)} rue de la République", "postcode": postcode, "city": city},
                intent=intent, uses_pass=rng.random() < 0.8,
            ))
        return families

    async def enrol(self) -> None:
        self.families = self.plan_families()
        self.phases.start("Inscriptions des familles", len(self.families))
        # the duplicates come after the originals
        ordered = sorted(self.families, key=lambda f: f.intent == "duplicate")
        await self.each([f for f in ordered if f.intent != "duplicate"], self.apply)
        await self.each([f for f in ordered if f.intent == "duplicate"], self.apply)
        refused = ", ".join(f"{n} {code}" for code, n in sorted(self.outcome.refused.items()))
        await self.phase_done("enrol", f"{self.outcome.submitted} inscriptions reçues ; refusées : {refused or 'aucune'}")

    async def apply(self, family: Family) -> None:
        campaign_id = self.outcome.closed_campaign_id if family.intent == "late" else self.campaign_id
        body = {"campaign_id": campaign_id, "school_id": family.school_id, "student": family.student,
                "guardian": family.guardian, "address": family.address}
        url = f"{self.ep.enrolment}/v1/applications"
        me = self.token("family", family.sub)
        expected = {"non_resident": "NOT_RESIDENT", "late": "ENROLMENT_CLOSED", "duplicate": "DUPLICATE_APPLICATION"}
        if family.intent in expected:
            await self.refused("POST", url, expected[family.intent], json=body, headers=me,
                               what=f"an application that must be refused ({family.intent})")
            self.outcome.refused[expected[family.intent]] += 1
            return
        answer = (await self.call("POST", url, json=body, headers=me, expect=(201,), what="a family applying")).json()
        family.application_id = answer["application_id"]
        self.outcome.submitted += 1

    async def validate(self) -> None:
        self.phases.start("Validation par les collèges", len(self.schools))
        await self.each(self.schools, self.validate_school)
        await self.phase_done("validate", f"{self.outcome.validated} validées (dont {self.outcome.validated_by_roster} par "
                                          f"import de la liste des élèves), {self.outcome.rejected} rejetées")

    async def validate_school(self, school_id: str) -> None:
        rng = random.Random(f"{self.size.seed}-{school_id.split('-')[-1]}")
        me = self.token("correspondent", f"correspondant-{school_id}", school_id=school_id)
        base = f"{self.ep.enrolment}/v1/schools/{school_id}"
        pending = await self.call("GET", f"{base}/applications", params={"status": "submitted"},
                                  headers=me | {"Accept": "text/csv"}, what="downloading the pending list")
        if ";" not in pending.text.splitlines()[0]:
            raise DemoError("the pending list is not a ';' CSV")
        mine = sorted((f for f in self.families if f.school_id == school_id and f.application_id), key=lambda f: f.index)
        on_roster = [f for f in mine if rng.random() < 0.8]
        lines = ["Nom;Prénom;Date de naissance;Niveau"]
        for f in on_roster:
            born = date.fromisoformat(f.student["birth_date"])
            lines.append(f"{f.student['last_name'].upper()};{f.student['first_name']};{born:%d/%m/%Y};{f.student['level']}")
        lines.append("Durand;Élève;31/02/2010;6e")      # a line Excel made wrong: reported, the file goes on
        roster = ("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace")
        imported = (await self.call("POST", f"{base}/roster", params={"validate_matched": "true"}, content=roster,
                                    headers=me | {"Content-Type": "text/csv"}, what="importing the roster")).json()
        if not imported["rejected"]:
            raise DemoError("the roster's bad line was not reported")
        validated = set(imported.get("validated", []))
        expected = {f.application_id for f in on_roster}
        if validated != expected:
            raise DemoError(f"roster import validated {len(validated)} applications, {len(expected)} were on the roster")
        self.outcome.validated_by_roster += len(validated)
        self.outcome.validated += len(validated)
        for f in mine:
            if f.application_id in validated:
                continue
            url = f"{self.ep.enrolment}/v1/applications/{f.application_id}"
            if rng.random() < 0.3:
                await self.call("POST", f"{url}/reject", headers=me, what="rejecting an application",
                                json={"reason": "Élève inconnu du collège : vérifiez le collège choisi."})
                f.application_id, f.intent = None, "rejected"
                self.outcome.rejected += 1
            else:
                await self.call("POST", f"{url}/validate", headers=me, what="validating an application")
                self.outcome.validated += 1

    async def wallets_ready(self) -> None:
        granted = [f for f in self.families if f.application_id]
        self.phases.start("Porte-monnaie électroniques", len(granted))

        async def ready(f: Family) -> None:
            me = self.token("family", f.sub)
            url = f"{self.ep.enrolment}/v1/applications/{f.application_id}"

            async def probe() -> str | None:
                seen = (await self.call("GET", url, headers=me, what="following an application")).json()
                return seen["wallet_id"] if seen["status"] == "wallet_ready" else None

            f.wallet_id = await self.until(f"the wallet of application {f.application_id} (wallet_ready)", probe)

        await self.each(granted, ready)
        self.outcome.wallets = len(granted)
        await self.phase_done("wallets", f"{len(granted)} porte-monnaie créés, 7 tickets sans somme affectée chacun")

    def credit_plan(self, rng: random.Random) -> list[int]:
        draw = rng.random()
        if draw < 0.30:
            return [7000]
        if draw < 0.75:
            return [1000] * rng.randint(2, 7)
        if draw < 0.90:
            return [3000] + [1000] * rng.randint(0, 4)
        return rng.choice([[3000, 3000, 1000], [2000, 1500, 500], [5000, 2000]])

    async def credit(self) -> None:
        holders = [f for f in self.families if f.wallet_id]
        self.phases.start("Crédit des tickets", len(holders))
        await self.caught_up("wallet", [_topic("AFFILIATION_AFFILIATES")], "the wallet learning the active affiliates")
        await self.each(holders, self.credit_wallet)
        self.outcome.allowance_cents = self.campaign["allowance_cents"] * len(holders)
        refused = ", ".join(f"{n} {code}" for code, n in sorted(self.outcome.family_mistakes.items()))
        await self.phase_done("credit", f"{self.outcome.credited_tickets} tickets crédités, "
                                        f"{euros(self.outcome.credited_cents)} ; montants : "
                                        + ", ".join(f"{euros(a)} × {n}" for a, n in self.outcome.credited_by_amount.most_common(3))
                                        + f" ; refusés : {refused or 'aucun'}")

    async def credit_wallet(self, f: Family) -> None:
        rng = random.Random(self.size.seed * 100_003 + f.index)
        me = self.token("family", f.sub)
        url = f"{self.ep.wallet}/v1/wallets/{f.wallet_id}"
        wallet = (await self.call("GET", url, headers=me, what="a family opening its wallet")).json()
        if rng.random() < 0.12:
            return  # a pass never credited
        plan = self.credit_plan(rng)
        blanks = [t for t in wallet["tickets"] if t["status"] == "blank"]
        for ticket, amount in zip(blanks, plan):
            body: dict[str, Any] = {"amount_cents": amount}
            if rng.random() < 0.15:
                body["affiliate_id"] = rng.choice(self.affiliates).affiliate_id
            credited = (await self.call("POST", f"{url}/tickets/{ticket['ticket_id']}/credit", json=body, headers=me,
                                        what="a family crediting a ticket")).json()
            self.tickets.append({"family": f, "wallet_id": f.wallet_id, "ticket_id": credited["ticket_id"],
                                 "code": credited["code"], "amount": amount, "affiliate_id": body.get("affiliate_id"),
                                 "position": credited["position"], "voided": False})
            self.outcome.credited_tickets += 1
            self.outcome.credited_cents += amount
            self.outcome.credited_by_amount[amount] += 1
        blank = next((t for t in blanks[len(plan):]), None)
        if blank is not None and f.index % 17 == 0:
            await self.refused("POST", f"{url}/tickets/{blank['ticket_id']}/credit", "AMOUNT_OUT_OF_RANGE",
                               json={"amount_cents": 8000}, headers=me, what="crediting 80 EUR")
            self.outcome.family_mistakes["AMOUNT_OUT_OF_RANGE"] += 1
            if sum(plan) + 500 > 7000:
                await self.refused("POST", f"{url}/tickets/{blank['ticket_id']}/credit", "ALLOWANCE_EXCEEDED",
                                   json={"amount_cents": 1000}, headers=me, what="crediting beyond the allowance")
                self.outcome.family_mistakes["ALLOWANCE_EXCEEDED"] += 1

    async def print_and_void(self) -> None:
        by_wallet: dict[str, list[dict]] = {}
        for t in self.tickets:
            by_wallet.setdefault(t["wallet_id"], []).append(t)
        wallets = list(by_wallet.values())
        self.phases.start("Impression des tickets", len(wallets))

        async def sheet(tickets: list[dict]) -> None:
            f = tickets[0]["family"]
            me = self.token("family", f.sub)
            url = f"{self.ep.wallet}/v1/wallets/{f.wallet_id}"
            if f.index % 3 == 0:
                positions = ",".join(str(t["position"]) for t in tickets)
                pdf = await self.call("GET", f"{url}/tickets.pdf", params={"positions": positions}, headers=me,
                                      what="printing a ticket sheet")
                if not pdf.content.startswith(b"%PDF"):
                    raise DemoError("the ticket sheet is not a PDF")
                self.outcome.sheets += 1
            elif f.index % 11 == 1:
                await self.call("POST", f"{url}/tickets/email", headers=me, expect=(202,), what="e-mailing a ticket sheet")
                self.outcome.sheets += 1
            if len(tickets) >= 2 and f.index % 9 == 4:
                last = tickets[-1]
                await self.call("POST", f"{url}/tickets/{last['ticket_id']}/void", headers=me, expect=(202,),
                                what="a family voiding a ticket")
                last["voided"] = True

        await self.each(wallets, sheet)
        voided = [t for t in self.tickets if t["voided"]]

        async def settled(t: dict) -> None:
            me = self.token("family", t["family"].sub)

            async def probe() -> bool:
                wallet = (await self.call("GET", f"{self.ep.wallet}/v1/wallets/{t['wallet_id']}", headers=me,
                                          what="following a void")).json()
                return any(x["ticket_id"] == t["ticket_id"] and x["status"] == "voided" for x in wallet["tickets"])

            await self.until(f"ticket {t['ticket_id']} voided (the redemption service's answer)", probe)

        await asyncio.gather(*(settled(t) for t in voided))
        self.outcome.voided_tickets = len(voided)
        self.outcome.voided_cents = sum(t["amount"] for t in voided)
        await self.phase_done("print", f"{self.outcome.sheets} planches imprimées ou envoyées, "
                                       f"{len(voided)} tickets annulés par les familles")

    async def redeem(self) -> None:
        rng = random.Random(self.size.seed + 3)
        chosen = [t for t in self.tickets if not t["voided"] and t["family"].uses_pass and rng.random() < 0.9]
        late = chosen[-max(1, len(chosen) // 20):] if len(chosen) >= 4 else []
        self.late = late
        now = chosen[:len(chosen) - len(late)]
        self.phases.start("Encaissement chez les affiliés", len(now))
        # the scanner answers from the redemption service's own view, fed by the wallet's events
        await self.caught_up("redemption", [_topic("WALLET_TICKETS"), _topic("AFFILIATION_AFFILIATES"),
                                            _topic("ENROLMENT_CAMPAIGNS")], "the redemption view of the credited tickets")
        for i, t in enumerate(chosen):
            t["counter"] = next((a for a in self.affiliates if a.affiliate_id == t["affiliate_id"]), None) \
                or self.affiliates[rng.randrange(len(self.affiliates))]
            t["mistake"] = ["retry", "twice", "mistyped", "cancel", None, None, None, None, None, None, None, None][i % 12]
        for t in late:
            t["mistake"] = None
        await self.each(now, self.redeem_ticket, midway="redeem-midway")
        mistakes = ", ".join(f"{n} {m}" for m, n in sorted(self.outcome.counter_mistakes.items()))
        await self.phase_done("redeem", f"{self.outcome.redeemed_tickets} tickets encaissés, "
                                        f"{euros(self.outcome.redeemed_cents)} ; erreurs au guichet : {mistakes}")

    async def redeem_ticket(self, t: dict) -> None:
        counter: Affiliate = t["counter"]
        me = {"Authorization": f"Bearer {counter.token}"}
        url = f"{self.ep.redemption}/v1/redemptions"
        display = "-".join(t["code"][i:i + 6] for i in range(0, len(t["code"]), 6)).lower()
        check = (await self.call("GET", f"{self.ep.redemption}/v1/tickets/{display}", headers=me,
                                 what="checking a ticket at the counter")).json()
        if not check.get("redeemable") or check.get("amount_cents") != t["amount"]:
            raise DemoError(f"ticket {t['ticket_id']} not redeemable at the counter: {check}")
        mistake = t["mistake"]
        if mistake == "mistyped":
            await self.refused("POST", url, "CODE_MALFORMED", idempotent=True, json={"ticket_code": mistype(t["code"])},
                               headers=me | {"Idempotency-Key": str(uuid.uuid4())}, what="a mistyped code")
            self.outcome.counter_mistakes["code mal saisi (CODE_MALFORMED)"] += 1
        key = str(uuid.uuid4())
        first = await self.call("POST", url, json={"ticket_code": display}, headers=me | {"Idempotency-Key": key},
                                expect=(201,), what="redeeming a ticket", idempotent=True)
        redemption = first.json()
        if redemption["amount_cents"] != t["amount"] or redemption["ticket_id"] != t["ticket_id"]:
            raise DemoError(f"redemption {redemption} does not match the ticket credited")
        if mistake == "retry":
            again = await self.call("POST", url, json={"ticket_code": display}, headers=me | {"Idempotency-Key": key},
                                    expect=(201,), what="the scanner retrying with the same Idempotency-Key", idempotent=True)
            if again.json() != redemption:
                raise DemoError("the retried redemption did not get the first answer again")
            self.outcome.counter_mistakes["nouvel envoi, même clé (même réponse)"] += 1
        if mistake == "twice":
            await self.refused("POST", url, "TICKET_ALREADY_REDEEMED", idempotent=True, json={"ticket_code": t["code"]},
                               headers=me | {"Idempotency-Key": str(uuid.uuid4())}, what="a ticket scanned twice")
            self.outcome.counter_mistakes["ticket scanné deux fois (TICKET_ALREADY_REDEEMED)"] += 1
        if mistake == "cancel":
            await self.call("POST", f"{url}/{redemption['redemption_id']}/cancel", headers=me, idempotent=True,
                            what="cancelling a redemption")
            self.outcome.counter_mistakes["encaissement annulé puis refait"] += 1
            await self.call("POST", url, json={"ticket_code": t["code"]}, expect=(201,), idempotent=True,
                            headers=me | {"Idempotency-Key": str(uuid.uuid4())}, what="redeeming a cancelled ticket again")
        self.count_redeemed(t)

    def count_redeemed(self, t: dict) -> None:
        self.outcome.redeemed_tickets += 1
        self.outcome.redeemed_cents += t["amount"]
        self.outcome.redeemed_by_amount[t["amount"]] += 1
        t["redeemed"] = True

    async def reimburse(self) -> None:
        self.phases.start("Remboursement des affiliés", 4 + len(self.late))
        admin, base = self.admin, self.ep.affiliation
        if not self.outcome.redeemed_tickets:
            await self.phase_done("reimburse", "aucun ticket encaissé : rien à rembourser")
            return
        await self.statements_hold(self.outcome.redeemed_tickets, "the affiliates' statements of every redeemed ticket")
        self.phases.advance()
        # The demo runs the season in minutes: the cancel period ends now, before the batch, as it would
        # have long ended by the end of the reimbursement period.
        await self.call("PUT", f"{self.ep.enrolment}/v1/campaigns/{self.campaign_id}", headers=admin,
                        json=self.campaign | {"redemption_cancel_grace_minutes": 0}, what="closing the cancel period")
        await self.caught_up("affiliation", [_topic("ENROLMENT_CAMPAIGNS")], "the affiliation service learning the closed cancel period")
        self.phases.advance()
        batch = (await self.call("POST", f"{base}/v1/reimbursement-batches", expect=(201,), headers=admin,
                                 json={"campaign_id": self.campaign_id}, what="the reimbursement batch")).json()
        if batch["count"] != self.outcome.redeemed_tickets or batch["total_cents"] != self.outcome.redeemed_cents:
            raise DemoError(f"the batch pays {batch['count']} tickets / {batch['total_cents']} cents, "
                            f"{self.outcome.redeemed_tickets} / {self.outcome.redeemed_cents} were redeemed")
        sepa = await self.call("GET", f"{base}/v1/reimbursement-batches/{batch['batch_id']}/sepa.xml", headers=admin,
                               what="the SEPA file")
        if b"pain.001" not in sepa.content:
            raise DemoError("the SEPA file is not a pain.001 credit transfer")
        self.phases.advance()
        await self.call("POST", f"{base}/v1/reimbursement-batches/{batch['batch_id']}/paid", headers=admin,
                        what="marking the batch paid")
        self.outcome.batch_id = batch["batch_id"]
        self.outcome.reimbursed_cents, self.outcome.reimbursed_tickets = batch["total_cents"], batch["count"]
        self.phases.advance()
        # tickets redeemed after the batch: in the next one
        for t in self.late:
            await self.redeem_ticket(t)
            self.outcome.late_redeemed_tickets += 1
            self.outcome.pending_cents += t["amount"]
            self.phases.advance()
        await self.phase_done("reimburse", f"lot {batch['batch_id'][:8]} : {batch['count']} tickets, "
                                           f"{euros(batch['total_cents'])} remboursés (virement SEPA) ; "
                                           f"{len(self.late)} tickets encaissés depuis, en attente")

    async def statements_hold(self, count: int, what: str) -> None:
        async def probe() -> bool:
            total = 0
            for a in self.affiliates:
                statement = (await self.call("GET", f"{self.ep.affiliation}/v1/affiliates/{a.affiliate_id}/statement",
                                             params={"campaign_id": self.campaign_id}, headers=self.admin,
                                             what="an affiliate's statement")).json()
                total += sum(1 for r in statement["redemptions"] if r["status"] != "cancelled")
            return total == count

        await self.until(what, probe, interval=0.5)

    async def settle(self) -> None:
        """The season is over when every service shows the same thing: wallet_ready applications,
        redeemed tickets in the wallets, statement lines at the affiliates."""
        self.phases.start("Bilan", 2)
        await self.statements_hold(self.outcome.redeemed_tickets, "the statements of the tickets redeemed after the batch")
        self.phases.advance()
        used = {t["wallet_id"] for t in self.tickets if t.get("redeemed")}
        self.outcome.students_who_used = len(used)
        expected = self.outcome.redeemed_tickets

        async def probe() -> bool:
            stats = (await self.call("GET", f"{self.ep.wallet}/v1/stats", params={"campaign_id": self.campaign_id},
                                     headers=self.admin, what="the wallet figures")).json()
            return stats["tickets_by_status"].get("redeemed", 0) == expected

        await self.until("every redeemed ticket shown as redeemed in the wallets", probe, interval=0.5)
        self.phases.advance()
        await self.phase_done("settle", f"campagne {self.campaign_id} terminée")


def _topic(name: str) -> str:
    from carnet_contracts import topics

    return getattr(topics, name).name


