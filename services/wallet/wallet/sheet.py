"""The ticket sheet: one A4 page of 1 to 7 credited tickets, to print in black and white and cut apart.

Every ticket sits in the same slot whatever the number printed, so that a page of three and a page
of seven are cut along the same lines. The barcode is Code 128 of the canonical code with 0.4 mm
modules: wide enough for a handheld scanner at a counter and for a 200 dpi scan.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from carnet_contracts import ticket_code

from .domain import MAX_TICKETS_PER_SHEET, format_day, format_euros

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 10 * mm
SLOT_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN) / MAX_TICKETS_PER_SHEET
SLOT_WIDTH = PAGE_WIDTH - 2 * MARGIN
PADDING = 4 * mm
TEXT_WIDTH = 72 * mm
MODULE = 0.4 * mm
BAR_HEIGHT = 17 * mm
CROP_MARK = 6 * mm
# Students' names come from every alphabet of Europe and beyond; PDF's built-in Helvetica only knows
# Western European letters. A Unicode TrueType font is used when the system has one.
_UNICODE_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
                      Path("/usr/share/fonts/TTF"))


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    unicode: bool


@functools.cache
def fonts() -> Fonts:
    for directory in _UNICODE_FONT_DIRS:
        regular, bold = directory / "DejaVuSans.ttf", directory / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("CarnetSans", str(regular)))
            pdfmetrics.registerFont(TTFont("CarnetSans-Bold", str(bold)))
            return Fonts("CarnetSans", "CarnetSans-Bold", unicode=True)
    return Fonts("Helvetica", "Helvetica-Bold", unicode=False)


# Letters with no Unicode decomposition to a base letter.
_BASE_LETTERS = str.maketrans("ŁłĐđĦħıŦŧ", "LlDdHhiTt")


def _printable(text: str) -> str:
    """With the built-in font, letters it lacks lose their accents rather than print as boxes."""
    if fonts().unicode:
        return text
    out = []
    for char in text.translate(_BASE_LETTERS):
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            out.append(unicodedata.normalize("NFKD", char).encode("cp1252", "ignore").decode("cp1252") or "?")
    return "".join(out)


@dataclass(frozen=True)
class SheetTicket:
    """One ticket as the printed sheet shows it: the code in full, for the counter's scanner."""

    position: int
    code: str
    amount_cents: int
    affiliate_name: str | None = None


@dataclass(frozen=True)
class Sheet:
    """What a wallet's printed sheet shows, in the family's words."""

    student_name: str
    campaign_label: str
    valid_until: date
    tickets: Sequence[SheetTicket]


def render_sheet(sheet: Sheet) -> bytes:
    """The sheet as PDF bytes: one A4 page."""
    return render_sheets([sheet])


def render_sheets(sheets: Sequence[Sheet]) -> bytes:
    """Several sheets in one PDF, a page each (a school printing for several pupils)."""
    if not sheets:
        raise ValueError("a PDF holds at least one sheet")
    for sheet in sheets:
        if not 1 <= len(sheet.tickets) <= MAX_TICKETS_PER_SHEET:
            raise ValueError(f"a sheet holds 1 to {MAX_TICKETS_PER_SHEET} tickets")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"Tickets - {sheets[0].campaign_label}")
    for sheet in sheets:
        _draw_page(canvas, sheet)
    canvas.save()
    return buffer.getvalue()


def _draw_page(canvas: Canvas, sheet: Sheet) -> None:
    canvas.setFillGray(0)
    canvas.setStrokeGray(0)
    canvas.setFont(fonts().regular, 7)
    canvas.drawString(MARGIN + 3 * mm, PAGE_HEIGHT - MARGIN + 3 * mm,
                      _printable(f"{sheet.campaign_label} - tickets à découper suivant les pointillés"))
    for index, ticket in enumerate(sheet.tickets):
        bottom = PAGE_HEIGHT - MARGIN - (index + 1) * SLOT_HEIGHT
        _draw_ticket(canvas, sheet, ticket, MARGIN, bottom)
    _draw_cut_marks(canvas, len(sheet.tickets))
    canvas.showPage()


def _draw_ticket(canvas: Canvas, sheet: Sheet, ticket: SheetTicket, left: float, bottom: float) -> None:
    code = ticket_code.parse(ticket.code)
    top = bottom + SLOT_HEIGHT
    x = left + PADDING

    regular, bold = fonts().regular, fonts().bold

    canvas.setFont(bold, 9)
    canvas.drawString(x, top - PADDING - 8, _fit(canvas, sheet.campaign_label, bold, 9))
    canvas.setFont(bold, 24)
    canvas.drawString(x, top - PADDING - 34, format_euros(ticket.amount_cents))
    canvas.setFont(regular, 9)
    canvas.drawString(x, top - PADDING - 48, _fit(canvas, sheet.student_name, regular, 9))
    canvas.drawString(x, top - PADDING - 60, f"Valable jusqu'au {format_day(sheet.valid_until)}")
    affiliate = f"Organisme : {ticket.affiliate_name}" if ticket.affiliate_name else "Tout organisme affilié"
    canvas.drawString(x, top - PADDING - 72, _fit(canvas, affiliate, regular, 9))
    canvas.setFont(regular, 7)
    canvas.drawString(x, bottom + PADDING, f"Ticket n° {ticket.position}")

    barcode = Code128(code, barWidth=MODULE, barHeight=BAR_HEIGHT, humanReadable=False, quiet=True)
    area_left = left + PADDING + TEXT_WIDTH
    area_width = SLOT_WIDTH - TEXT_WIDTH - 2 * PADDING
    barcode_x = area_left + (area_width - barcode.width) / 2
    barcode_y = top - PADDING - BAR_HEIGHT
    barcode.drawOn(canvas, barcode_x, barcode_y)
    canvas.setFont("Courier-Bold", 13)
    canvas.drawCentredString(area_left + area_width / 2, barcode_y - 6 * mm, ticket_code.format_groups(code))


def _draw_cut_marks(canvas: Canvas, count: int) -> None:
    """Dashed cut lines around each slot and solid crop marks in the margins, where the scissors go."""
    right = MARGIN + SLOT_WIDTH
    lowest = PAGE_HEIGHT - MARGIN - count * SLOT_HEIGHT
    canvas.setLineWidth(0.4)
    canvas.setDash(3, 3)
    for i in range(count + 1):
        y = PAGE_HEIGHT - MARGIN - i * SLOT_HEIGHT
        canvas.line(MARGIN, y, right, y)
    canvas.line(MARGIN, lowest, MARGIN, PAGE_HEIGHT - MARGIN)
    canvas.line(right, lowest, right, PAGE_HEIGHT - MARGIN)
    canvas.setDash()
    canvas.setLineWidth(0.6)
    for i in range(count + 1):
        y = PAGE_HEIGHT - MARGIN - i * SLOT_HEIGHT
        canvas.line(MARGIN - CROP_MARK - 1 * mm, y, MARGIN - 1 * mm, y)
        canvas.line(right + 1 * mm, y, right + 1 * mm + CROP_MARK, y)
    for x in (MARGIN, right):
        canvas.line(x, PAGE_HEIGHT - MARGIN + 1 * mm, x, PAGE_HEIGHT - MARGIN + 1 * mm + CROP_MARK / 2)
        canvas.line(x, lowest - 1 * mm, x, lowest - 1 * mm - CROP_MARK / 2)


def _fit(canvas: Canvas, text: str, font: str, size: float) -> str:
    """Shortens text that would run into the barcode."""
    text = _printable(text)
    limit = TEXT_WIDTH - 2 * mm
    if canvas.stringWidth(text, font, size) <= limit:
        return text
    while text and canvas.stringWidth(text + "…", font, size) > limit:
        text = text[:-1]
    return text + "…"
