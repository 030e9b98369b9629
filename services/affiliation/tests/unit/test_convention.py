from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from affiliation.domain import convention as c
from affiliation.domain.keyed_hash import KeyedHash
from carnet_runtime import Refusal

DOC = c.ConventionDocument(version="2026-1", text="Convention d'affiliation au Pass.\nArticle 1 ...")
NEW_DOC = c.ConventionDocument(version="2026-2", text="Convention d'affiliation au Pass, version 2.")
NOW = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
POLICY = c.OtpPolicy(ttl=timedelta(minutes=10), max_attempts=3, keyed=KeyedHash("test-key-" + "0" * 32))


def ctx(minutes=0):
    return c.StepContext("aff-1", "club-antony-00074", "203.0.113.7", NOW + timedelta(minutes=minutes))


def until_otp():
    progress, _ = c.read(c.ConventionProgress(), DOC, DOC.sha256, ctx())
    progress, _ = c.accept(progress, DOC, ctx(1))
    progress, _, otp = c.issue_otp(progress, DOC, ctx(2), POLICY)
    return progress, otp


def test_the_four_steps_in_order_sign_the_convention_and_each_leaves_an_audit_record():
    progress, read_record = c.read(c.ConventionProgress(), DOC, DOC.sha256.upper(), ctx())
    progress, accept_record = c.accept(progress, DOC, ctx(1))
    progress, otp_record, otp = c.issue_otp(progress, DOC, ctx(2), POLICY)
    assert len(otp) == 6 and otp.isdigit()
    progress, sign_record, refusal = c.sign(progress, DOC, otp, ctx(3), POLICY)
    assert refusal is None
    assert progress.step is c.ConventionStep.SIGNED
    records = [read_record, accept_record, otp_record, sign_record]
    assert [r.action for r in records] == ["read", "accept", "otp", "sign"]
    for minutes, record in enumerate(records):
        assert record.document_sha256 == DOC.sha256
        assert record.document_version == "2026-1"
        assert record.client_address == "203.0.113.7"
        assert record.account == "club-antony-00074"
        assert record.at == NOW + timedelta(minutes=minutes)


def test_the_clear_code_is_not_kept_in_the_progress():
    progress, otp = until_otp()
    assert otp not in repr(progress)


def test_reading_with_a_wrong_hash_is_refused_as_hash_mismatch():
    with pytest.raises(Refusal) as refused:
        c.read(c.ConventionProgress(), DOC, NEW_DOC.sha256, ctx())
    assert refused.value.code == "CONVENTION_HASH_MISMATCH"


def test_accepting_before_reading_is_out_of_order():
    with pytest.raises(Refusal) as refused:
        c.accept(c.ConventionProgress(), DOC, ctx())
    assert refused.value.code == "CONVENTION_STEP_OUT_OF_ORDER"
    assert refused.value.details["expected"] == "read"


def test_asking_for_a_code_before_accepting_is_out_of_order():
    progress, _ = c.read(c.ConventionProgress(), DOC, DOC.sha256, ctx())
    with pytest.raises(Refusal) as refused:
        c.issue_otp(progress, DOC, ctx(1), POLICY)
    assert refused.value.code == "CONVENTION_STEP_OUT_OF_ORDER"
    assert refused.value.details["expected"] == "accept"


def test_signing_before_a_code_was_sent_is_out_of_order():
    progress, _ = c.read(c.ConventionProgress(), DOC, DOC.sha256, ctx())
    progress, _ = c.accept(progress, DOC, ctx(1))
    with pytest.raises(Refusal) as refused:
        c.sign(progress, DOC, "123456", ctx(2), POLICY)
    assert refused.value.code == "CONVENTION_STEP_OUT_OF_ORDER"


def test_reading_again_after_accepting_is_out_of_order():
    progress, _ = c.read(c.ConventionProgress(), DOC, DOC.sha256, ctx())
    progress, _ = c.accept(progress, DOC, ctx(1))
    with pytest.raises(Refusal) as refused:
        c.read(progress, DOC, DOC.sha256, ctx(2))
    assert refused.value.code == "CONVENTION_STEP_OUT_OF_ORDER"


def test_every_step_after_signing_is_refused():
    progress, otp = until_otp()
    progress, _, _ = c.sign(progress, DOC, otp, ctx(3), POLICY)
    for step in (
        lambda: c.read(progress, DOC, DOC.sha256, ctx(4)),
        lambda: c.accept(progress, DOC, ctx(4)),
        lambda: c.issue_otp(progress, DOC, ctx(4), POLICY),
        lambda: c.sign(progress, DOC, otp, ctx(4), POLICY),
    ):
        with pytest.raises(Refusal) as refused:
            step()
        assert refused.value.code == "CONVENTION_STEP_OUT_OF_ORDER"


def test_a_wrong_code_is_refused_as_otp_invalid_and_counted():
    progress, otp = until_otp()
    wrong = f"{(int(otp) + 1) % 10**6:06d}"
    after, record, refusal = c.sign(progress, DOC, wrong, ctx(3), POLICY)
    assert record is None
    assert refusal.code == "OTP_INVALID"
    assert refusal.details["attempts_left"] == 2
    assert after.step is c.ConventionStep.OTP_ISSUED and after.otp_failed_attempts == 1


def test_the_code_is_burnt_after_too_many_wrong_attempts_even_the_right_one_then_fails():
    progress, otp = until_otp()
    wrong = f"{(int(otp) + 1) % 10**6:06d}"
    for _ in range(POLICY.max_attempts):
        progress, _, refusal = c.sign(progress, DOC, wrong, ctx(3), POLICY)
    assert refusal.details["attempts_left"] == 0
    with pytest.raises(Refusal) as refused:
        c.sign(progress, DOC, otp, ctx(4), POLICY)
    assert refused.value.code == "OTP_EXPIRED"


def test_an_expired_code_is_refused_as_otp_expired():
    progress, otp = until_otp()
    with pytest.raises(Refusal) as refused:
        c.sign(progress, DOC, otp, ctx(2 + 10), POLICY)
    assert refused.value.code == "OTP_EXPIRED"


def test_a_new_code_replaces_the_previous_one():
    progress, first = until_otp()
    progress, _, second = c.issue_otp(progress, DOC, ctx(3), POLICY)
    if first != second:
        _, _, refusal = c.sign(progress, DOC, first, ctx(4), POLICY)
        assert refusal.code == "OTP_INVALID"
    _, record, refusal = c.sign(progress, DOC, second, ctx(4), POLICY)
    assert refusal is None and record.action == "sign"


def test_a_new_convention_version_published_after_reading_must_be_read_again():
    progress, _ = c.read(c.ConventionProgress(), DOC, DOC.sha256, ctx())
    with pytest.raises(Refusal) as refused:
        c.accept(progress, NEW_DOC, ctx(1))
    assert refused.value.code == "CONVENTION_HASH_MISMATCH"


ACTIONS = ("read", "read_wrong_hash", "accept", "otp", "sign_right", "sign_wrong")
S = c.ConventionStep


class ConventionModel:
    """What the convention's rules say each action does, written from the rules, not from the code:
    the step reached, the otp's issue minute and failed attempts, and the refusal expected."""

    def __init__(self) -> None:
        self.step = S.NOT_STARTED
        self.otp_minute: int | None = None
        self.failures = 0
        self.burnt = False

    def expect(self, action: str, minute: int) -> str | None:
        """Apply `action` at `minute`; the refusal code it must meet (None: an audit record)."""
        if action in ("read", "read_wrong_hash"):
            if self.step not in (S.NOT_STARTED, S.READ):
                return "CONVENTION_STEP_OUT_OF_ORDER"
            if action == "read_wrong_hash":
                return "CONVENTION_HASH_MISMATCH"
            self.step = S.READ
        elif action == "accept":
            if self.step is not S.READ:
                return "CONVENTION_STEP_OUT_OF_ORDER"
            self.step = S.ACCEPTED
        elif action == "otp":
            if self.step not in (S.ACCEPTED, S.OTP_ISSUED):
                return "CONVENTION_STEP_OUT_OF_ORDER"
            self.step, self.otp_minute, self.failures, self.burnt = S.OTP_ISSUED, minute, 0, False
        else:
            if self.step is not S.OTP_ISSUED:
                return "CONVENTION_STEP_OUT_OF_ORDER"
            if self.burnt or timedelta(minutes=minute - self.otp_minute) >= POLICY.ttl:
                return "OTP_EXPIRED"
            if action == "sign_wrong":
                self.failures += 1
                self.burnt = self.failures >= POLICY.max_attempts
                return "OTP_INVALID"
            self.step = S.SIGNED
        return None


ANY_ACTIONS = st.lists(st.sampled_from(ACTIONS), max_size=12)
# The four steps in order with any actions between them: half the sequences walk towards SIGNED.
TOWARDS_SIGNING = st.tuples(*(st.tuples(st.lists(st.sampled_from(ACTIONS), max_size=2), st.just(step))
                              for step in ("read", "accept", "otp", "sign_right"))).map(
    lambda parts: [action for noise, step in parts for action in [*noise, step]])


@settings(max_examples=200, deadline=None)
@example(["read", "accept", "otp", "sign_right"])
@example(["read", "read_wrong_hash", "accept", "otp", "sign_wrong", "otp", "sign_wrong", "sign_right"])
@given(st.one_of(ANY_ACTIONS, TOWARDS_SIGNING))
def test_whatever_the_sequence_the_convention_is_signed_only_after_read_accept_and_otp_in_that_order(actions):
    progress, otp, done, model = c.ConventionProgress(), None, [], ConventionModel()
    for minute, action in enumerate(actions):
        step = ctx(minute)
        expected = model.expect(action, minute)
        refusal = None
        try:
            if action == "read":
                progress, record = c.read(progress, DOC, DOC.sha256, step)
            elif action == "read_wrong_hash":
                progress, record = c.read(progress, DOC, NEW_DOC.sha256, step)
            elif action == "accept":
                progress, record = c.accept(progress, DOC, step)
            elif action == "otp":
                progress, record, otp = c.issue_otp(progress, DOC, step, POLICY)
            else:
                code = otp if action == "sign_right" and otp else "000000" if otp != "000000" else "111111"
                progress, record, refusal = c.sign(progress, DOC, code, step, POLICY)
        except Refusal as raised:
            refusal = raised
        assert (refusal.code if refusal else None) == expected, (action, minute)
        assert progress.step is model.step, (action, minute)
        if refusal is None:
            done.append(record.action)
    # the audit trail is the accepted actions, and SIGNED is reached exactly when the rules say so
    assert (progress.step is S.SIGNED) == (model.step is S.SIGNED)
    if progress.step is S.SIGNED:
        assert done[-1] == "sign" and done.count("sign") == 1
        first_accept = done.index("accept")
        assert "read" in done[:first_accept]
        assert "otp" in done[first_accept:]
    event("signed" if progress.step is S.SIGNED else f"ended {progress.step.value}")
