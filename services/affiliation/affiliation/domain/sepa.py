"""The batch as the bank and the accountant want it: a SEPA pain.001 file and a CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import sepaxml
from sepaxml import SepaTransfer

from .reimbursement import BatchPlan

PAIN_001 = "pain.001.001.03"
PAIN_001_XSD = Path(sepaxml.__file__).parent / "schemas" / f"{PAIN_001}.xsd"


@dataclass(frozen=True)
class Debtor:
    """The département's account the transfers leave from."""

    name: str
    iban: str
    bic: str


class _BatchTransfer(SepaTransfer):
    """sepaxml draws a random message id and stamps the current time; a batch's file names the batch instead."""

    def __init__(self, config: dict, message_id: str, created_at: datetime) -> None:
        self._message_id = message_id
        self._created_at = created_at
        super().__init__(config, schema=PAIN_001, clean=True)

    def _create_header(self) -> None:
        self.msg_id = self._message_id
        super()._create_header()
        header = self._xml.find("CstmrCdtTrfInitn").find("GrpHdr")
        header.find("CreDtTm").text = self._created_at.strftime("%Y-%m-%dT%H:%M:%S")


def end_to_end_id(batch_id: str, siret: str) -> str:
    """At most 35 characters, as pain.001 allows; the SIRET lets the organisation recognise the transfer."""
    return f"{batch_id.replace('-', '')[:12]}-{siret}"


def pain001(
    *,
    batch_id: str,
    plan: BatchPlan,
    debtor: Debtor,
    campaign_label: str,
    execution_date: date,
    created_at: datetime,
) -> bytes:
    """The credit-transfer file, one transfer per organisation, validated against the pain.001 XSD."""
    config = {
        "name": debtor.name,
        "IBAN": debtor.iban,
        "BIC": debtor.bic,
        "batch": True,
        "currency": "EUR",
    }
    document = _BatchTransfer(config, message_id=batch_id.replace("-", "")[:35], created_at=created_at)
    for transfer in plan.transfers:
        payment = {
            "name": transfer.payee.name,
            "IBAN": transfer.payee.iban,
            "amount": transfer.amount_cents,
            "execution_date": execution_date,
            "description": f"Pass {campaign_label} : remboursement de {len(transfer.redemption_ids)} ticket(s)",
            "endtoend_id": end_to_end_id(batch_id, transfer.payee.siret),
        }
        if transfer.payee.bic:
            payment["BIC"] = transfer.payee.bic
        document.add_payment(payment)
    return document.export(validate=True, pretty_print=True)


def euros(cents: int) -> str:
    """French notation for people reading the CSV in a spreadsheet: 1234,50."""
    return f"{cents // 100},{cents % 100:02d}"


def transfers_csv(batch_id: str, plan: BatchPlan) -> str:
    """`;`-separated, as French spreadsheets open it; amounts both in cents and in euros."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["affiliate_id", "name", "siret", "iban", "tickets", "amount_cents", "amount_eur", "end_to_end_id"]
    )
    for transfer in plan.transfers:
        writer.writerow(
            [
                transfer.payee.affiliate_id,
                transfer.payee.name,
                transfer.payee.siret,
                transfer.payee.iban,
                len(transfer.redemption_ids),
                transfer.amount_cents,
                euros(transfer.amount_cents),
                end_to_end_id(batch_id, transfer.payee.siret),
            ]
        )
    return out.getvalue()
