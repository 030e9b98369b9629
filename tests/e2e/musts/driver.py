"""What the must-show tests do on the five services, as the people of the campaign would: the code of
`carnet demo` (its Season) publishes a campaign and schools and signs affiliates up through their
e-mails; families and correspondents apply, validate, credit; counters redeem.

Every wait is for something to happen (an answer, an e-mail, a consumer group reaching the end of
its topics), never a sleep.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from carnet_contracts import topics
from carnet_contracts.topics import Topic
from carnet_local.endpoints import Endpoints
from carnet_local.season import Season, SeasonSize, paris_today
from carnet_local.season.outcome import Affiliate
from carnet_local.testing import FiveServices, TestStack

from .mail import Mail

T = TypeVar("T")

FIRST_NAMES = ["Léa", "Hugo", "Chloé", "Noé", "Inès", "Maël", "Zoé", "Anaïs", "Théo", "Élise"]
LAST_NAMES = ["Lefèvre", "Guérin", "Dubois", "Muller", "Faure", "Roussel", "Mercier", "Perrin"]
# What a counter waits on before redeeming: the redemption view of credited tickets and of affiliates.
REDEMPTION_FEEDS = [topics.WALLET_TICKETS, topics.AFFILIATION_AFFILIATES, topics.ENROLMENT_CAMPAIGNS]


def letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


@dataclass
class Pupil:
    """A child's application and wallet, and who acts on it: the family online, the correspondent on paper."""

    school_id: str
    form: dict[str, Any]
    actor: dict[str, str]
    family_sub: str | None
    paper: bool
    application_id: str | None = None
    wallet_id: str | None = None
    tickets: list[dict[str, Any]] = field(default_factory=list)  # credited: ticket_id, code, amount

    @property
    def email(self) -> str:
        return self.form["guardian"]["email"]

    @property
    def written(self) -> list[str]:
        """What identifies the child and the guardian, as written on the form."""
        s, g, a = self.form["student"], self.form["guardian"], self.form["address"]
        return [v for v in (s["last_name"], s["first_name"], s["birth_date"], g["last_name"], g["first_name"],
                            g["email"], g.get("phone"), a["line"]) if v]

    @property
    def personal(self) -> list[str]:
        """The same, and the birth date as a French list or sheet would print it."""
        return [*self.written, f"{date.fromisoformat(self.form['student']['birth_date']):%d/%m/%Y}"]


@dataclass
class Carnet:
    """The five services of the must-show tests, their Kafka, their SMTP capture."""

    stack: TestStack
    services: FiveServices
    mail_dir: Path
    groups: dict[str, str]
    run: str
    topic_names: dict[str, str]   # CARNET_TOPIC_* -> the name these services use
    mail: Mail = field(init=False)
    birth_dates: set[date] = field(default_factory=set)  # one child per birth date: a scan for one finds that child

    def __post_init__(self) -> None:
        self.mail = Mail(self.mail_dir)

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(**self.services.urls, keys_dir=self.stack.keys_dir, mail_dir=self.mail_dir,
                         kafka_bootstrap=self.stack.kafka_bootstrap)

    def url(self, name: str) -> str:
        return self.services.url(name)

    def topic(self, topic: Topic) -> str:
        """The name of `topic` for these services."""
        return self.topic_names[topic.env_var]

    def topics(self) -> list[str]:
        """Every topic these services use, dead-letter topics included."""
        return [n for name in self.topic_names.values() for n in (name, f"{name}.dlt")]

    def database(self, name: str) -> str:
        return self.services.database(name)

    def logs(self) -> dict[str, Path]:
        return {name: process.log_file for name, process in self.services.processes.items()}

    def admin(self) -> dict[str, str]:
        return self.stack.auth("admin", sub=f"admin-musts-{self.run}")

    # --- a process held still: its HTTP requests and Kafka messages wait, in flight -------------

    def freeze(self, name: str) -> None:
        process = self.services.processes[name].process
        assert process is not None, f"{name} is not running"
        os.killpg(process.pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        process = self.services.processes[name].process
        assert process is not None, f"{name} is not running"
        os.killpg(process.pid, signal.SIGCONT)

    @asynccontextmanager
    async def frozen(self, name: str) -> AsyncIterator[None]:
        self.freeze(name)
        try:
            yield
        finally:
            self.resume(name)

    async def query(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database(name))
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    @asynccontextmanager
    async def play(self, *, schools: int = 1, affiliates: int = 1, **campaign: Any) -> AsyncIterator[Play]:
        """A campaign of its own (the demo's, with `campaign` changed), its schools and active affiliates."""
        season = Season(self.endpoints, SeasonSize(families=0, schools=schools, affiliates=affiliates,
                                                   seed=random.randrange(10**6)), timeout=90)
        # a connection per request: a kept-alive one the service closes after its idle timeout, while a
        # test waits on a barrier, would cut the next request off
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=90, limits=no_reuse) as season.http:
            await season.publish()
            if campaign:
                season.campaign = season.campaign | campaign
                await season.call("PUT", f"{self.url('enrolment')}/v1/campaigns/{season.campaign_id}",
                                  json=season.campaign, headers=season.admin, what="changing the campaign")
            if affiliates:
                await season.affiliate()
            yield Play(self, season)


class Play:
    """One test's campaign: its schools, affiliates, families, and what they do."""

    def __init__(self, carnet: Carnet, season: Season):
        self.carnet = carnet
        self.season = season
        self.rng = random.Random(season.run_id)
        self.http = season.http
        self._pupils = 0

    @property
    def campaign_id(self) -> str:
        return self.season.campaign_id

    @property
    def campaign(self) -> dict[str, Any]:
        return self.season.campaign

    @property
    def schools(self) -> list[str]:
        return self.season.schools

    @property
    def affiliates(self) -> list[Affiliate]:
        return self.season.affiliates

    @property
    def admin(self) -> dict[str, str]:
        return self.carnet.admin()

    def correspondent(self, school_id: str) -> dict[str, str]:
        return self.carnet.stack.auth("correspondent", sub=f"correspondant-{school_id}", school_id=school_id)

    def family(self, sub: str) -> dict[str, str]:
        return self.carnet.stack.auth("family", sub=sub)

    def counter(self, affiliate: Affiliate) -> dict[str, str]:
        return {"Authorization": f"Bearer {affiliate.token}"}

    def url(self, name: str, path: str) -> str:
        return f"{self.carnet.url(name)}{path}"

    async def call(self, method: str, service: str, path: str, *, expect: tuple[int, ...] = (200,),
                   what: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.season.call(method, self.url(service, path), expect=expect, what=what or f"{method} {path}",
                                      **kwargs)

    async def refused(self, method: str, service: str, path: str, code: str, **kwargs: Any) -> httpx.Response:
        answer = await self.http.request(method, self.url(service, path), **kwargs)
        assert answer.status_code >= 400 and answer.json()["error"]["code"] == code, \
            f"{method} {path}: expected {code}, got {answer.status_code} {answer.text[:300]}"
        return answer

    async def until(self, what: str, probe: Callable[[], Awaitable[T | None]], timeout: float = 90) -> T:
        return await self.season.until(what, probe, timeout=timeout)

    async def caught_up(self, service: str, *feeds: Topic) -> None:
        """`service` has consumed everything published so far on those topics (its group's committed
        offsets at the end offsets): what those events do is visible from then on."""
        await self.season.caught_up(self.carnet.groups[service], [self.carnet.topic(t) for t in feeds],
                                    f"{service} catching up")

    async def settled(self, *services: str) -> None:
        """Each of `services` (every consumer when none is named) has consumed everything published so
        far on every topic it reads (those its group holds offsets on)."""
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.carnet.stack.kafka_bootstrap)
        await admin.start()
        try:
            read = {s: sorted({tp.topic for tp in await admin.list_consumer_group_offsets(self.carnet.groups[s])})
                    for s in services or ("wallet", "redemption", "affiliation", "notification")}
        finally:
            await admin.close()
        for service, names in read.items():
            await self.season.caught_up(self.carnet.groups[service], names, f"{service} catching up")

    async def events(self, topic: Topic, until: Callable[[list[dict]], bool], timeout: float = 60) -> list[dict]:
        """The events on `topic` from its beginning, until `until(events)` holds."""
        return await self.carnet.stack.events(self.carnet.topic(topic), until=until, timeout=timeout)

    # --- families ------------------------------------------------------------------------------------

    def form(self, school_id: str, *, email: str | None = None, level: str = "6e") -> dict[str, Any]:
        """A family's form; names, phone and address line made unique to this test, so that a scan finds
        them only where this family's data is."""
        rng, n = self.rng, self._pupils
        self._pupils += 1
        tag = letters(rng, 5)
        today = paris_today()
        school_year = today.year if today.month >= 9 else today.year - 1
        while True:
            born = date(school_year - 11 - ["6e", "5e", "4e", "3e"].index(level), 1, 1) + timedelta(days=rng.randrange(1, 360))
            if born not in self.carnet.birth_dates:
                self.carnet.birth_dates.add(born)
                break
        last = f"{rng.choice(LAST_NAMES)}-{tag.capitalize()}"
        return {
            "campaign_id": self.campaign_id, "school_id": school_id,
            "student": {"last_name": last, "first_name": f"{rng.choice(FIRST_NAMES)}-{letters(rng, 4).capitalize()}",
                        "birth_date": born.isoformat(), "level": level},
            "guardian": {"last_name": last, "first_name": f"{rng.choice(FIRST_NAMES)}-{letters(rng, 4).capitalize()}",
                         "email": email or f"famille.{self.season.run_id}.{n}.{tag}@example.org",
                         "phone": f"06{rng.randrange(10**8):08d}"},
            "address": {"line": f"{rng.randrange(1, 99)} rue des {letters(rng, 7).capitalize()}", "postcode": "92160",
                        "city": "Antony"},
        }

    async def apply(self, school_id: str, *, paper: bool = False, form: dict[str, Any] | None = None,
                    family_sub: str | None = None) -> Pupil:
        form = form or self.form(school_id)
        if paper:
            pupil = Pupil(school_id, form, self.correspondent(school_id), None, True)
            path = f"/v1/schools/{school_id}/paper-applications"
        else:
            sub = family_sub or f"famille-{self.season.run_id}-{letters(self.rng, 6)}"
            pupil = Pupil(school_id, form, self.family(sub), sub, False)
            path = "/v1/applications"
        answer = await self.call("POST", "enrolment", path, json=form, headers=pupil.actor, expect=(201,))
        pupil.application_id = answer.json()["application_id"]
        return pupil

    async def validate(self, pupil: Pupil) -> None:
        await self.call("POST", "enrolment", f"/v1/applications/{pupil.application_id}/validate",
                        headers=self.correspondent(pupil.school_id))

    async def wallet_ready(self, pupil: Pupil) -> str:
        async def probe() -> str | None:
            seen = (await self.call("GET", "enrolment", f"/v1/applications/{pupil.application_id}",
                                    headers=pupil.actor)).json()
            return seen["wallet_id"] if seen["status"] == "wallet_ready" else None

        pupil.wallet_id = await self.until(f"the wallet of application {pupil.application_id}", probe)
        return pupil.wallet_id

    async def granted(self, school_id: str, *, paper: bool = False, **kwargs: Any) -> Pupil:
        """Applied, validated, its wallet ready."""
        pupil = await self.apply(school_id, paper=paper, **kwargs)
        await self.validate(pupil)
        await self.wallet_ready(pupil)
        return pupil

    async def roster(self, school_id: str, pupils: list[Pupil], *others: dict[str, str]) -> dict[str, Any]:
        """The school's student list (as Excel saves it: `;`, cp1252), with those pupils and `others`
        (students who never applied); the matched applications validated."""
        lines = ["Nom;Prénom;Date de naissance;Niveau"]
        for student in [p.form["student"] for p in pupils] + list(others):
            born = date.fromisoformat(student["birth_date"])
            lines.append(f"{student['last_name'].upper()};{student['first_name']};{born:%d/%m/%Y};{student['level']}")
        body = ("\r\n".join(lines) + "\r\n").encode("cp1252")
        return (await self.call("POST", "enrolment", f"/v1/schools/{school_id}/roster", params={"validate_matched": "true"},
                                content=body, headers=self.correspondent(school_id) | {"Content-Type": "text/csv"})).json()

    async def wallet(self, pupil: Pupil, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return (await self.call("GET", "wallet", f"/v1/wallets/{pupil.wallet_id}",
                                headers=headers or pupil.actor)).json()

    async def ticket(self, pupil: Pupil, ticket_id: str) -> dict[str, Any]:
        return next(t for t in (await self.wallet(pupil))["tickets"] if t["ticket_id"] == ticket_id)

    async def credit(self, pupil: Pupil, *amounts: int, affiliate_id: str | None = None) -> list[dict[str, Any]]:
        """Credits the first blank tickets with those amounts; returns the credited tickets (with codes)."""
        blanks = [t for t in (await self.wallet(pupil))["tickets"] if t["status"] == "blank"]
        credited = []
        for ticket, amount in zip(blanks, amounts, strict=False):
            body: dict[str, Any] = {"amount_cents": amount}
            if affiliate_id:
                body["affiliate_id"] = affiliate_id
            shown = (await self.call("POST", "wallet", f"/v1/wallets/{pupil.wallet_id}/tickets/{ticket['ticket_id']}/credit",
                                     json=body, headers=pupil.actor)).json()
            credited.append(shown)
        pupil.tickets += credited
        return credited

    async def ticket_status(self, pupil: Pupil, ticket_id: str, *statuses: str) -> dict[str, Any]:
        """Waits until the wallet shows the ticket in one of `statuses`."""
        async def probe() -> dict[str, Any] | None:
            ticket = await self.ticket(pupil, ticket_id)
            return ticket if ticket["status"] in statuses else None

        return await self.until(f"ticket {ticket_id} {'/'.join(statuses)} in its wallet", probe)

    # --- counters ------------------------------------------------------------------------------------

    async def redemption_ready(self) -> None:
        await self.caught_up("redemption", *REDEMPTION_FEEDS)

    async def redeem(self, code: str, affiliate: Affiliate | None = None) -> httpx.Response:
        """A counter scanning a ticket: the answer, whatever it is."""
        affiliate = affiliate or self.affiliates[0]
        headers = self.counter(affiliate) | {"Idempotency-Key": str(uuid.uuid4())}
        return await self.http.post(self.url("redemption", "/v1/redemptions"), json={"ticket_code": code},
                                    headers=headers)

    async def redeemed(self, code: str, affiliate: Affiliate | None = None) -> dict[str, Any]:
        answer = await self.redeem(code, affiliate)
        assert answer.status_code == 201, f"redeeming {code}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    async def redeem_refused(self, code: str, affiliate: Affiliate | None = None) -> str:
        answer = await self.redeem(code, affiliate)
        assert answer.status_code in (404, 409, 422), f"redeeming {code}: {answer.status_code} {answer.text[:300]}"
        return answer.json()["error"]["code"]

    async def statement(self, affiliate: Affiliate) -> dict[str, Any]:
        return (await self.call("GET", "affiliation", f"/v1/affiliates/{affiliate.affiliate_id}/statement",
                                params={"campaign_id": self.campaign_id}, headers=self.admin)).json()

    async def statement_holds(self, affiliate: Affiliate, count: int) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            found = await self.statement(affiliate)
            live = [r for r in found["redemptions"] if r["status"] != "cancelled"]
            return found if len(live) == count else None

        return await self.until(f"{count} redemptions on {affiliate.name}'s statement", probe)

    async def close_cancel_period(self) -> None:
        """The campaign's cancel period ends now (as it long has by the time of a batch), known to the
        affiliation and redemption services."""
        self.season.campaign = self.campaign | {"redemption_cancel_grace_minutes": 0}
        await self.call("PUT", "enrolment", f"/v1/campaigns/{self.campaign_id}", json=self.campaign,
                        headers=self.admin)
        await self.caught_up("affiliation", topics.ENROLMENT_CAMPAIGNS)
        await self.caught_up("redemption", topics.ENROLMENT_CAMPAIGNS)

    def contact(self, affiliate: Affiliate) -> str:
        """The contact address the demo's onboarding gave this affiliate of the season."""
        return f"contact.{self.season.run_id}.{self.affiliates.index(affiliate)}@example.org"

    async def change_iban(self, affiliate: Affiliate, iban: str) -> dict[str, Any]:
        """The organisation asks for a new IBAN and confirms it with the code e-mailed to its contact."""
        path = f"/v1/affiliates/{affiliate.affiliate_id}/iban-change"
        codes = len(self.carnet.mail.to(self.contact(affiliate), "confirmer le changement d'IBAN"))
        await self.call("POST", "affiliation", path, json={"iban": iban}, headers=self.counter(affiliate), expect=(202,))
        sent = await self.carnet.mail.wait(self.contact(affiliate), "confirmer le changement d'IBAN", count=codes + 1)
        otp = sent[-1].find(r"(?m)^\s+(\d{6})\s*$")
        return (await self.call("POST", "affiliation", f"{path}/confirm", json={"otp": otp},
                                headers=self.counter(affiliate))).json()

    async def sepa_ibans(self, batch_id: str) -> list[str]:
        """The organisations' IBANs in a batch's SEPA file (not the département's, the debtor)."""
        xml = (await self.call("GET", "affiliation", f"/v1/reimbursement-batches/{batch_id}/sepa.xml",
                               headers=self.admin)).text
        return re.findall(r"<CdtrAcct>\s*<Id>\s*<IBAN>([A-Z0-9]+)</IBAN>", xml)

    async def batch(self) -> dict[str, Any]:
        return (await self.call("POST", "affiliation", "/v1/reimbursement-batches", json={"campaign_id": self.campaign_id},
                                headers=self.admin, expect=(201,))).json()


async def gather_all(*work: Awaitable[Any]) -> list[Any]:
    return list(await asyncio.gather(*work))
