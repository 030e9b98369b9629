from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from carnet_contracts.calendar import end_of_paris_day, paris_day
from carnet_contracts.display import day, euros, moment


def test_a_day_ends_at_paris_midnight_in_winter_and_in_summer():
    assert end_of_paris_day(date(2027, 3, 31)).astimezone(UTC) == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
    assert end_of_paris_day(date(2027, 1, 15)).astimezone(UTC) == datetime(2027, 1, 15, 23, 0, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_every_instant_falls_before_the_end_of_its_own_paris_day(instant):
    assert instant < end_of_paris_day(paris_day(instant))
    assert paris_day(end_of_paris_day(paris_day(instant))) > paris_day(instant)


def test_amounts_and_dates_as_the_departement_writes_them():
    assert euros(1000) == "10,00\u00a0€"
    assert euros(1000, drop_zero_cents=True) == "10\u00a0€"
    assert euros(215_500_000, drop_zero_cents=True) == "2\u202f155\u202f000\u00a0€"
    assert euros(-1250) == "-12,50\u00a0€"
    assert day(date(2027, 3, 31)) == "31/03/2027"
    assert moment(datetime(2027, 3, 31, 12, 5, tzinfo=UTC)) == "31/03/2027 à 14 h 05"
