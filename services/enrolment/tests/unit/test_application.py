from datetime import date, datetime, timedelta, timezone

import pytest

from carnet_runtime import Refusal
from enrolment.domain import ApplicationForm, ApplicationProgress, ApplicationStatus, Campaign

CAMPAIGN = Campaign.from_settings(
    "2014-2015",
    {
        "label": "Pass 2014-2015",
        "enrolment_opens": "2014-06-01",
        "enrolment_closes": "2014-11-30",
        "pass_valid_until": "2015-03-31",
        "reimbursement_deadline": "2015-04-30",
    },
)
DURING = datetime(2014, 9, 15, 10, 0, tzinfo=timezone.utc)


def fields(refusal: Refusal) -> set[str]:
    return {f["field"] for f in refusal.details["fields"]}


def body(**overrides):
    raw = {
        "campaign_id": "2014-2015",
        "school_id": "0920001A",
        "student": {"last_name": " Lefèvre ", "first_name": "Anaïs", "birth_date": "2003-05-14", "level": "6ème"},
        "guardian": {"last_name": "Lefèvre", "first_name": "Paul", "email": "paul@example.fr", "phone": "06 12 34 56 78"},
        "address": {"line": "1 rue de la Paix", "postcode": "92100", "city": "Boulogne-Billancourt"},
    }
    for path, value in overrides.items():
        section, _, key = path.partition("__")
        if key:
            raw[section] = {**raw[section], key: value}
        else:
            raw[section] = value
    return raw


def test_a_well_filled_form_is_read_and_tidied():
    form = ApplicationForm.parse(body())
    assert form.student.last_name == "Lefèvre"
    assert form.student.birth_date == date(2003, 5, 14)
    assert form.guardian.phone == "06 12 34 56 78"
    eligible = form.check_eligible(CAMPAIGN, DURING)
    assert eligible.student.level == "6e"


def test_every_malformed_field_is_named_in_the_refusal():
    with pytest.raises(Refusal) as err:
        ApplicationForm.parse(
            body(student__birth_date="14/05/2003", guardian__email="paul-at-example", address__postcode="921",
                 student__first_name="   ", guardian__phone="abc")
        )
    assert fields(err.value) == {
        "student.birth_date", "guardian.email", "address.postcode", "student.first_name", "guardian.phone",
    }
    assert err.value.code == "VALIDATION_ERROR"


def test_missing_sections_are_reported():
    with pytest.raises(Refusal) as err:
        ApplicationForm.parse({"campaign_id": "x"})
    assert err.value.code == "VALIDATION_ERROR"
    assert {"school_id", "student", "guardian", "address"} <= fields(err.value)


def test_phone_is_optional():
    form = ApplicationForm.parse(body(guardian__phone=None))
    assert form.guardian.phone is None


def test_outside_the_enrolment_window_is_enrolment_closed():
    with pytest.raises(Refusal, match="^ENROLMENT_CLOSED$"):
        ApplicationForm.parse(body()).check_eligible(CAMPAIGN, datetime(2014, 12, 1, 9, tzinfo=timezone.utc))


def test_outside_the_département_is_not_resident():
    with pytest.raises(Refusal, match="^NOT_RESIDENT$"):
        ApplicationForm.parse(body(address__postcode="75015")).check_eligible(CAMPAIGN, DURING)


def test_a_lycée_level_is_not_eligible():
    with pytest.raises(Refusal, match="^LEVEL_NOT_ELIGIBLE$"):
        ApplicationForm.parse(body(student__level="2nde")).check_eligible(CAMPAIGN, DURING)


def test_a_toddler_birth_date_is_implausible():
    with pytest.raises(Refusal, match="^BIRTH_DATE_IMPLAUSIBLE$"):
        ApplicationForm.parse(body(student__birth_date="2012-05-14")).check_eligible(CAMPAIGN, DURING)


T0 = datetime(2014, 9, 1, 8, tzinfo=timezone.utc)


def test_validated_then_wallet_ready_keeps_the_history():
    p = ApplicationProgress.submitted(T0).validate(T0 + timedelta(days=3)).wallet_ready("w-1", T0 + timedelta(days=3, minutes=1))
    assert p.status is ApplicationStatus.WALLET_READY
    assert [c.status.value for c in p.history] == ["submitted", "validated", "wallet_ready"]
    assert p.wallet_id == "w-1"
    assert p.validated_at == T0 + timedelta(days=3)


def test_rejected_keeps_its_reason():
    p = ApplicationProgress.submitted(T0).reject("  Élève inconnu  du collège ", T0 + timedelta(days=1))
    assert p.status is ApplicationStatus.REJECTED
    assert p.rejection_reason == "Élève inconnu du collège"


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_reject_needs_a_reason(reason):
    with pytest.raises(Refusal, match="^VALIDATION_ERROR$"):
        ApplicationProgress.submitted(T0).reject(reason, T0)


@pytest.mark.parametrize("step", ["validate", "reject"])
@pytest.mark.parametrize("decided", ["validated", "rejected"])
def test_a_decided_application_cannot_be_decided_again(step, decided):
    p = ApplicationProgress.submitted(T0)
    p = p.validate(T0) if decided == "validated" else p.reject("doublon", T0)
    with pytest.raises(Refusal) as err:
        p.validate(T0) if step == "validate" else p.reject("motif", T0)
    assert err.value.code == "APPLICATION_NOT_PENDING"


def test_the_same_wallet_announced_twice_changes_nothing():
    p = ApplicationProgress.submitted(T0).validate(T0).wallet_ready("w-1", T0)
    assert p.wallet_ready("w-1", T0 + timedelta(hours=1)) is p


def test_another_wallet_for_a_ready_application_is_refused():
    p = ApplicationProgress.submitted(T0).validate(T0).wallet_ready("w-1", T0)
    with pytest.raises(Refusal, match="^WALLET_ALREADY_RECORDED$"):
        p.wallet_ready("w-2", T0)


@pytest.mark.parametrize("state", ["submitted", "rejected"])
def test_no_wallet_for_an_application_not_validated(state):
    p = ApplicationProgress.submitted(T0)
    if state == "rejected":
        p = p.reject("motif", T0)
    with pytest.raises(Refusal, match="^APPLICATION_NOT_VALIDATED$"):
        p.wallet_ready("w-1", T0)
