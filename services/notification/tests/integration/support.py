"""What the notification service's integration tests use: the mailbox a real SMTP server writes to, a
stand-in for the wallet's sheet that checks the service token like the wallet does, a campaign dated from
today, the delivery log and the wait for its final states, Paris times as people read them."""

from __future__ import annotations

import asyncio
import email
import io
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
from reportlab.pdfgen import canvas

from carnet_contracts import events as ev
from carnet_runtime.auth import TokenVerifier
from notification.domain import retention

PARIS = ZoneInfo("Europe/Paris")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


def sheet_pdf(lines: list[str]) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    for i, line in enumerate(lines):
        page.drawString(72, 760 - 40 * i, line)
    page.save()
    return out.getvalue()


class WalletStandIn:
    """GET /v1/wallets/{id}/tickets.pdf: for a valid service token, the sheet of the snapshot
    `request_id` names (a page saying which), 409 for a request id starting with `refused-` (the wallet
    will never print it), 401 without a token; 503 (the wallet restarting) to the first call for a
    wallet a test named in `unavailable_once`. `answers` keeps (path, status) of every call."""

    def __init__(self, keys_dir: Path):
        verifier = TokenVerifier(keys_dir, audience="wallet")
        self.answers: list[tuple[str, int]] = []
        self.unavailable: set[str] = set()
        lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                wallet_id = urlsplit(self.path).path.removeprefix("/v1/wallets/").split("/")[0]
                with lock:
                    restarting = wallet_id in stand_in.unavailable
                    stand_in.unavailable.discard(wallet_id)
                if restarting:
                    return self._answer(503)
                try:
                    principal = verifier.verify(self.headers.get("Authorization", "").removeprefix("Bearer "))
                except Exception:
                    principal = None
                if principal is None or principal.role != "service":
                    return self._answer(401)
                query = parse_qs(urlsplit(self.path).query)
                request_id = query.get("request_id", [""])[0]
                if request_id.startswith("refused-"):
                    return self._answer(409)
                body = sheet_pdf([f"Feuille {request_id}", *(f"Ticket {p}" for p in query.get("positions", []))])
                stand_in.answers.append((self.path, 200))
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self, status: int) -> None:
                stand_in.answers.append((self.path, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def unavailable_once(self, wallet_id: str) -> None:
        """The next call for this wallet's sheet is answered 503, whenever it comes."""
        self.unavailable.add(wallet_id)

    def answers_for(self, wallet_id: str) -> list[tuple[str, int]]:
        return [(path, status) for path, status in self.answers
                if urlsplit(path).path == f"/v1/wallets/{wallet_id}/tickets.pdf"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory
        self.controller = None

    def messages(self, to: str | None = None) -> list[email.message.EmailMessage]:
        found = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(self.directory.glob("*.eml"))
        ]
        return [m for m in found if to is None or m["To"] == to]

    async def wait_for(self, to: str, count: int = 1, timeout: float = 45.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages(to)
            if len(got) >= count:
                return got
            await asyncio.sleep(0.2)
        raise AssertionError(f"{len(self.messages(to))} message(s) for {to} within {timeout} s, expected {count}")

    async def one(self, to: str, subject_part: str, timeout: float = 45.0) -> email.message.EmailMessage:
        """The e-mail to `to` whose subject holds `subject_part`, once it arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages(to) if subject_part in m["Subject"]]
            if found:
                (mail,) = found
                return mail
            await asyncio.sleep(0.2)
        raise AssertionError(f"no '{subject_part}' for {to} within {timeout} s: "
                             f"{[m['Subject'] for m in self.messages(to)]}")


def text_of(mail: email.message.EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()


def html_of(mail: email.message.EmailMessage) -> str:
    return mail.get_body(("html",)).get_content()


async def log_of(notification, stack, recipient: str) -> list[dict]:
    """GET /v1/messages?recipient= as the admin reads it."""
    async with httpx.AsyncClient(base_url=notification.url) as client:
        response = await client.get("/v1/messages", params={"recipient": recipient}, headers=stack.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()["messages"]


async def settled(notification, stack, recipient: str, count: int, state: str = "sent",
                  timeout: float = 60.0) -> list[dict]:
    """The delivery log of `recipient` once it holds at least `count` messages, every one in `state`
    (`sent` or `failed`: final, the worker sends nothing more for them). Read after the consumer group
    caught up, it holds every message the events will ever make, and the mailbox every e-mail."""
    deadline = time.monotonic() + timeout
    log: list[dict] = []
    while time.monotonic() < deadline:
        log = await log_of(notification, stack, recipient)
        if len(log) >= count and {m["state"] for m in log} == {state}:
            return log
        await asyncio.sleep(0.2)
    raise AssertionError(f"{recipient}: {[m['state'] for m in log]} within {timeout} s, expected {count} {state}")


class Campaign(retention.Campaign):
    """A test's campaign, under way today (conftest's `campaign`): the campaign as the service keeps
    it, and the event that publishes it."""

    @classmethod
    def from_today(cls, campaign_id: str) -> Campaign:
        today = paris_today()
        return cls(campaign_id, f"{today.year}-{today.year + 1}", today + timedelta(days=200),
                   today + timedelta(days=230))

    def published(self) -> ev.CampaignPublished:
        today = paris_today()
        return ev.CampaignPublished(
            campaign_id=self.campaign_id, label=self.label, enrolment_opens=today - timedelta(days=30),
            enrolment_closes=today + timedelta(days=60), pass_valid_until=self.pass_valid_until,
            reimbursement_deadline=self.reimbursement_deadline, allowance_cents=7000, tickets_per_pass=7,
            ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
            eligible_levels=["6e", "5e", "4e", "3e"],
        )


def paris_today() -> date:
    return datetime.now(PARIS).date()


def paris_time(day: date, hour: int, minute: int) -> datetime:
    """That wall-clock time of `day` in Paris, as the UTC instant events carry."""
    return datetime.combine(day, clock(hour, minute), PARIS).astimezone(UTC)


def short_date(day: date) -> str:
    """31/03/2027, as the e-mails write a day."""
    return f"{day:%d/%m/%Y}"


def long_date(day: date) -> str:
    """1er juin 2014, 3 mai 2027: as the e-mails write a day in words."""
    return f"{day.day}{'er' if day.day == 1 else ''} {MONTHS[day.month - 1]} {day.year}"


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
