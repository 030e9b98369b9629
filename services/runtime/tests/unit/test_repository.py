from dataclasses import dataclass, field
from enum import StrEnum

import pytest

from carnet_runtime.repository import from_row


class Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True)
class Thing:
    thing_id: str
    colour: Colour
    count: int = 0
    derived: int = field(init=False, default=0)


def test_a_record_becomes_the_dataclass_by_its_column_names() -> None:
    row = {"thing_id": "t-1", "colour": "red", "count": 3, "unrelated": "ignored"}
    thing = from_row(Thing, row, colour=Colour(row["colour"]))
    assert thing == Thing("t-1", Colour.RED, 3)
    assert isinstance(thing.colour, Colour)


def test_a_missing_column_is_an_error_not_a_default() -> None:
    with pytest.raises(KeyError):
        from_row(Thing, {"thing_id": "t-1", "colour": "red"})
