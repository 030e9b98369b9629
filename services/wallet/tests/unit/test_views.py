import pytest

from carnet_runtime import Refusal
import uuid
from datetime import UTC, date, datetime

from wallet.api import parse_positions, parse_wallet_ids
from wallet.application import Figures, Shown
from wallet.domain import Affiliate, CampaignTerms, Commitments, Student, Ticket, TicketStatus, ValidityShare, Wallet
from wallet.store import CampaignFigures
from wallet.views import figures_view, sheets_of, wallet_view


def test_figures_count_tickets_by_amount_without_voided_ones_and_always_show_watched_amounts():
    found = CampaignFigures(
        wallets=2,
        allowance_cents=14000,
        wallets_with_redeemed_ticket=1,
        credited_cents=11000,
        tickets_by_status={"blank": 9, "credited": 2, "redeemed": 2, "voided": 1},
        amount_rows=[(1000, "credited", 2), (1000, "voided", 1), (3000, "redeemed", 1), (7000, "redeemed", 1)],
    )
    committed = Commitments(as_of=date(2027, 1, 5), outstanding_cents=2000, outstanding_tickets=2,
                            redeemed_cents=10000, redeemed_tickets=2,
                            by_valid_until=[ValidityShare(date(2027, 3, 31), 2000, 2)])
    view = figures_view(Figures(found, committed), "2026-2027", [1000, 3000, 7000, 2000]).model_dump()
    assert view["passes_with_wallet"] == 2 and view["credited_cents"] == 11000
    assert (view["allowance_cents"], view["remaining_cents"], view["wallets_with_redeemed_ticket"]) == (14000, 3000, 1)
    assert view["tickets_by_status"] == {"blank": 9, "credited": 2, "redeemed": 2, "void_pending": 0,
                                         "voided": 1, "replace_pending": 0, "expired": 0}
    assert view["tickets_by_amount"][0] == {"amount_cents": 1000, "count": 2,
                                            "by_status": {"credited": 2, "voided": 1}}
    assert view["watched_amounts"] == {"1000": 2, "3000": 1, "7000": 1, "2000": 0}
    assert (view["as_of"], view["outstanding_cents"], view["expired_unspent_cents"], view["redeemed_cents"]) == (
        date(2027, 1, 5), 2000, 0, 10000)
    assert view["credited_as_of_cents"] == 12000
    assert view["outstanding_by_valid_until"] == [{"valid_until": date(2027, 3, 31), "cents": 2000, "tickets": 2}]


def test_sheet_positions_are_read_from_a_comma_separated_list():
    assert parse_positions(None) is None and parse_positions(" ") is None
    assert parse_positions("1, 2,3") == [1, 2, 3]
    with pytest.raises(Refusal) as caught:
        parse_positions("1,deux")
    assert caught.value.code == "POSITIONS_INVALID"


def test_school_sheets_read_wallet_ids_once_each_in_order_and_refuse_anything_else():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert parse_wallet_ids(f"{a}, {b},{a}") == [a, b]
    for bad in ("", "not-an-id", ",".join(str(uuid.uuid4()) for _ in range(201))):
        with pytest.raises(Refusal) as caught:
            parse_wallet_ids(bad)
        assert caught.value.code == "VALIDATION_ERROR" and caught.value.details["fields"][0]["field"] == "wallet_ids"


NOW = datetime(2027, 1, 5, 10, 0, tzinfo=UTC)


def a_wallet(tickets: list[Ticket]) -> Wallet:
    terms = CampaignTerms("c", "Pass", 70000, len(tickets), 500, 7000, date(2027, 3, 31))
    return Wallet(uuid.uuid4(), "app", "0920001A", "family", "x@example.org", Student("Martin", "Léa", "5e"), terms,
                  tickets)


def test_a_redeemed_ticket_shows_when_and_which_organisation_redeemed_it():
    from carnet_contracts import ticket_code
    ticket = Ticket(uuid.uuid4(), 1, TicketStatus.REDEEMED, 1000, ticket_code.generate(), None, NOW, NOW,
                    redeemed_by="club-1")
    view = wallet_view(Shown(a_wallet([ticket]), NOW, True, {"club-1": Affiliate("club-1", "Club de judo", True)},
                             [ticket]))
    [shown] = view.tickets
    assert shown.code is None, "a redeemed ticket's code is not shown any more"
    assert (shown.redeemed_at, shown.redeemed_by.model_dump()) == (NOW, {"affiliate_id": "club-1", "name": "Club de judo"})


def test_a_pupil_with_more_than_seven_credited_tickets_gets_a_page_per_seven():
    from carnet_contracts import ticket_code
    tickets = [Ticket(uuid.uuid4(), p, TicketStatus.CREDITED, 500, ticket_code.generate()) for p in range(1, 10)]
    wallet = a_wallet(tickets)
    pages = sheets_of(Shown(wallet, NOW, True, {}, tickets))
    assert [len(p.tickets) for p in pages] == [7, 2]
    assert {p.student_name for p in pages} == {"Léa Martin"}
