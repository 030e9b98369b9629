"""The two calls the service makes to the outside world: the SMTP server, and the wallet's ticket sheet."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib
import httpx

from .domain import Accepted, AttemptOutcome, Impossible, Refused, Unreachable
from .rendering import wire_bytes
from .settings import NotificationSettings


class Mailer:
    """One SMTP conversation per message: simple, and a dead connection never spoils a batch."""

    def __init__(self, settings: NotificationSettings):
        self.settings = settings
        self.envelope_sender = parseaddr(settings.mail_from)[1]

    async def send(self, mail: EmailMessage, recipient: str) -> AttemptOutcome:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )
        try:
            async with client:
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                eight_bit = client.supports_extension("8BITMIME")
                await client.sendmail(
                    self.envelope_sender,
                    [recipient],
                    wire_bytes(mail, eight_bit=eight_bit),
                    mail_options=["BODY=8BITMIME"] if eight_bit else [],
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            return Refused(refusal.code, refusal.message)
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            return Unreachable(type(exc).__name__)
        except aiosmtplib.SMTPResponseException as exc:
            return Refused(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Unreachable(type(exc).__name__)
        return Accepted()


class TicketSheets:
    """The one call off any request path: the wallet renders the sheet, so codes never travel on Kafka.
    `token` signs a service token for that one call (short-lived, so a rotated key is picked up)."""

    def __init__(self, settings: NotificationSettings, token: Callable[[], str]):
        self.settings = settings
        self.token = token

    async def fetch(self, wallet_id: str, positions: tuple[int, ...]) -> bytes | AttemptOutcome:
        url = f"{self.settings.wallet_url.rstrip('/')}/v1/wallets/{wallet_id}/tickets.pdf"
        try:
            async with httpx.AsyncClient(timeout=self.settings.wallet_timeout_seconds) as client:
                response = await client.get(
                    url,
                    params={"positions": ",".join(map(str, positions))},
                    headers={"Authorization": f"Bearer {self.token()}", "Accept": "application/pdf"},
                )
        except httpx.HTTPError as exc:
            return Unreachable(f"porte-monnaie injoignable ({type(exc).__name__})")
        if response.status_code == 200 and response.content.startswith(b"%PDF"):
            return response.content
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            return Unreachable(f"porte-monnaie indisponible ({response.status_code})")
        return Impossible(f"feuille de tickets refusée par le porte-monnaie ({response.status_code})")
