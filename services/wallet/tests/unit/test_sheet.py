import io
from datetime import date

import pypdf
import pypdfium2
import pytest
import zxingcpp

from carnet_contracts import ticket_code
from wallet import sheet as sheet_module
from wallet.sheet import Sheet, SheetTicket, render_sheet, render_sheets

AMOUNTS = [1000, 3000, 7000, 500, 1050, 600, 700]
AMOUNTS_AS_PRINTED = ["10,00 €", "30,00 €", "70,00 €", "5,00 €", "10,50 €", "6,00 €", "7,00 €"]


def seven_ticket_sheet() -> Sheet:
    return Sheet(
        student_name="Léa Martin",
        campaign_label="Pass Hauts-de-Seine 2026-2027",
        valid_until=date(2027, 3, 31),
        tickets=[
            SheetTicket(position=i, code=ticket_code.generate(), amount_cents=amount,
                        affiliate_name="Club de judo de Nanterre" if i == 3 else None)
            for i, amount in enumerate(AMOUNTS, start=1)
        ],
    )


def rasterise(pdf: bytes, dpi: int):
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert len(document) == 1
        return document[0].render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        document.close()


@pytest.mark.parametrize("dpi", [200, 300])
def test_every_barcode_on_a_rendered_seven_ticket_page_decodes_back_to_its_code(dpi):
    sheet = seven_ticket_sheet()
    page = rasterise(render_sheet(sheet), dpi)
    decoded = zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.Code128)
    assert sorted(b.text for b in decoded) == sorted(t.code for t in sheet.tickets)


def test_the_pdf_text_holds_amounts_student_validity_affiliate_and_readable_codes():
    sheet = seven_ticket_sheet()
    reader = pypdf.PdfReader(io.BytesIO(render_sheet(sheet)))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = reader.pages[0].extract_text()
    for amount in AMOUNTS_AS_PRINTED:
        assert amount in text
    assert text.count("Léa Martin") == 7
    assert "Valable jusqu'au 31/03/2027" in text
    assert "Pass Hauts-de-Seine 2026-2027" in text
    assert text.count("Club de judo de Nanterre") == 1
    for ticket in sheet.tickets:
        assert ticket_code.format_groups(ticket.code) in text


def test_a_single_ticket_sheet_is_one_page_with_its_barcode():
    code = ticket_code.generate()
    sheet = Sheet("Léa Martin", "Pass 2026-2027", date(2027, 3, 31), [SheetTicket(5, code, 2000)])
    decoded = zxingcpp.read_barcodes(rasterise(render_sheet(sheet), 200))
    assert [b.text for b in decoded] == [code]


@pytest.mark.parametrize("count", [0, 8])
def test_a_sheet_holds_one_to_seven_tickets(count):
    tickets = [SheetTicket(i, ticket_code.generate(), 500) for i in range(1, count + 1)]
    with pytest.raises(ValueError):
        render_sheet(Sheet("Léa Martin", "Pass", date(2027, 3, 31), tickets))


def test_names_in_any_european_alphabet_are_printed_as_written():
    sheet = Sheet("Łukasz Wąsik-Nguyễn", "Pass", date(2027, 3, 31), [SheetTicket(1, ticket_code.generate(), 500)])
    if not sheet_module.fonts().unicode:
        pytest.skip("no Unicode TrueType font on this system: the built-in font's fallback applies")
    text = pypdf.PdfReader(io.BytesIO(render_sheet(sheet))).pages[0].extract_text()
    assert "Łukasz Wąsik-Nguyễn" in text


def test_without_a_unicode_font_letters_lose_their_accents_rather_than_print_as_boxes(monkeypatch):
    monkeypatch.setattr(sheet_module, "fonts", lambda: sheet_module.Fonts("Helvetica", "Helvetica-Bold", False))
    sheet = Sheet("Łukasz Wąsik-Nguyễn", "Pass", date(2027, 3, 31), [SheetTicket(1, ticket_code.generate(), 500)])
    text = pypdf.PdfReader(io.BytesIO(render_sheet(sheet))).pages[0].extract_text()
    assert "Lukasz Wasik-Nguyen" in text
    assert "10,00 €" not in text and "5,00 €" in text


def rasterise_pages(pdf: bytes, dpi: int) -> list:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(document))]
    finally:
        document.close()


def test_a_schools_pdf_has_a_page_per_pupil_whose_barcodes_decode_to_that_pupils_codes():
    pupils = [("Léa Martin", 3), ("Hugo Bernard", 7), ("Inès Petit", 1)]
    sheets = [Sheet(name, "Pass 2026-2027", date(2027, 3, 31),
                    [SheetTicket(p, ticket_code.generate(), 1000) for p in range(1, count + 1)])
              for name, count in pupils]
    pdf = render_sheets(sheets)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    for page, sheet, image in zip(reader.pages, sheets, rasterise_pages(pdf, 200), strict=True):
        assert page.extract_text().count(sheet.student_name) == len(sheet.tickets)
        decoded = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)
        assert sorted(b.text for b in decoded) == sorted(t.code for t in sheet.tickets)


def test_a_pdf_holds_at_least_one_sheet():
    with pytest.raises(ValueError):
        render_sheets([])
