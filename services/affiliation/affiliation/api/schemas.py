"""What the routes read and answer: request bodies (every free text a PlainText) and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from carnet_runtime import PlainText

from ..domain.convention import AuditRecord, ConventionProgress
from ..domain.organisation import Activity, Affiliate, masked_iban
from ..domain.reimbursement import AssignedTicket, Batch

# --- bodies -------------------------------------------------------------------------------------


class AddressIn(BaseModel):
    line: PlainText = Field(min_length=1, max_length=200)
    postcode: str = Field(pattern=r"^\d{5}$")
    city: PlainText = Field(min_length=1, max_length=100)


class AffiliateIn(BaseModel):
    name: PlainText = Field(min_length=1, max_length=200)
    siret: PlainText = Field(max_length=40)
    activity: Activity
    address: AddressIn
    contact_email: PlainText = Field(max_length=254)
    iban: PlainText = Field(max_length=64)


class PasswordIn(BaseModel):
    """An activation or reset link's token, and the password chosen."""

    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class LoginIn(BaseModel):
    login: PlainText = Field(max_length=200)
    password: str = Field(max_length=1024)


class ResetRequestIn(BaseModel):
    login: PlainText = Field(max_length=254, description="the login or the contact e-mail")


class ReadIn(BaseModel):
    sha256: str = Field(max_length=128)


class SignIn(BaseModel):
    otp: str = Field(max_length=32)


class SuspendIn(BaseModel):
    reason: PlainText | None = Field(None, max_length=500)


class BatchIn(BaseModel):
    campaign_id: PlainText | None = Field(
        None, min_length=1, max_length=100,
        description="may be left out while only one campaign has redemptions waiting",
    )
    execution_date: date | None = Field(None, description="the transfers' requested execution day; default in two days")


# --- organisations and accounts -----------------------------------------------------------------


class AddressView(BaseModel):
    line: str
    postcode: str
    city: str


class AffiliateSummary(BaseModel):
    """An organisation as the directory shows it to families."""

    affiliate_id: str
    name: str
    activity: str
    address: AddressView
    status: str

    @classmethod
    def of(cls, a: Affiliate) -> AffiliateSummary:
        address = a.organisation.address
        return cls(affiliate_id=a.affiliate_id, name=a.name, activity=a.organisation.activity.value,
                   address=AddressView(line=address.line, postcode=address.postcode, city=address.city),
                   status=a.status.value)


class AffiliateView(AffiliateSummary):
    """An organisation as it and the staff see it (the IBAN masked)."""

    login: str
    siret: str
    contact_email: str
    iban: str = Field(description="masked: the country and the last four characters")
    convention_step: str
    created_at: datetime
    signed_at: datetime | None

    @classmethod
    def of(cls, a: Affiliate) -> AffiliateView:
        return cls(**AffiliateSummary.of(a).model_dump(), login=a.login, siret=a.organisation.siret,
                   contact_email=a.contact_email, iban=masked_iban(a.organisation.iban),
                   convention_step=a.convention.step.value, created_at=a.created_at, signed_at=a.signed_at)


class DirectoryPage(BaseModel):
    items: list[AffiliateSummary]
    limit: int
    offset: int


class AffiliateCreated(BaseModel):
    affiliate_id: str
    login: str
    status: Literal["invited"]


class StatusView(BaseModel):
    affiliate_id: str
    status: str


class AccountView(BaseModel):
    affiliate_id: str
    login: str
    status: str


class PasswordChanged(BaseModel):
    affiliate_id: str
    login: str


class AccessTokenView(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class ResetRequested(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str = "Si ce compte existe, un courriel avec un lien de réinitialisation vient d'être envoyé."


class RemindersView(BaseModel):
    campaign_id: str
    reminded: int


# --- the convention ----------------------------------------------------------------------------


class ConventionView(BaseModel):
    version: str
    sha256: str
    text: str
    step: str
    next_step: str | None
    otp_expires_at: datetime | None
    signed_at: datetime | None


class StepView(BaseModel):
    step: str
    next_step: str | None
    document_version: str | None
    document_sha256: str | None
    recorded_at: datetime | None

    @classmethod
    def of(cls, progress: ConventionProgress, record: AuditRecord | None) -> StepView:
        return cls(step=progress.step.value, next_step=progress.next_action, document_version=progress.version,
                   document_sha256=progress.sha256, recorded_at=record.at if record else None)


class CodeSentView(StepView):
    otp_expires_at: datetime | None


class SignedView(StepView):
    status: str


class AuditEntry(BaseModel):
    action: str
    at: datetime
    account: str
    client_address: str | None
    document_version: str | None
    document_sha256: str | None


class AuditTrailView(BaseModel):
    affiliate_id: str
    items: list[AuditEntry]

    @classmethod
    def of(cls, affiliate_id: str, records: list[AuditRecord]) -> AuditTrailView:
        return cls(affiliate_id=affiliate_id, items=[
            AuditEntry(action=r.action, at=r.at, account=r.account, client_address=r.client_address,
                       document_version=r.document_version, document_sha256=r.document_sha256)
            for r in records
        ])


# --- tickets, statements, batches ---------------------------------------------------------------


class AssignedTicketView(BaseModel):
    ticket_id: str
    campaign_id: str
    code_suffix: str
    amount_cents: int
    valid_until: date | None
    assigned_at: datetime
    status: Literal["credited", "redeemed"]
    redeemed_at: datetime | None

    @classmethod
    def of(cls, t: AssignedTicket) -> AssignedTicketView:
        return cls(ticket_id=t.ticket_id, campaign_id=t.campaign_id, code_suffix=t.code_suffix,
                   amount_cents=t.amount_cents, valid_until=t.valid_until, assigned_at=t.assigned_at,
                   status="redeemed" if t.redeemed_at else "credited", redeemed_at=t.redeemed_at)


class AssignedTicketsView(BaseModel):
    affiliate_id: str
    items: list[AssignedTicketView]


class StatementRedemption(BaseModel):
    redemption_id: str
    ticket_id: str
    campaign_id: str
    amount_cents: int
    redeemed_at: datetime
    status: Literal["pending", "batched", "paid", "cancelled"]
    batch_id: str | None


class StatementView(BaseModel):
    affiliate_id: str
    campaign_id: str | None
    count: int
    redeemed_cents: int
    reimbursed_cents: int
    in_payment_cents: int
    pending_cents: int
    redemptions: list[StatementRedemption]


class TransferView(BaseModel):
    affiliate_id: str
    name: str
    iban: str = Field(description="masked: the country and the last four characters")
    amount_cents: int
    count: int
    end_to_end_id: str


class BatchView(BaseModel):
    batch_id: str
    campaign_id: str
    status: Literal["created", "paid"]
    total_cents: int
    count: int
    execution_date: date
    created_at: datetime
    paid_at: datetime | None
    transfers: list[TransferView]
    sepa_url: str
    csv_url: str

    @classmethod
    def of(cls, b: Batch) -> BatchView:
        return cls(
            batch_id=b.batch_id, campaign_id=b.campaign_id, status=b.status.value, total_cents=b.total_cents,
            count=b.count, execution_date=b.execution_date, created_at=b.created_at, paid_at=b.paid_at,
            transfers=[TransferView(affiliate_id=t.affiliate_id, name=t.name, iban=masked_iban(t.iban),
                                    amount_cents=t.amount_cents, count=t.count, end_to_end_id=t.end_to_end_id)
                       for t in b.transfers],
            sepa_url=f"/v1/reimbursement-batches/{b.batch_id}/sepa.xml",
            csv_url=f"/v1/reimbursement-batches/{b.batch_id}/transfers.csv",
        )
