"""The enrolment's own settings: the weekly digest's day and hour, and the periodic checks."""

import pytest
from pydantic import ValidationError

from enrolment.settings import EnrolmentSettings


def test_the_digest_defaults_to_monday_8_and_the_purge_check_to_every_15_minutes():
    s = EnrolmentSettings()
    assert (s.digest_weekday, s.digest_hour, s.purge_check_seconds) == ("monday", 8, 900.0)


def test_the_digest_day_is_read_in_english_or_french_whatever_its_case(monkeypatch):
    monkeypatch.setenv("CARNET_ENROLMENT_DIGEST_WEEKDAY", "Jeudi")
    monkeypatch.setenv("CARNET_ENROLMENT_DIGEST_HOUR", "7")
    assert (EnrolmentSettings().digest_weekday, EnrolmentSettings().digest_hour) == ("thursday", 7)


@pytest.mark.parametrize("changes", [{"digest_weekday": "someday"}, {"digest_hour": 24}, {"digest_max_listed": 0},
                                     {"purge_check_seconds": 0}])
def test_a_wrong_rhythm_setting_stops_the_service(changes):
    with pytest.raises(ValidationError):
        EnrolmentSettings(**changes)
