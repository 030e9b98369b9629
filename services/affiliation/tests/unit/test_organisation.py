import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet_runtime import Refusal

from affiliation.domain.organisation import (
    LOGIN_ALPHABET,
    REINSTATE,
    SUSPEND,
    Activity,
    Address,
    AffiliateStatus,
    change_details,
    check_iban,
    masked_iban,
    new_login,
    register_organisation,
)

GOOD = dict(
    name="Club Sportif d'Antony",
    siret="732 829 320 00074",
    activity="sport",
    address=Address("1 rue du Stade", "92160", "Antony"),
    contact_email="contact@club-antony.fr",
    iban="FR76 3000 6000 0112 3456 7890 189",
)


def test_a_valid_organisation_is_registered_with_compact_siret_and_iban():
    organisation = register_organisation(**GOOD)
    assert organisation.siret == "73282932000074"
    assert organisation.iban == "FR7630006000011234567890189"
    assert organisation.activity is Activity.SPORT


@pytest.mark.parametrize("siret", ["73282932000075", "1234", "ABCDEFGHIJKLMN", ""])
def test_a_siret_with_a_wrong_check_digit_or_shape_is_refused_as_invalid_siret(siret):
    with pytest.raises(Refusal) as refused:
        register_organisation(**{**GOOD, "siret": siret})
    assert refused.value.code == "INVALID_SIRET"
    assert refused.value.details == {"fields": [{"field": "siret", "problem": "invalid"}]}
    assert "SIRET" in refused.value.message


@pytest.mark.parametrize(
    "iban", ["FR7630006000011234567890188", "FR76", "XX7630006000011234567890189", "not an iban", ""]
)
def test_an_iban_with_a_wrong_checksum_or_shape_is_refused_as_invalid_iban(iban):
    with pytest.raises(Refusal) as refused:
        register_organisation(**{**GOOD, "iban": iban})
    assert refused.value.code == "INVALID_IBAN"


def test_an_unknown_activity_a_bad_email_and_a_bad_postcode_are_all_reported_in_details():
    with pytest.raises(Refusal) as refused:
        register_organisation(
            **{**GOOD, "activity": "casino", "contact_email": "nobody", "address": Address("x", "9216", "Antony")}
        )
    assert refused.value.code == "VALIDATION_ERROR"
    assert {f["field"] for f in refused.value.details["fields"]} == {"activity", "contact_email", "address.postcode"}


def test_a_foreign_sepa_iban_is_accepted():
    assert check_iban("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000"


def test_a_masked_iban_shows_only_the_country_and_the_last_four():
    assert masked_iban("FR7630006000011234567890189") == "FR76*******************0189"


@settings(max_examples=60)
@given(name=st.text(max_size=80))
def test_a_login_is_lowercase_ascii_and_ends_with_five_unambiguous_random_characters(name):
    login = new_login(name)
    assert login == login.lower() and login.isascii()
    assert all(c.isalnum() or c == "-" for c in login)
    slug, suffix = login.rsplit("-", 1)
    assert slug and len(suffix) == 5 and set(suffix) <= set(LOGIN_ALPHABET)
    assert not set("0o1li") & set(LOGIN_ALPHABET)


def test_a_login_reads_like_the_organisation_name_and_cannot_be_guessed_from_it():
    logins = {new_login("Théâtre des Sources") for _ in range(20)}
    assert all(login.startswith("theatre-des-sources-") for login in logins)
    assert len(logins) == 20


def test_only_an_active_affiliate_can_be_suspended_and_only_a_suspended_one_reinstated():
    assert SUSPEND.applied_to(AffiliateStatus.ACTIVE) is AffiliateStatus.SUSPENDED
    assert REINSTATE.applied_to(AffiliateStatus.SUSPENDED) is AffiliateStatus.ACTIVE
    with pytest.raises(Refusal) as refused:
        SUSPEND.applied_to(AffiliateStatus.INVITED)
    assert refused.value.code == "AFFILIATE_NOT_ACTIVE"
    with pytest.raises(Refusal) as refused:
        REINSTATE.applied_to(AffiliateStatus.ACTIVE)
    assert refused.value.code == "AFFILIATE_NOT_SUSPENDED"


def test_changing_details_checks_each_field_as_at_creation_and_names_every_field_in_error():
    organisation = register_organisation(**GOOD)
    with pytest.raises(Refusal) as refused:
        change_details(organisation, contact_email="pas-une-adresse", address=Address(" ", "9216", "Antony"),
                       activity="chess")
    assert refused.value.code == "VALIDATION_ERROR"
    assert {f["field"] for f in refused.value.details["fields"]} == {
        "contact_email", "address.line", "address.postcode", "activity"}


def test_a_details_change_lists_only_the_fields_that_differ_and_keeps_the_old_contact():
    organisation = register_organisation(**GOOD)
    change = change_details(organisation, contact_email=" tresorier@club-antony.fr ",
                            address=Address("1 rue du Stade", "92160", "Antony"), activity="culture")
    assert change.fields == ("contact_email", "activity") and change.contact_changed
    assert change.old_contact_email == "contact@club-antony.fr"
    assert change.organisation.contact_email == "tresorier@club-antony.fr"
    assert (change.organisation.iban, change.organisation.siret) == (organisation.iban, organisation.siret)
    assert change_details(organisation).fields == ()
