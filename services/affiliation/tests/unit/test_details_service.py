"""Organisations keep their own details (issue 15): details and IBAN changes on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carnet_contracts import events
from carnet_contracts.sealing import unseal
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal

from affiliation.application.iban_changes import ConfirmIbanChange, RequestIbanChange
from affiliation.application.organisations import ChangeDetails
from affiliation.application.reimbursements import CreateBatch
from affiliation.domain.organisation import Address

from .test_reimbursements_service import campaign, redeemed
from .world import IBANS, SEAL_KEY, World

ADMIN = Principal(sub="staff-1", role="admin")
FAMILY = Principal(sub="family-1", role="family")
NEW_IBAN = "FR1420041010050500013M02606"


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def itself(affiliate) -> Principal:
    return Principal(sub=affiliate.login, role="affiliate", affiliate_id=affiliate.affiliate_id)


def sent_code(world: World) -> str:
    """What the notification service e-mails: the latest code, unsealed."""
    return unseal(world.uow.of_type(events.IbanChangeOtpIssued)[-1].sealed_otp, SEAL_KEY)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_a_new_contact_address_tells_the_old_one_and_is_recorded_with_who_and_from_where(world):
    club = await world.affiliate()
    changed = await world.organisations.change_details(world.uow, ChangeDetails(
        itself(club), club.affiliate_id, "192.0.2.7", contact_email="tresorier@example.org",
        address=Address("2 rue Neuve", "92160", "Antony")))
    assert changed.contact_email == "tresorier@example.org"
    assert world.uow.data.affiliates[club.affiliate_id].organisation.address.line == "2 rue Neuve"
    [told] = world.uow.of_type(events.AffiliateContactChanged)
    assert (told.old_contact_email, told.new_contact_email) == ("contact0@example.org", "tresorier@example.org")
    [record] = world.uow.data.audit
    assert (record.action, record.account, record.client_address) == ("details_change", club.login, "192.0.2.7")
    assert record.details == {"fields": ["contact_email", "address"], "role": "affiliate"}


async def test_staff_change_the_activity_without_telling_anyone_and_the_same_details_change_nothing(world):
    club = await world.affiliate()
    await world.organisations.change_details(world.uow, ChangeDetails(ADMIN, club.affiliate_id, None,
                                                                      activity="culture"))
    assert world.uow.data.affiliates[club.affiliate_id].organisation.activity.value == "culture"
    assert world.uow.of_type(events.AffiliateContactChanged) == []
    await world.organisations.change_details(world.uow, ChangeDetails(ADMIN, club.affiliate_id, None,
                                                                      contact_email="contact0@example.org"))
    assert len(world.uow.data.audit) == 1


async def test_a_details_change_by_another_affiliate_or_a_family_or_with_a_bad_address_changes_nothing(world):
    club = await world.affiliate(0)
    other = await world.affiliate(1, name="Théâtre")
    for actor, code in ((itself(other), "AFFILIATE_NOT_FOUND"), (FAMILY, "FORBIDDEN")):
        with pytest.raises(Refusal) as refused:
            await world.organisations.change_details(world.uow, ChangeDetails(actor, club.affiliate_id, None,
                                                                              contact_email="x@example.org"))
        assert refused.value.code == code
    with pytest.raises(Refusal) as invalid:
        await world.organisations.change_details(world.uow, ChangeDetails(
            itself(club), club.affiliate_id, None, contact_email="x@example.org", address=Address("1", "9", "A")))
    assert invalid.value.code == "VALIDATION_ERROR"
    assert world.uow.data.affiliates[club.affiliate_id].contact_email == "contact0@example.org"
    assert world.uow.data.audit == [] and world.uow.of_type(events.AffiliateContactChanged) == []


async def test_an_iban_change_sends_a_sealed_code_to_the_current_contact_and_only_suffixes_are_kept(world):
    club = await world.affiliate()
    requested = await world.iban_changes.request(world.uow, RequestIbanChange(itself(club), club.affiliate_id,
                                                                              "192.0.2.7", NEW_IBAN))
    assert requested.new_iban == NEW_IBAN
    [issued] = world.uow.of_type(events.IbanChangeOtpIssued)
    assert (issued.contact_email, issued.new_iban_suffix) == ("contact0@example.org", "2606")
    assert sent_code(world) not in issued.model_dump_json() and NEW_IBAN not in issued.model_dump_json()
    assert world.uow.data.affiliates[club.affiliate_id].organisation.iban == IBANS[0]  # not before the code

    changed = await world.iban_changes.confirm(world.uow, ConfirmIbanChange(itself(club), club.affiliate_id,
                                                                            "192.0.2.7", sent_code(world)))
    assert changed.affiliate.organisation.iban == NEW_IBAN
    assert world.uow.data.affiliates[club.affiliate_id].organisation.iban == NEW_IBAN
    [told] = world.uow.of_type(events.AffiliateIbanChanged)
    assert (told.contact_email, told.iban_suffix) == ("contact0@example.org", "2606")
    trail = world.uow.data.audit
    assert [(r.action, r.details) for r in trail] == [
        ("iban_change_requested", {"new_iban_suffix": "2606", "role": "affiliate"}),
        ("iban_change", {"old_iban_suffix": "0189", "new_iban_suffix": "2606", "role": "affiliate"}),
    ]
    assert all(r.client_address == "192.0.2.7" and r.account == club.login for r in trail)


async def test_a_wrong_code_is_counted_and_changes_no_iban(world):
    club = await world.affiliate()
    await world.iban_changes.request(world.uow, RequestIbanChange(ADMIN, club.affiliate_id, None, NEW_IBAN))
    with pytest.raises(Refusal) as refused:
        await world.iban_changes.confirm(world.uow, ConfirmIbanChange(ADMIN, club.affiliate_id, None,
                                                                      wrong(sent_code(world))))
    assert refused.value.code == "OTP_INVALID" and refused.value.details["attempts_left"] == 4
    assert world.uow.data.iban_changes[club.affiliate_id].code.failed_attempts == 1  # the count was kept
    assert world.uow.data.affiliates[club.affiliate_id].organisation.iban == IBANS[0]
    assert world.uow.of_type(events.AffiliateIbanChanged) == []


async def test_a_code_with_no_change_asked_or_after_expiry_is_refused(world):
    club = await world.affiliate()
    with pytest.raises(Refusal) as nothing:
        await world.iban_changes.confirm(world.uow, ConfirmIbanChange(ADMIN, club.affiliate_id, None, "123456"))
    assert nothing.value.code == "IBAN_CHANGE_NOT_REQUESTED"
    await world.iban_changes.request(world.uow, RequestIbanChange(ADMIN, club.affiliate_id, None, NEW_IBAN))
    world.clock.advance(minutes=11)
    with pytest.raises(Refusal) as expired:
        await world.iban_changes.confirm(world.uow, ConfirmIbanChange(ADMIN, club.affiliate_id, None,
                                                                      sent_code(world)))
    assert expired.value.code == "OTP_EXPIRED"


async def test_another_affiliate_cannot_ask_for_an_iban_change_and_a_family_is_forbidden(world):
    club = await world.affiliate(0)
    other = await world.affiliate(1, name="Théâtre")
    for actor, code in ((itself(other), "AFFILIATE_NOT_FOUND"), (FAMILY, "FORBIDDEN")):
        with pytest.raises(Refusal) as refused:
            await world.iban_changes.request(world.uow, RequestIbanChange(actor, club.affiliate_id, None, NEW_IBAN))
        assert refused.value.code == code
    assert world.uow.of_type(events.IbanChangeOtpIssued) == []


async def test_a_batch_made_before_an_iban_change_keeps_the_old_iban_and_the_next_pays_the_new(world):
    club = await world.affiliate()
    await world.campaigns.published(world.uow, campaign("2026"))
    before = world.clock() - timedelta(hours=1)
    await world.reimbursements.ticket_redeemed(world.uow, redeemed("2026", club.affiliate_id, 1000, before))
    first = await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1", "2026"))

    await world.iban_changes.request(world.uow, RequestIbanChange(itself(club), club.affiliate_id, None, NEW_IBAN))
    await world.iban_changes.confirm(world.uow, ConfirmIbanChange(itself(club), club.affiliate_id, None,
                                                                  sent_code(world)))
    await world.reimbursements.ticket_redeemed(world.uow, redeemed("2026", club.affiliate_id, 2000, before))
    second = await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1", "2026"))

    assert [t.iban for t in (await world.reimbursements.batch(world.uow, first.batch_id)).transfers] == [IBANS[0]]
    assert [t.iban for t in second.transfers] == [NEW_IBAN]
    first_file = (await world.reimbursements.files(world.uow, first.batch_id)).sepa_xml
    second_file = (await world.reimbursements.files(world.uow, second.batch_id)).sepa_xml
    assert IBANS[0].encode() in first_file and NEW_IBAN.encode() not in first_file
    assert NEW_IBAN.encode() in second_file and IBANS[0].encode() not in second_file
