import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet_runtime import Refusal
from notification.domain import (
    Audience,
    distinct_recipients,
    link_with_token,
    message_key,
    normalise_recipient,
    plan_broadcast,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_each_person_gets_one_copy_whatever_the_case_of_their_address():
    assert distinct_recipients(
        ["Lea@Example.fr", "lea@example.fr ", None, "", "not-an-address", "bob@example.fr"]
    ) == ["lea@example.fr", "bob@example.fr"]


# Addresses anyone can receive mail at, written the ways people write them (any case, stray
# spaces), and entries that are no address at all.
ORDINARY = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True),
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,12}", fullmatch=True),
    st.sampled_from(["fr", "org", "com", "paris"]),
)
WRITTEN = st.tuples(ORDINARY, st.sampled_from(["", " ", "\t"]), st.booleans()).map(
    lambda t: (t[0], f"{t[1]}{t[0].upper() if t[2] else t[0]}{t[1]}"))
UNUSABLE = st.sampled_from([None, "", "   ", "not-an-address", "lea at example.fr", "lea@localhost", "a@b@c.fr"])


@settings(max_examples=100)
@given(st.lists(st.one_of(WRITTEN, UNUSABLE.map(lambda u: (None, u))), max_size=25))
def test_distinct_recipients_has_no_duplicates_and_loses_nobody(entries):
    """Every person who can receive mail is there once, in the order first seen; nothing else is."""
    expected: list[str] = []
    for person, _ in entries:
        if person is not None and person not in expected:
            expected.append(person)
    assert distinct_recipients([written for _, written in entries]) == expected


def test_malformed_recipient_is_refused_with_a_code():
    with pytest.raises(Refusal) as refused:
        normalise_recipient("lea at example")
    assert refused.value.code == "INVALID_RECIPIENT"


def test_message_key_is_the_event_for_one_reader_and_stable_per_recipient_for_many():
    event = uuid.uuid4()
    assert message_key(event) == event
    assert message_key(event, "lea@example.fr") == message_key(event, "lea@example.fr")
    assert message_key(event, "lea@example.fr") != message_key(event, "bob@example.fr")


def test_activation_link_ends_with_the_token():
    link = link_with_token("https://pass.example/affilies/activation", "Ab-_9x")
    assert link == "https://pass.example/affilies/activation?token=Ab-_9x"


def test_token_that_would_break_the_link_is_refused():
    with pytest.raises(Refusal):
        link_with_token("https://pass.example/a", "a b&c")


def test_broadcast_without_send_at_goes_now():
    b = plan_broadcast("families", "Lancement", "Bonjour", None, NOW)
    assert b.audience is Audience.FAMILIES
    assert b.send_at == NOW


def test_broadcast_in_the_past_goes_now_and_in_the_future_waits():
    assert plan_broadcast("affiliates", "s", "b", NOW - timedelta(hours=1), NOW).send_at == NOW
    later = NOW + timedelta(days=2)
    assert plan_broadcast("affiliates", "s", "b", later, NOW).send_at == later


def test_broadcast_refuses_unknown_audience_and_multiline_subject_naming_the_fields():
    with pytest.raises(Refusal) as refused:
        plan_broadcast("everyone", "Objet\r\nBcc: x@y.z", "", datetime(2027, 1, 1), NOW)
    assert refused.value.code == "VALIDATION_ERROR"
    fields = {f["field"] for f in refused.value.details["fields"]}
    assert fields == {"audience", "subject", "body", "send_at"}
