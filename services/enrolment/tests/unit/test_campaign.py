from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet_runtime import Refusal
from enrolment.domain import Campaign, CampaignCalendar, age_on, french_date

SETTINGS = {
    "label": "Pass 2014-2015",
    "enrolment_opens": "2014-06-01",
    "enrolment_closes": "2014-11-30",
    "pass_valid_until": "2015-03-31",
    "reimbursement_deadline": "2015-04-30",
}


def campaign(**overrides) -> Campaign:
    return Campaign.from_settings("2014-2015", {**SETTINGS, **overrides})


def test_defaults_are_those_of_the_api():
    c = campaign()
    assert c.allowance_cents == 7000 and c.tickets_per_pass == 7
    assert (c.ticket_min_cents, c.ticket_max_cents) == (500, 7000)
    assert c.eligible_postcode_prefixes == ("92",)
    assert c.eligible_levels == ("6e", "5e", "4e", "3e")
    assert c.redemption_cancel_grace_minutes == 30


def test_settings_round_trip_through_the_published_form():
    c = campaign(redemption_cancel_grace_minutes=45, eligible_levels=["6ème", "5e"])
    again = Campaign.from_settings("2014-2015", c.settings())
    assert again == c
    assert c.settings()["eligible_levels"] == ["6e", "5e"]


def test_every_wrong_setting_is_reported_at_once():
    with pytest.raises(Refusal) as err:
        Campaign.from_settings(
            "2014-2015",
            {**SETTINGS, "label": "", "enrolment_opens": "01/06/2014", "ticket_min_cents": 8000,
             "tickets_per_pass": 0, "eligible_postcode_prefixes": ["9A"], "redemption_cancel_grace_minutes": -1},
        )
    assert {f["field"] for f in err.value.details["fields"]} == {
        "label", "enrolment_opens", "ticket_min_cents", "tickets_per_pass",
        "eligible_postcode_prefixes", "redemption_cancel_grace_minutes",
    }
    assert err.value.code == "VALIDATION_ERROR"


def test_calendar_out_of_order_is_refused():
    with pytest.raises(Refusal, match="^CAMPAIGN_CALENDAR_INVALID$") as err:
        campaign(pass_valid_until="2014-10-01")
    assert err.value.details["fields"][0]["field"] == "pass_valid_until"


@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        (datetime(2014, 5, 31, 21, 59, tzinfo=timezone.utc), False),  # 23:59 in Paris, 31 May
        (datetime(2014, 5, 31, 22, 0, tzinfo=timezone.utc), True),  # midnight in Paris, 1 June
        (datetime(2014, 11, 30, 22, 59, tzinfo=timezone.utc), True),  # 23:59 in Paris (winter), 30 Nov
        (datetime(2014, 11, 30, 23, 0, tzinfo=timezone.utc), False),  # 1 Dec in Paris
    ],
)
def test_enrolment_window_is_whole_paris_days(instant, open_):
    c = campaign()
    if open_:
        c.calendar.check_enrolment_open(instant)
    else:
        with pytest.raises(Refusal) as err:
            c.calendar.check_enrolment_open(instant)
        assert err.value.code == "ENROLMENT_CLOSED"
        assert "du 1er juin 2014 au 30 novembre 2014" in err.value.message


def test_a_naive_instant_is_a_programming_error():
    with pytest.raises(ValueError):
        campaign().calendar.check_enrolment_open(datetime(2014, 7, 1))


@given(st.dates(min_value=date(2014, 1, 1), max_value=date(2015, 12, 31)))
def test_enrolment_open_exactly_between_opening_and_closing_days(day):
    cal = campaign().calendar
    assert cal.enrolment_open_on(day) == (date(2014, 6, 1) <= day <= date(2014, 11, 30))


def test_school_year_of_a_june_campaign_starts_in_september():
    assert campaign().calendar.school_year_start == date(2014, 9, 1)


def test_school_year_of_a_campaign_opening_after_september_is_the_one_under_way():
    cal = CampaignCalendar(date(2014, 10, 1), date(2014, 11, 30), date(2015, 3, 31), date(2015, 4, 30))
    assert cal.school_year_start == date(2014, 9, 1)


@pytest.mark.parametrize("postcode", ["92100", "92000", "92290"])
def test_resident_postcodes_are_accepted(postcode):
    campaign().check_resident(postcode)


@pytest.mark.parametrize("postcode", ["75015", "93100", "9210", "A2100", "09200"])
def test_not_resident_outside_the_prefixes(postcode):
    with pytest.raises(Refusal) as err:
        campaign().check_resident(postcode)
    assert err.value.code == "NOT_RESIDENT"
    assert "92" in err.value.message


def test_several_prefixes_are_allowed():
    campaign(eligible_postcode_prefixes=["92", "78"]).check_resident("78000")


@pytest.mark.parametrize("level", ["6e", "6E", "6ème", "6eme", " 5e ", "4", "3°"])
def test_collège_levels_in_any_common_spelling_are_eligible(level):
    assert campaign().check_level(level) in ("6e", "5e", "4e", "3e")


@pytest.mark.parametrize(("school_class", "level"), [("6A", "6e"), ("6ème B", "6e"), ("5e2", "5e"), ("61", "6e"), ("4EME3", "4e")])
def test_a_class_name_counts_as_its_level(school_class, level):
    assert campaign().check_level(school_class) == level


@pytest.mark.parametrize("level", ["CM2", "2nde", "7e", "terminale", "2A", "12"])
def test_level_not_eligible(level):
    with pytest.raises(Refusal) as err:
        campaign().check_level(level)
    assert err.value.code == "LEVEL_NOT_ELIGIBLE"


def test_level_not_in_the_campaign_levels_is_refused_even_if_a_collège_level():
    with pytest.raises(Refusal, match="^LEVEL_NOT_ELIGIBLE$"):
        campaign(eligible_levels=["6e", "5e"]).check_level("3e")


@pytest.mark.parametrize(
    ("born", "plausible"),
    [
        (date(2003, 9, 2), True),  # 10 on 1 Sept 2014
        (date(1996, 9, 2), True),  # 17 on 1 Sept 2014
        (date(1996, 9, 1), False),  # 18 on 1 Sept 2014
        (date(2005, 9, 1), True),  # 9 on 1 Sept 2014
        (date(2005, 9, 2), False),  # 8 on 1 Sept 2014
        (date(2014, 1, 1), False),
        (date(2030, 1, 1), False),
    ],
)
def test_birth_date_plausible_for_a_collégien_is_9_to_17_at_school_year_start(born, plausible):
    c = campaign()
    if plausible:
        c.check_birth_date(born)
    else:
        with pytest.raises(Refusal) as err:
            c.check_birth_date(born)
        assert err.value.code == "BIRTH_DATE_IMPLAUSIBLE"


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2025, 12, 31)))
@settings(max_examples=200)
def test_birth_date_rule_agrees_with_age_on_school_year_start(born):
    c = campaign()
    age = age_on(born, date(2014, 9, 1))
    try:
        c.check_birth_date(born)
        accepted = True
    except Refusal as refusal:
        assert refusal.code == "BIRTH_DATE_IMPLAUSIBLE"
        accepted = False
    assert accepted == (9 <= age <= 17)


def test_age_on_counts_full_years():
    assert age_on(date(2004, 2, 29), date(2014, 2, 28)) == 9
    assert age_on(date(2004, 2, 29), date(2014, 3, 1)) == 10


def test_french_dates_read_as_the_département_writes_them():
    assert french_date(date(2014, 6, 1)) == "1er juin 2014"
    assert french_date(date(2015, 8, 15)) == "15 août 2015"
