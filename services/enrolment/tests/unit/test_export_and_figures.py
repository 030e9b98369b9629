import codecs
import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from enrolment.domain import ApplicationFact, ApplicationStatus, PendingRow, figures, pending_csv, percentile

ROW = PendingRow(
    application_id="a1",
    submitted_at=datetime(2014, 9, 1, 22, 30, tzinfo=timezone.utc),
    student_last_name="Lefèvre",
    student_first_name="Anaïs",
    birth_date=date(2003, 5, 14),
    level="6e",
    guardian_last_name="Lefèvre",
    guardian_first_name="=HYPERLINK(\"x\")",
    guardian_email="paul@example.fr",
    guardian_phone="+33 6 12 34 56 78",
    address_line="1 rue de la Paix; bât. B",
    postcode="92100",
    city="Boulogne-Billancourt",
    paper=True,
    on_roster=False,
)


def test_pending_csv_opens_in_excel_with_accents_and_paris_times():
    data = pending_csv([ROW])
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][0] == "N° de dossier"
    assert rows[1][:6] == ["a1", "02/09/2014 00:30", "Lefèvre", "Anaïs", "14/05/2003", "6e"]
    assert rows[1][10] == "1 rue de la Paix; bât. B"
    assert rows[1][13:] == ["oui", "non", "en attente de validation"]
    assert b"\r\n" in data


def test_pending_csv_keeps_family_text_from_running_as_a_formula():
    rows = list(csv.reader(io.StringIO(pending_csv([ROW]).decode("utf-8-sig")), delimiter=";"))
    assert rows[1][7].startswith("'=")
    assert rows[1][9] == "'+33 6 12 34 56 78"


def test_pending_csv_of_nothing_is_the_header_alone():
    assert pending_csv([]).decode("utf-8-sig").count("\r\n") == 1


T0 = datetime(2014, 9, 1, tzinfo=timezone.utc)
TODAY = date(2014, 10, 1)


def fact(school, status, days=None):
    return ApplicationFact(school, ApplicationStatus(status), T0, T0 + timedelta(days=days) if days is not None else None)


def test_figures_count_by_status_and_school_and_measure_the_validation_delay():
    facts = [fact("A", "submitted"), fact("A", "rejected")]
    facts += [fact("A", "validated", d) for d in (1, 2, 3, 4, 5)]
    facts += [fact("B", "wallet_ready", d) for d in (6, 7, 8, 9, 20)]
    out = figures(facts, TODAY)
    assert out["total"] == 12
    assert out["by_status"] == {"submitted": 1, "validated": 5, "rejected": 1, "wallet_ready": 5}
    assert out["granted"] == 10
    assert out["by_school"]["A"] == {"total": 7, "submitted": 1, "validated": 5, "rejected": 1, "wallet_ready": 0}
    delay = out["validation_delay"]
    assert delay["count"] == 10
    assert delay["median_days"] == 5.5
    assert delay["p90_days"] == pytest.approx(9 + 0.1 * 11)
    assert delay["within_promise"] == 9 and delay["within_promise_ratio"] == 0.9


def test_figures_without_any_validation_have_no_delay():
    out = figures([fact("A", "submitted")], TODAY)
    assert out["validation_delay"]["median_days"] is None
    assert out["validation_delay_by_school"] == {}


def test_figures_give_the_validation_delay_per_school_median_max_and_count():
    facts = [fact("A", "validated", d) for d in (1, 2, 9)] + [fact("B", "wallet_ready", d) for d in (3, 4)]
    out = figures(facts, TODAY)
    assert out["validation_delay_by_school"] == {
        "A": {"count": 3, "median_days": 2.0, "max_days": 9.0},
        "B": {"count": 2, "median_days": 3.5, "max_days": 4.0},
    }
    assert out["validation_delay"]["max_days"] == 9.0


def test_figures_count_the_files_still_waiting_and_their_age_in_paris_days_per_school_and_overall():
    # Submitted at 23:30 UTC on 31 August: 1 September in Paris, so 14 days old on 15 September.
    late = datetime(2014, 8, 31, 23, 30, tzinfo=timezone.utc)
    facts = [ApplicationFact("A", ApplicationStatus.SUBMITTED, late, None),
             ApplicationFact("A", ApplicationStatus.SUBMITTED, datetime(2014, 9, 10, 8, tzinfo=timezone.utc), None),
             ApplicationFact("B", ApplicationStatus.SUBMITTED, datetime(2014, 9, 14, 8, tzinfo=timezone.utc), None),
             fact("B", "validated", 2)]
    out = figures(facts, date(2014, 9, 15))
    assert out["waiting"] == {"count": 3, "oldest_submitted_at": late, "oldest_days": 14, "median_days": 5.0}
    assert out["waiting_by_school"]["A"] == {"count": 2, "oldest_submitted_at": late, "oldest_days": 14,
                                             "median_days": 9.5}
    assert out["waiting_by_school"]["B"]["count"] == 1
    assert figures([], TODAY)["waiting"] == {"count": 0, "oldest_submitted_at": None, "oldest_days": None,
                                             "median_days": None}


def test_percentile_interpolates_between_ranks():
    assert percentile([1.0], 0.9) == 1.0
    assert percentile([0.0, 10.0], 0.9) == 9.0
