"""Rules of issue 14 and 13 without I/O: deliverable addresses, the digest's weekly moment, when a
campaign's purge is due, and which campaign a roster belongs to."""

from datetime import UTC, date, datetime

import pytest

from carnet_runtime import Refusal
from enrolment.domain import PARIS, ApplicationForm, Campaign, DigestSchedule, campaign_in_season, iso_week
from enrolment.domain.email import deliverable_email

from .test_application import body
from .test_campaign import SETTINGS


@pytest.mark.parametrize(("address", "stored"), [
    ("élodie.durand@example.fr", "élodie.durand@example.fr"),
    ("Paul.Lefevre@Example.FR", "Paul.Lefevre@example.fr"),
    ("zoé@exämple.fr", "zoé@exämple.fr"),
])
def test_internationalised_addresses_are_accepted_with_their_domain_in_lower_case(address, stored):
    assert deliverable_email(address) == (stored, None)
    assert ApplicationForm.parse(body(guardian__email=address)).guardian.email == stored


@pytest.mark.parametrize(("address", "said"), [
    ("paul-at-example.fr", "il manque le « @ »"),
    ("paul@localhost", "nom de domaine"),
    ("paul@exemple", "nom de domaine"),
    ("paul@ecole.test", "nom de domaine"),
    ("paul@[192.168.1.1]", "nom de domaine"),
    ('"paul lefevre"@example.fr', "avant le « @ »"),
    ("paul..lefevre@example.fr", "avant le « @ »"),
])
def test_an_address_no_mail_server_could_take_is_refused_naming_the_field_in_french(address, said):
    with pytest.raises(Refusal) as refused:
        ApplicationForm.parse(body(guardian__email=address))
    [problem] = refused.value.details["fields"]
    assert problem["field"] == "guardian.email"
    assert said in problem["problem"] and "prenom.nom@exemple.fr" in problem["problem"]


def test_the_digest_is_due_from_its_weekday_and_hour_in_paris_for_the_whole_iso_week():
    schedule = DigestSchedule("monday", 8)
    # Monday 15 September 2014, 07:59 and 08:00 in Paris (UTC+2).
    assert not schedule.is_due(datetime(2014, 9, 15, 5, 59, tzinfo=UTC))
    assert schedule.is_due(datetime(2014, 9, 15, 6, 0, tzinfo=UTC))
    assert schedule.is_due(datetime(2014, 9, 21, 21, 59, tzinfo=UTC))  # Sunday 23:59 in Paris: same week
    assert not schedule.is_due(datetime(2014, 9, 21, 22, 0, tzinfo=UTC))  # Monday 00:00 in Paris: a new week
    assert schedule.due_at(datetime(2014, 9, 18, tzinfo=UTC)) == datetime(2014, 9, 15, 8, tzinfo=PARIS)
    assert iso_week(datetime(2014, 9, 21, 22, 0, tzinfo=UTC)) == "2014-W39"
    with pytest.raises(ValueError):
        DigestSchedule("lundi", 8)


def test_the_purge_is_due_once_the_retention_days_after_the_reimbursement_deadline_are_over():
    c = Campaign.from_settings("2014-2015", {**SETTINGS, "data_retention_days": 180})
    assert c.settings()["data_retention_days"] == 180
    assert Campaign.from_settings("x", SETTINGS).data_retention_days == 180  # the default
    # 30 April 2015 + 180 days = 27 October 2015, kept whole; due from 28 October 00:00 in Paris.
    assert c.purge_due_from == datetime(2015, 10, 28, tzinfo=PARIS)
    with pytest.raises(Refusal) as refused:
        c.check_purge_due(datetime(2015, 10, 27, 22, 59, tzinfo=UTC))
    assert refused.value.code == "PURGE_NOT_DUE"
    assert refused.value.details["purge_due_from"] == "2015-10-28T00:00:00+01:00"
    assert "27 octobre 2015" in refused.value.message
    c.check_purge_due(datetime(2015, 10, 27, 23, 0, tzinfo=UTC))


def test_data_retention_days_out_of_range_is_named():
    with pytest.raises(Refusal) as refused:
        Campaign.from_settings("x", {**SETTINGS, "data_retention_days": -1})
    assert refused.value.details["fields"][0]["field"] == "data_retention_days"


def test_a_roster_belongs_to_the_campaign_open_that_day_else_the_last_opened_else_the_next():
    def made(campaign_id, opens, closes):
        return Campaign.from_settings(campaign_id, {**SETTINGS, "enrolment_opens": opens, "enrolment_closes": closes,
                                                    "pass_valid_until": "2016-03-31", "reimbursement_deadline": "2016-04-30"})
    last, this = made("2013", "2013-06-01", "2013-11-30"), made("2014", "2014-06-01", "2014-11-30")
    assert campaign_in_season([last, this], date(2014, 9, 1)) == this
    assert campaign_in_season([last, this], date(2014, 3, 1)) == last
    assert campaign_in_season([this], date(2014, 3, 1)) == this
    overlapping = made("2014b", "2014-07-01", "2014-11-30")
    assert campaign_in_season([last, this, overlapping], date(2014, 9, 1)) == overlapping
    assert campaign_in_season([], date(2014, 9, 1)) is None
