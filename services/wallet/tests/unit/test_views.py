import pytest

from carnet_runtime import Refusal
from wallet.api import parse_positions
from wallet.store import CampaignFigures
from wallet.views import figures_view


def test_figures_count_tickets_by_amount_without_voided_ones_and_always_show_watched_amounts():
    found = CampaignFigures(
        wallets=2,
        allowance_cents=14000,
        wallets_with_redeemed_ticket=1,
        credited_cents=11000,
        tickets_by_status={"blank": 9, "credited": 2, "redeemed": 2, "voided": 1},
        amount_rows=[(1000, "credited", 2), (1000, "voided", 1), (3000, "redeemed", 1), (7000, "redeemed", 1)],
    )
    view = figures_view(found, "2026-2027", [1000, 3000, 7000, 2000]).model_dump()
    assert view["passes_with_wallet"] == 2 and view["credited_cents"] == 11000
    assert (view["allowance_cents"], view["remaining_cents"], view["wallets_with_redeemed_ticket"]) == (14000, 3000, 1)
    assert view["tickets_by_status"] == {"blank": 9, "credited": 2, "redeemed": 2, "void_pending": 0,
                                         "voided": 1, "expired": 0}
    assert view["tickets_by_amount"][0] == {"amount_cents": 1000, "count": 2,
                                            "by_status": {"credited": 2, "voided": 1}}
    assert view["watched_amounts"] == {"1000": 2, "3000": 1, "7000": 1, "2000": 0}


def test_sheet_positions_are_read_from_a_comma_separated_list():
    assert parse_positions(None) is None and parse_positions(" ") is None
    assert parse_positions("1, 2,3") == [1, 2, 3]
    with pytest.raises(Refusal) as caught:
        parse_positions("1,deux")
    assert caught.value.code == "POSITIONS_INVALID"
