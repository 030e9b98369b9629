"""From a message's content to the e-mail a person reads: jinja2 templates in templates/, one
plain-text file (whose `subject` block is the subject) and one HTML file per Template, French
formatting of money, dates and times, and the MIME message itself.
"""

from __future__ import annotations

import email.generator
import email.policy
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from carnet_contracts import display

from .domain import PARIS, Content, RenderedMessage

TEMPLATES_DIR = Path(__file__).parent / "templates"

_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


def euros(cents: int) -> str:
    """70 €, 12,50 €, 2 155 000 €: as the département writes amounts."""
    return display.euros(cents, drop_zero_cents=True)


def french_date(day: date | datetime) -> str:
    """1er juin 2014, 31 mars 2015."""
    if isinstance(day, datetime):
        day = day.astimezone(PARIS).date()
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS[day.month - 1]} {day.year}"


def french_datetime(moment: datetime) -> str:
    """Le 1er juin 2014 à 9 h 05, Paris time."""
    local = moment.astimezone(PARIS)
    return f"{french_date(local)} à {local.hour} h {local.minute:02d}"


def paragraphs(text: str) -> Markup:
    """Staff-written plain text as HTML: escaped, blank lines make paragraphs, lines kept."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return Markup("").join(
        Markup('<p style="margin:0 0 16px">{}</p>').format(
            Markup("<br>").join(escape(line) for line in block.strip().split("\n"))
        )
        for block in blocks
    )


@dataclass(frozen=True)
class Branding:
    """The département's names and addresses printed in every message (settings)."""

    pass_name: str = "Pass Hauts-de-Seine"
    organisation: str = "Département des Hauts-de-Seine"
    portal_url: str = "https://pass.hauts-de-seine.net"
    helpline: str = "0 800 076 092"
    helpline_hours: str = "du lundi au vendredi, de 9h00 à 19h00"


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(euros=euros, date=french_date, datetime=french_datetime)
    env.filters["paragraphs"] = paragraphs
    return env


class Renderer:
    def __init__(self, branding: Branding) -> None:
        self.branding = branding
        self._text = _environment(autoescape=False)
        self._html = _environment(autoescape=True)

    def render(self, content: Content) -> RenderedMessage:
        variables = {"brand": self.branding, **content.variables()}
        name = content.template.value
        text_template = self._text.get_template(f"{name}.txt")
        subject = "".join(
            text_template.blocks["subject"](text_template.new_context(variables))
        )
        subject = " ".join(subject.split())
        text = text_template.render(variables)
        html = self._html.get_template(f"{name}.html").render({**variables, "subject": subject})
        return RenderedMessage(subject=subject, text=text, html=html)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def build_email(
    rendered: RenderedMessage,
    *,
    sender: str,
    recipient: str,
    message_id: uuid.UUID,
    sender_domain: str,
    sent_at: datetime,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    """multipart/alternative (text, then HTML), inside multipart/mixed when something is attached.

    The Message-ID is derived from our message id, so that a retried delivery carries the same
    one and a mailbox that got it twice can tell.
    """
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(addr_spec=recipient)
    mail["Subject"] = rendered.subject
    mail["Date"] = format_datetime(sent_at)
    mail["Message-ID"] = f"<{message_id}@{sender_domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail["Content-Language"] = "fr"
    mail.set_content(rendered.text, charset="utf-8", cte=_body_encoding(rendered.text))
    mail.add_alternative(rendered.html, subtype="html", charset="utf-8", cte=_body_encoding(rendered.html))
    for attachment in attachments:
        mail.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return mail


SMTP_LINE_LIMIT = 998


def _body_encoding(text: str) -> str | None:
    """8bit whenever the lines allow it, so that a link or a code is in the message as written
    (quoted-printable would turn `token=` into `token=3D` and cut long lines); None lets the
    email package choose for text with longer lines. A server without 8BITMIME gets base64
    instead (wire_bytes)."""
    lines = text.encode("utf-8").splitlines()
    return "8bit" if max((len(line) for line in lines), default=0) <= SMTP_LINE_LIMIT else None


_WIRE_8BIT = email.policy.SMTP.clone(max_line_length=SMTP_LINE_LIMIT, cte_type="8bit")
_WIRE_7BIT = _WIRE_8BIT.clone(cte_type="7bit")


def wire_bytes(mail: EmailMessage, *, eight_bit: bool = True) -> bytes:
    """The message as sent: CRLF lines, headers not folded, because Python folds some long ASCII
    subjects into a continuation line that parsers read back with a leading space. Without
    eight_bit (the server lacks 8BITMIME) 8bit bodies are re-encoded in base64."""
    out = io.BytesIO()
    email.generator.BytesGenerator(out, policy=_WIRE_8BIT if eight_bit else _WIRE_7BIT).flatten(mail)
    return out.getvalue()
