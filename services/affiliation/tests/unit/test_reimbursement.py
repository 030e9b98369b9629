from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet_runtime import Refusal
from affiliation.domain.reimbursement import (
    BatchStatus,
    CampaignTerms,
    LineStatus,
    Payee,
    StatementLine,
    mark_paid,
    plan_batch,
    statement_totals,
)
from affiliation.domain.sepa import PAIN_001_XSD, Debtor, euros, pain001, transfers_csv

TERMS = CampaignTerms("2026-2027", "2026-2027", date(2027, 4, 30), redemption_cancel_grace_minutes=30)
NOW = datetime(2027, 5, 2, 10, 0, tzinfo=UTC)
PAYEES = {
    "a": Payee("a", "Club Sportif d'Antony", "73282932000074", "FR7630006000011234567890189", None),
    "b": Payee("b", "Théâtre des Sources", "55208131766522", "DE89370400440532013000", "COBADEFFXXX"),
}
DEBTOR = Debtor("Département des Hauts-de-Seine", "FR7630001007941234567890185", "BDFEFRPPCCT")
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def line(n, affiliate, cents, at, status=LineStatus.PENDING, campaign="2026-2027"):
    return StatementLine(f"r{n}", affiliate, campaign, f"t{n}", cents, at, status)


def test_the_cutoff_is_the_end_of_the_deadline_day_in_paris():
    # 30 April 2027, 23:59 in Paris is 21:59 UTC (summer time)
    assert TERMS.reimbursement_cutoff() == datetime(2027, 4, 30, 22, 0, tzinfo=UTC)


def test_a_batch_has_one_transfer_per_organisation_and_leaves_out_late_cancelled_and_paid_lines():
    lines = [
        line(1, "a", 1000, datetime(2027, 1, 5, tzinfo=UTC)),
        line(2, "a", 2500, datetime(2027, 4, 30, 21, 59, tzinfo=UTC)),
        line(3, "b", 7000, datetime(2027, 3, 1, tzinfo=UTC)),
        line(4, "b", 500, datetime(2027, 4, 30, 22, 0, tzinfo=UTC)),  # after the deadline, Paris time
        line(5, "a", 700, datetime(2027, 2, 1, tzinfo=UTC), LineStatus.CANCELLED),
        line(6, "b", 900, datetime(2027, 2, 1, tzinfo=UTC), LineStatus.PAID),
        line(7, "b", 900, datetime(2027, 2, 1, tzinfo=UTC), LineStatus.BATCHED),
        line(8, "a", 900, datetime(2027, 2, 1, tzinfo=UTC), campaign="2025-2026"),
    ]
    plan = plan_batch(lines, TERMS, PAYEES, NOW)
    assert [(t.payee.affiliate_id, t.amount_cents, t.redemption_ids) for t in plan.transfers] == [
        ("a", 3500, ("r1", "r2")),
        ("b", 7000, ("r3",)),
    ]
    assert plan.total_cents == 10500 and plan.count == 3


def test_a_redemption_still_within_its_cancel_grace_period_waits_for_the_next_batch():
    lines = [line(1, "a", 1000, NOW - timedelta(minutes=29)), line(2, "a", 1000, NOW - timedelta(minutes=31))]
    late_terms = CampaignTerms("2026-2027", "x", date(2027, 6, 30), 30)
    assert plan_batch(lines, late_terms, PAYEES, NOW).redemption_ids == ["r2"]


def test_a_redemption_by_an_organisation_unknown_here_stays_pending_out_of_the_batch():
    lines = [line(1, "a", 1000, datetime(2027, 1, 5, tzinfo=UTC)), line(2, "zz", 900, datetime(2027, 1, 5, tzinfo=UTC))]
    assert plan_batch(lines, TERMS, PAYEES, NOW).redemption_ids == ["r1"]


def test_a_batch_with_nothing_pending_is_refused():
    with pytest.raises(Refusal) as refused:
        plan_batch([line(1, "a", 1000, NOW, LineStatus.PAID)], TERMS, PAYEES, NOW)
    assert refused.value.code == "NOTHING_TO_REIMBURSE"


def test_a_batch_cannot_be_paid_twice():
    assert mark_paid(BatchStatus.CREATED) is BatchStatus.PAID
    with pytest.raises(Refusal) as refused:
        mark_paid(BatchStatus.PAID)
    assert refused.value.code == "BATCH_ALREADY_PAID"


def test_statement_totals_split_reimbursed_in_payment_and_pending_and_ignore_cancelled():
    at = datetime(2027, 1, 1, tzinfo=UTC)
    totals = statement_totals(
        [
            line(1, "a", 1000, at, LineStatus.PAID),
            line(2, "a", 2000, at, LineStatus.BATCHED),
            line(3, "a", 3000, at),
            line(4, "a", 4000, at, LineStatus.CANCELLED),
        ]
    )
    assert (totals.count, totals.redeemed_cents, totals.reimbursed_cents) == (3, 6000, 1000)
    assert (totals.in_payment_cents, totals.pending_cents) == (2000, 3000)


def sepa_for(plan):
    return pain001(
        batch_id="7f1c2a9e-0000-4000-8000-000000000001",
        plan=plan,
        debtor=DEBTOR,
        campaign_label="2026-2027",
        execution_date=date(2027, 5, 5),
        created_at=NOW,
    )


def test_the_sepa_file_is_valid_pain001_with_one_transfer_per_organisation_and_euro_totals():
    lines = [
        line(1, "a", 1000, datetime(2027, 1, 5, tzinfo=UTC)),
        line(2, "a", 2550, datetime(2027, 1, 6, tzinfo=UTC)),
        line(3, "b", 7000, datetime(2027, 3, 1, tzinfo=UTC)),
    ]
    plan = plan_batch(lines, TERMS, PAYEES, NOW)
    xml = sepa_for(plan)
    schema = xmlschema.XMLSchema(str(PAIN_001_XSD))
    schema.validate(xml.decode())
    document = schema.to_dict(xml.decode())
    header = document["CstmrCdtTrfInitn"]["GrpHdr"]
    assert header["MsgId"] == "7f1c2a9e-0000-4000-8000-000000000001".replace("-", "")
    assert header["NbOfTxs"] == "2"
    assert Decimal(str(header["CtrlSum"])) == Decimal("105.50")
    transfers = [tx for info in document["CstmrCdtTrfInitn"]["PmtInf"] for tx in info["CdtTrfTxInf"]]
    amounts = {tx["CdtrAcct"]["Id"]["IBAN"]: Decimal(str(tx["Amt"]["InstdAmt"]["$"])) for tx in transfers}
    assert amounts == {"FR7630006000011234567890189": Decimal("35.50"), "DE89370400440532013000": Decimal("70.00")}
    assert b"<InstdAmt Ccy=\"EUR\">35.50</InstdAmt>" in xml


def test_a_tampered_sepa_file_does_not_validate_against_the_xsd():
    plan = plan_batch([line(1, "a", 1000, datetime(2027, 1, 5, tzinfo=UTC))], TERMS, PAYEES, NOW)
    original = sepa_for(plan)
    tampered = original.replace(b"<InstdAmt Ccy=\"EUR\">10.00", b"<InstdAmt Ccy=\"EUR\">10,00")
    assert tampered != original
    assert not xmlschema.XMLSchema(str(PAIN_001_XSD)).is_valid(tampered.decode())


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(min_value=500, max_value=7000)), min_size=1, max_size=12))
def test_the_sepa_control_sum_equals_the_sum_of_the_batched_redemptions(entries):
    lines = [line(n, a, cents, datetime(2027, 1, 5, tzinfo=UTC)) for n, (a, cents) in enumerate(entries)]
    plan = plan_batch(lines, TERMS, PAYEES, NOW)
    assert plan.total_cents == sum(cents for _, cents in entries)
    xml = sepa_for(plan).decode()
    header = xmlschema.XMLSchema(str(PAIN_001_XSD)).to_dict(xml)["CstmrCdtTrfInitn"]["GrpHdr"]
    assert Decimal(str(header["CtrlSum"])) * 100 == plan.total_cents
    assert int(header["NbOfTxs"]) == len({a for a, _ in entries})


def test_the_csv_lists_each_transfer_with_french_euro_amounts():
    plan = plan_batch(
        [line(1, "a", 1050, datetime(2027, 1, 5, tzinfo=UTC)), line(2, "b", 700, datetime(2027, 1, 5, tzinfo=UTC))],
        TERMS,
        PAYEES,
        NOW,
    )
    rows = transfers_csv("7f1c2a9e-0000-4000-8000-000000000001", plan).splitlines()
    assert rows[0].startswith("affiliate_id;name;siret;iban;tickets;amount_cents;amount_eur")
    assert rows[1].split(";")[4:7] == ["1", "1050", "10,50"]
    assert euros(5) == "0,05"
