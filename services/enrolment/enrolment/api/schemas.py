"""Request bodies. Typed loosely (every field optional text) so that the domain names every
missing or wrong field in French; every free-text field is `PlainText`, which refuses control and
bidirectional formatting characters with 422 VALIDATION_ERROR naming the field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from carnet_runtime import PlainText


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CampaignIn(_Body):
    label: PlainText | None = None
    enrolment_opens: PlainText | None = Field(None, examples=["2014-06-01"])
    enrolment_closes: PlainText | None = Field(None, examples=["2014-11-30"])
    pass_valid_until: PlainText | None = Field(None, examples=["2015-03-31"])
    reimbursement_deadline: PlainText | None = Field(None, examples=["2015-04-30"])
    allowance_cents: int | None = Field(None, description="default 7000")
    tickets_per_pass: int | None = Field(None, description="default 7")
    ticket_min_cents: int | None = Field(None, description="default 500")
    ticket_max_cents: int | None = Field(None, description="default 7000")
    eligible_postcode_prefixes: list[PlainText] | None = Field(None, description='default ["92"]')
    eligible_levels: list[PlainText] | None = Field(None, description='default ["6e","5e","4e","3e"]')
    redemption_cancel_grace_minutes: int | None = Field(None, description="default 30")


class SchoolIn(_Body):
    name: PlainText | None = None
    postcode: PlainText | None = None
    city: PlainText | None = None
    correspondent_email: PlainText | None = None


class StudentIn(_Body):
    last_name: PlainText | None = None
    first_name: PlainText | None = None
    birth_date: PlainText | None = Field(None, examples=["2003-05-14"])
    level: PlainText | None = Field(None, examples=["6e"])


class GuardianIn(_Body):
    last_name: PlainText | None = None
    first_name: PlainText | None = None
    email: PlainText | None = None
    phone: PlainText | None = None


class AddressIn(_Body):
    line: PlainText | None = None
    postcode: PlainText | None = None
    city: PlainText | None = None


class ApplicationIn(_Body):
    campaign_id: PlainText | None = None
    school_id: PlainText | None = None
    student: StudentIn | None = None
    guardian: GuardianIn | None = None
    address: AddressIn | None = None


class RejectIn(_Body):
    reason: PlainText | None = None
