"""The enrolment service run as its own process on the session's real PostgreSQL and Kafka."""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from enrolment.domain import PARIS, CampaignCalendar


@pytest.fixture(scope="module")
def enrolment(stack):
    service = stack.service("enrolment", own_consumer_group=True).start(timeout=90)
    yield service
    service.stop()


@pytest.fixture
async def http(enrolment):
    async with httpx.AsyncClient(base_url=enrolment.url, timeout=20) as client:
        yield client


def unique_name(prefix: str = "") -> str:
    """A name no other test of the session uses (letters only, as a person's name)."""
    return prefix + "".join(random.choice(string.ascii_lowercase) for _ in range(8)).capitalize()


class World:
    """A campaign open today, two schools, and the people who act on them.

    Each world's enrolment opens a day after the one made before it (within the month): a roster
    imported today belongs to the campaign whose enrolment opened last, so the newest world's rosters
    are its own whatever the tests of the module ran before it."""

    made = 0

    def __init__(self, stack, http: httpx.AsyncClient):
        self.stack = stack
        self.http = http
        suffix = uuid.uuid4().hex[:6]
        self.campaign_id = f"c-{suffix}"
        self.school_a = f"A{suffix}"
        self.school_b = f"B{suffix}"
        today = datetime.now(UTC).astimezone(PARIS).date()
        World.made += 1
        self.calendar = CampaignCalendar(
            today - timedelta(days=30 - World.made % 25), today + timedelta(days=30), today + timedelta(days=200),
            today + timedelta(days=230),
        )
        self.admin = stack.auth("admin")
        self.family_sub = f"family-{suffix}"
        self.family = stack.auth("family", sub=self.family_sub)
        self.other_family = stack.auth("family", sub=f"other-{suffix}")
        self.correspondent_a = stack.auth("correspondent", school_id=self.school_a)
        self.correspondent_b = stack.auth("correspondent", school_id=self.school_b)

    @property
    def birth_date(self) -> date:
        start = self.calendar.school_year_start
        return date(start.year - 12, 3, 14)

    async def set_up(self) -> None:
        cal = self.calendar
        r = await self.http.put(
            f"/v1/campaigns/{self.campaign_id}", headers=self.admin,
            json={"label": "Pass test", "enrolment_opens": cal.enrolment_opens.isoformat(),
                  "enrolment_closes": cal.enrolment_closes.isoformat(), "pass_valid_until": cal.pass_valid_until.isoformat(),
                  "reimbursement_deadline": cal.reimbursement_deadline.isoformat(), "redemption_cancel_grace_minutes": 20},
        )
        assert r.status_code == 200, r.text
        for school_id, name in ((self.school_a, "Collège Anatole France"), (self.school_b, "Collège Jean Jaurès")):
            r = await self.http.put(f"/v1/schools/{school_id}", headers=self.admin,
                                    json={"name": name, "postcode": "92100", "city": "Boulogne-Billancourt"})
            assert r.status_code == 200, r.text

    async def set_correspondent(self, school_id: str, email: str | None) -> None:
        r = await self.http.put(f"/v1/schools/{school_id}", headers=self.admin, json={
            "name": f"Collège {school_id}", "postcode": "92100", "city": "Boulogne-Billancourt",
            "correspondent_email": email})
        assert r.status_code == 200, r.text

    async def end_season(self, *, data_retention_days: int = 0) -> httpx.Response:
        """The campaign's whole calendar moved to the past, its reimbursement deadline two days ago."""
        today = datetime.now(UTC).astimezone(PARIS).date()
        return await self.http.put(
            f"/v1/campaigns/{self.campaign_id}", headers=self.admin,
            json={"label": "Pass test", "enrolment_opens": (today - timedelta(days=400)).isoformat(),
                  "enrolment_closes": (today - timedelta(days=300)).isoformat(),
                  "pass_valid_until": (today - timedelta(days=100)).isoformat(),
                  "reimbursement_deadline": (today - timedelta(days=2)).isoformat(),
                  "redemption_cancel_grace_minutes": 20, "data_retention_days": data_retention_days},
        )

    def application(self, *, last_name="Lefèvre", first_name="Anaïs", school_id=None, email="parent@example.fr",
                    phone=None, **student) -> dict:
        return {
            "campaign_id": self.campaign_id,
            "school_id": school_id or self.school_a,
            "student": {"last_name": last_name, "first_name": first_name,
                        "birth_date": self.birth_date.isoformat(), "level": "6e", **student},
            "guardian": {"last_name": last_name, "first_name": "Paul", "email": email, "phone": phone},
            "address": {"line": "1 rue de la Paix", "postcode": "92100", "city": "Boulogne-Billancourt"},
        }


def database_of(service) -> str:
    return service.env["CARNET_ENROLMENT_DATABASE_URL"]


@pytest.fixture
async def world(stack, http) -> World:
    w = World(stack, http)
    await w.set_up()
    return w
