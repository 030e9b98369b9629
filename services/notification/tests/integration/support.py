"""What the notification service's integration tests use: the mailbox a real SMTP server writes to, a
stand-in for the wallet's sheet that checks the service token like the wallet does, the delivery log."""

from __future__ import annotations

import asyncio
import email
import io
import threading
import time
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from reportlab.pdfgen import canvas

from carnet_runtime.auth import TokenVerifier


def sheet_pdf(lines: list[str]) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    for i, line in enumerate(lines):
        page.drawString(72, 760 - 40 * i, line)
    page.save()
    return out.getvalue()


class WalletStandIn:
    """GET /v1/wallets/{id}/tickets.pdf: 503 on the first call (the wallet restarting), then, for a
    valid service token, the sheet of the snapshot `request_id` names (a page saying which), 409 for a
    request id starting with `refused-` (the wallet will never print it), 401 without a token."""

    def __init__(self, keys_dir: Path):
        verifier = TokenVerifier(keys_dir, audience="wallet")
        self.calls: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                stand_in.calls.append(self.path)
                if len(stand_in.calls) == 1:
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
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

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
