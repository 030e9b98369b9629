import pytest

from carnet_runtime import Refusal
from enrolment.domain import School


def test_a_school_is_read_with_its_correspondent_address():
    school = School.from_settings("0920001A", {"name": " Collège  Anatole France ", "postcode": "92100",
                                               "city": "Boulogne-Billancourt", "correspondent_email": "cdt@ac.fr"})
    assert school.name == "Collège Anatole France"
    assert school.as_dict()["correspondent_email"] == "cdt@ac.fr"


def test_every_wrong_school_field_is_reported():
    with pytest.raises(Refusal) as err:
        School.from_settings("bad id!", {"name": "", "postcode": "921", "correspondent_email": "nope"})
    assert err.value.code == "VALIDATION_ERROR"
    assert {f["field"] for f in err.value.details["fields"]} == {"school_id", "name", "postcode", "city", "correspondent_email"}
