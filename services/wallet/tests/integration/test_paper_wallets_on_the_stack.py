"""Paper wallets on the real stack: the school's correspondent acts for families without internet,
prints several pupils in one PDF, and every act is recorded for the family's export."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import httpx
import pypdf
import pypdfium2
import pytest
import zxingcpp

from carnet_contracts.events import AffiliateActivated, TicketRedeemed

pytestmark = pytest.mark.integration


def barcodes_per_page(pdf: bytes) -> list[list[str]]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [sorted(b.text for b in zxingcpp.read_barcodes(
                    document[i].render(scale=200 / 72, grayscale=True).to_pil(),
                    formats=zxingcpp.BarcodeFormat.Code128))
                for i in range(len(document))]
    finally:
        document.close()


async def test_a_correspondent_credits_prints_several_pupils_in_one_pdf_then_a_ticket_is_redeemed(stack, wallet, feed):
    process, _ = wallet
    school = f"09{uuid.uuid4().hex[:6].upper()}"
    emails = [f"famille.{uuid.uuid4().hex[:6]}@example.org" for _ in range(3)]
    lea = feed.pass_granted(paper=True, school_id=school, email=emails[0])
    hugo = feed.pass_granted(paper=True, school_id=school, first_name="Hugo", last_name="Bernard", email=emails[1])
    ines = feed.pass_granted(school_id=school, first_name="Inès", last_name="Petit", email=emails[2])
    w_lea, w_hugo, w_ines = [await feed.wallet_of(g) for g in (lea, hugo, ines)]
    club = f"aff-{uuid.uuid4().hex[:8]}"
    await stack.publish(AffiliateActivated(affiliate_id=club, name="Club de judo de Nanterre", activity="sport",
                                           city="Nanterre", postcode="92000", activated_at=datetime.now(UTC)))
    await feed.until("SELECT count(*) = 1 FROM affiliates WHERE affiliate_id = $1", club)
    corr = stack.auth("correspondent", sub="corr-nanterre", school_id=school)
    family = stack.auth("family", sub=ines.family_sub)
    codes: dict[str, list[str]] = {}
    async with httpx.AsyncClient(base_url=process.url, timeout=60) as client:
        for wallet_id, count in ((w_lea, 2), (w_hugo, 3)):
            shown = await client.get(f"/v1/wallets/{wallet_id}", headers=corr)
            assert shown.status_code == 200, shown.text
            assert shown.json()["paper"] is True
            for t in shown.json()["tickets"][:count]:
                answer = await client.post(f"/v1/wallets/{wallet_id}/tickets/{t['ticket_id']}/credit", headers=corr,
                                           json={"amount_cents": 1000, "affiliate_id": club})
                assert answer.status_code == 200, answer.text
                codes.setdefault(wallet_id, []).append(answer.json()["code"])
        again = (await client.get(f"/v1/wallets/{w_lea}", headers=corr)).json()
        assert [t["code"] for t in again["tickets"][:2]] == codes[w_lea], "the correspondent sees the codes"

        # The online family keeps its rights; the correspondent gets none of them on its wallet, only print.
        ines_tickets = (await client.get(f"/v1/wallets/{w_ines}", headers=family)).json()["tickets"]
        mine = await client.post(f"/v1/wallets/{w_ines}/tickets/{ines_tickets[0]['ticket_id']}/credit",
                                 headers=family, json={"amount_cents": 2000})
        codes[w_ines] = [mine.json()["code"]]
        for attempt in (client.get(f"/v1/wallets/{w_ines}", headers=corr),
                        client.post(f"/v1/wallets/{w_ines}/tickets/{ines_tickets[1]['ticket_id']}/credit",
                                    headers=corr, json={"amount_cents": 500}),
                        client.post(f"/v1/wallets/{w_ines}/tickets/{ines_tickets[0]['ticket_id']}/void", headers=corr)):
            refused = await attempt
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "NOT_A_PAPER_WALLET")

        # One PDF, a page per pupil, in the order asked; every barcode decodes to that pupil's codes.
        pdf = await client.get(f"/v1/schools/{school}/tickets.pdf", headers=corr,
                               params={"wallet_ids": ",".join((w_hugo, w_lea, w_ines))})
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["cache-control"] == "no-store"
        assert barcodes_per_page(pdf.content) == [sorted(codes[w_hugo]), sorted(codes[w_lea]), sorted(codes[w_ines])]
        pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages]
        assert "Hugo Bernard" in pages[0] and "Léa Martin" in pages[1] and "Inès Petit" in pages[2]
        assert "Club de judo de Nanterre" in pages[0]

        other = stack.auth("correspondent", school_id="0920999Z")
        refused = await client.get(f"/v1/schools/{school}/tickets.pdf", headers=other, params={"wallet_ids": w_lea})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "OTHER_SCHOOL")
        refused = await client.get(f"/v1/schools/{school}/tickets.pdf", headers=corr,
                                   params={"wallet_ids": f"{w_lea},{uuid.uuid4()}"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (404, "WALLET_UNKNOWN")
        refused = await client.get(f"/v1/schools/{school}/tickets.pdf", headers=corr, params={"wallet_ids": "x"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
        assert (await client.get(f"/v1/schools/{school}/tickets.pdf", headers=family,
                                 params={"wallet_ids": w_ines})).status_code == 403

        # Lea's first ticket is redeemed at the club: the correspondent sees by whom and when.
        first = again["tickets"][0]["ticket_id"]
        redeemed_at = datetime.now(UTC)
        await stack.publish(TicketRedeemed(redemption_id=str(uuid.uuid4()), ticket_id=first, wallet_id=w_lea,
                                           campaign_id=feed.campaign_id, affiliate_id=club, amount_cents=1000,
                                           code_suffix=codes[w_lea][0][-4:], redeemed_at=redeemed_at))
        await feed.until("SELECT status = 'redeemed' FROM tickets WHERE ticket_id = $1::uuid", first)
        ticket = (await client.get(f"/v1/wallets/{w_lea}", headers=corr)).json()["tickets"][0]
        assert ticket["status"] == "redeemed"
        assert ticket["redeemed_by"] == {"affiliate_id": club, "name": "Club de judo de Nanterre"}
        assert datetime.fromisoformat(ticket["redeemed_at"]) == redeemed_at

        # The family's export (asked by the admin with the guardian's address) shows what was done for it.
        export = await client.get("/v1/privacy/export", headers=stack.auth("admin"), params={"email": emails[0]})
        assert export.status_code == 200, export.text
    body = export.json()
    assert [w["wallet_id"] for w in body["wallets"]] == [w_lea]
    acts = [(a["action"], a["actor_role"], a["actor_sub"]) for a in body["acts_on_behalf"]]
    assert acts == [("credit", "correspondent", "corr-nanterre")] * 2 + [("print", "correspondent", "corr-nanterre")] * 2
    assert {a["ticket_id"] for a in body["acts_on_behalf"]} == {t["ticket_id"] for t in again["tickets"][:2]}
    assert all(code not in export.text for wallet_codes in codes.values() for code in wallet_codes)
    assert emails[1] not in export.text and "Hugo" not in export.text
