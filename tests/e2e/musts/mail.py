"""The SMTP capture's e-mails (one .eml file each, as received), read as their recipients would."""

from __future__ import annotations

import asyncio
import email
import io
import re
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True)
class Received:
    name: str
    to: str
    subject: str
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body else ""

    def pdfs(self) -> list[bytes]:
        return [part.get_payload(decode=True) for part in self.message.iter_attachments()
                if part.get_content_type() == "application/pdf"]

    def find(self, pattern: str) -> str:
        found = re.search(pattern, self.text)
        assert found, f"« {self.subject} » to {self.to}: no {pattern!r} in\n{self.text}"
        return found.group(1)


class Mail:
    def __init__(self, directory: Path):
        self.directory = directory
        self._read: dict[str, Received] = {}

    def all(self) -> list[Received]:
        if self.directory.is_dir():
            for path in sorted(self.directory.glob("*.eml")):
                if path.name not in self._read:
                    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
                    self._read[path.name] = Received(path.name, str(message["To"]), str(message["Subject"]), message)
        return sorted(self._read.values(), key=lambda r: r.name)

    def to(self, recipient: str, subject: str = "") -> list[Received]:
        """The e-mails received by `recipient` whose subject holds `subject`, in arrival order."""
        return [r for r in self.all() if recipient.casefold() in r.to.casefold() and subject in r.subject]

    async def wait(self, recipient: str, subject: str = "", *, count: int = 1, timeout: float = 90) -> list[Received]:
        """Waits until `recipient` has received `count` such e-mails; returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.to(recipient, subject)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = "\n".join(f"  {r.to}: {r.subject}" for r in self.all()[-15:])
                raise AssertionError(f"{count} e-mail(s) « {subject} » to {recipient} expected, {len(found)} "
                                     f"received within {timeout:.0f} s; the last ones:\n{seen}")
            await asyncio.sleep(0.2)


def spaced(text: str) -> str:
    """Text with the narrow and no-break spaces of French typography as plain spaces, to compare."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def barcodes(pdf: bytes, dpi: int = 200) -> list[list[str]]:
    """The Code 128 barcodes of each page of a PDF, decoded from the page as printed."""
    import pypdfium2
    import zxingcpp

    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil()
            pages.append(sorted(b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)))
        return pages
    finally:
        document.close()


def pdf_text(pdf: bytes) -> list[str]:
    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]
