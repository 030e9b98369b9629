"""Two of every tenant, made through the services' APIs: a campaign, two schools, two families each
with a validated application and a wallet with credited tickets, a paper application in each school
(its wallet kept by the school's correspondent), two affiliates (active: affiliate A redeemed one of
family A's tickets). Side A is the one attacked, side B the attacker."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from carnet_contracts import topics
from carnet_local.endpoints import Endpoints
from carnet_local.season import Season, SeasonSize, iban_for, paris_today
from carnet_local.testing import FiveServices


@dataclass
class Tenant:
    """What one side owns, and the claims its tokens carry."""

    name: str
    family_sub: str
    school_id: str
    affiliate_id: str
    affiliate_login: str
    values: dict[str, Any] = field(default_factory=dict)  # the family's (online) things, and the rest
    paper: dict[str, Any] = field(default_factory=dict)   # the school's paper application and wallet

    def values_for(self, role: str) -> dict[str, Any]:
        """What a request of `role` names: a correspondent acts on its school's paper wallet."""
        return self.values | self.paper if role == "correspondent" else self.values

    def claims(self, role: str) -> dict[str, str | None]:
        """The sub and tenant claims of this side's token for `role` (admin and services have no tenant)."""
        if role == "family":
            return {"sub": self.family_sub}
        if role == "correspondent":
            return {"sub": f"correspondant-{self.school_id}", "school_id": self.school_id}
        if role == "affiliate":
            return {"sub": self.affiliate_login, "affiliate_id": self.affiliate_id}
        return {"sub": "admin-security" if role == "admin" else "notification"}

    def secrets(self) -> list[str]:
        """What must never appear in an answer to the other side."""
        keys = ("application_id", "wallet_id", "ticket_id", "redemption_id", "email", "ticket_code", "student_last_name")
        return [str(values[k]) for values in (self.values, self.paper) for k in keys if values.get(k)]


@dataclass
class World:
    campaign_id: str
    a: Tenant
    b: Tenant


def _application(campaign_id: str, school_id: str, side: str, run: str) -> dict[str, Any]:
    today = paris_today()
    school_year = today.year if today.month >= 6 else today.year - 1
    return {
        "campaign_id": campaign_id, "school_id": school_id,
        "student": {"last_name": f"Securite{side}{run}", "first_name": "Camille",
                    "birth_date": date(school_year - 11, 3, 14).isoformat(), "level": "6e"},
        "guardian": {"last_name": f"Securite{side}{run}", "first_name": "Dominique",
                     "email": f"famille.{side.lower()}.{run}@example.org"},
        "address": {"line": "12 rue de la République", "postcode": "92160", "city": "Antony"},
    }


async def build_world(services: FiveServices, keys_dir: Path, mail_dir: Path, kafka_bootstrap: str) -> World:
    endpoints = Endpoints(**services.urls, keys_dir=keys_dir, mail_dir=mail_dir, kafka_bootstrap=kafka_bootstrap)
    season = Season(endpoints, SeasonSize(families=0, schools=2, affiliates=2, seed=12), timeout=90)
    async with httpx.AsyncClient(timeout=60) as season.http:
        await season.publish()
        await season.affiliate()
        campaign_id, run = season.campaign_id, season.run_id
        sides = [Tenant(name, f"famille-securite-{name.lower()}-{run}", school, affiliate.affiliate_id, affiliate.login)
                 for name, school, affiliate in zip("AB", season.schools, season.affiliates)]
        for side in sides:
            await _enrol_and_credit(season, side, campaign_id, run)
            await _enrol_and_credit(season, side, campaign_id, run, paper=True)
        a, b = sides
        a.values["redemption_id"] = await _redeem(season, a)
        for side in sides:
            side.values.update(campaign_id=campaign_id, school_id=side.school_id, affiliate_id=side.affiliate_id,
                               wallet_ids=[side.values["wallet_id"]], iban=iban_for(random.Random(side.name)),
                               application_form=_application(campaign_id, side.school_id, side.name, f"{run}x"))
            side.paper["wallet_ids"] = [side.paper["wallet_id"]]
    return World(campaign_id, a, b)


async def _enrol_and_credit(season: Season, side: Tenant, campaign_id: str, run: str, *, paper: bool = False) -> None:
    """An application validated by the school, its wallet, two tickets credited: online by the family,
    or on paper by the school's correspondent (who then keeps the wallet)."""
    form = _application(campaign_id, side.school_id, side.name, f"{run}p" if paper else run)
    family = season.token("family", side.family_sub)
    correspondent = season.token("correspondent", f"correspondant-{side.school_id}", school_id=side.school_id)
    actor = correspondent if paper else family
    enrolment, wallet = season.ep.enrolment, season.ep.wallet
    url = f"{enrolment}/v1/schools/{side.school_id}/paper-applications" if paper else f"{enrolment}/v1/applications"
    applied = (await season.call("POST", url, json=form, headers=actor, expect=(201,), what="applying")).json()
    application_id = applied["application_id"]
    await season.call("POST", f"{enrolment}/v1/applications/{application_id}/validate", headers=correspondent,
                      what="the school validating")

    async def wallet_ready() -> str | None:
        seen = (await season.call("GET", f"{enrolment}/v1/applications/{application_id}", headers=actor,
                                  what="following the application")).json()
        return seen["wallet_id"] if seen["status"] == "wallet_ready" else None

    wallet_id = await season.until(f"the wallet of application {application_id}", wallet_ready)
    tickets = (await season.call("GET", f"{wallet}/v1/wallets/{wallet_id}", headers=actor,
                                 what="opening the wallet")).json()["tickets"]
    credited = []
    for ticket in tickets[:2]:
        url = f"{wallet}/v1/wallets/{wallet_id}/tickets/{ticket['ticket_id']}/credit"
        credited.append((await season.call("POST", url, json={"amount_cents": 1000}, headers=actor,
                                           what="crediting a ticket")).json())
    (side.paper if paper else side.values).update(
        application_id=application_id, wallet_id=wallet_id, email=form["guardian"]["email"],
        student_last_name=form["student"]["last_name"], ticket_id=credited[1]["ticket_id"],
        ticket_code=credited[1]["code"], redeemable_code=credited[0]["code"])


async def _redeem(season: Season, side: Tenant) -> str:
    """Affiliate A redeems family A's first ticket, once the redemption service has seen it credited."""
    await season.caught_up("redemption", [topics.WALLET_TICKETS.name, topics.AFFILIATION_AFFILIATES.name,
                                          topics.ENROLMENT_CAMPAIGNS.name], "the redemption view of the credited tickets")
    counter = next(a for a in season.affiliates if a.affiliate_id == side.affiliate_id)
    redeemed = await season.call(
        "POST", f"{season.ep.redemption}/v1/redemptions", json={"ticket_code": side.values["redeemable_code"]},
        headers={"Authorization": f"Bearer {counter.token}", "Idempotency-Key": str(uuid.uuid4())}, expect=(201,),
        what="affiliate A redeeming family A's ticket", idempotent=True)
    return redeemed.json()["redemption_id"]
