"""The season opens: the campaign (and last year's, closed) and the schools published by the admin,
the organisations invited, activated and bound by their convention."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx

from ..endpoints import ToolError
from .cast import AFFILIATE_KINDS, CITIES_92, DEMO_PASSWORD, LEVELS, SCHOOL_NAMES, ascii_slug, iban_for, paris_today, siret_for
from .driver import SERVICES, Driver
from .outcome import Affiliate


class Opening(Driver):
    async def preflight(self) -> None:
        for name in SERVICES:
            url = f"{getattr(self.ep, name)}/health/ready"
            try:
                ready = (await self.http.get(url, timeout=5)).status_code == 200
            except httpx.HTTPError:
                ready = False
            if not ready:
                raise ToolError(f"the {name} service is not ready at {url}: start the stack first (`make run`)")

    async def publish(self) -> None:
        today = paris_today()
        self.phases.start("Campagne et collèges", 2 + self.size.schools)
        self.campaign = {
            "label": f"Pass Hauts-de-Seine {today.year}-{today.year + 1} (démonstration)",
            "enrolment_opens": (today - timedelta(days=14)).isoformat(),
            "enrolment_closes": (today + timedelta(days=90)).isoformat(),
            "pass_valid_until": (today + timedelta(days=210)).isoformat(),
            "reimbursement_deadline": (today + timedelta(days=240)).isoformat(),
            "allowance_cents": 7000, "tickets_per_pass": 7, "ticket_min_cents": 500, "ticket_max_cents": 7000,
            "eligible_postcode_prefixes": ["92"], "eligible_levels": LEVELS,
            "redemption_cancel_grace_minutes": 30,
        }
        enrolment = self.ep.enrolment
        await self.call("PUT", f"{enrolment}/v1/campaigns/{self.campaign_id}", json=self.campaign, headers=self.admin,
                        what="publishing the campaign")
        self.phases.advance()
        closed = self.campaign | {
            "label": f"Pass Hauts-de-Seine {today.year - 1}-{today.year} (démonstration)",
            "enrolment_opens": (today - timedelta(days=380)).isoformat(),
            "enrolment_closes": (today - timedelta(days=200)).isoformat(),
            "pass_valid_until": (today - timedelta(days=80)).isoformat(),
            "reimbursement_deadline": (today - timedelta(days=50)).isoformat(),
        }
        await self.call("PUT", f"{enrolment}/v1/campaigns/{self.outcome.closed_campaign_id}", json=closed,
                        headers=self.admin, what="publishing the previous, closed campaign")
        self.phases.advance()
        for i in range(self.size.schools):
            postcode, city = CITIES_92[i % len(CITIES_92)]
            school_id = f"{self.run_id}-{ascii_slug(city)}-{i + 1}"
            name = f"{SCHOOL_NAMES[i % len(SCHOOL_NAMES)]} ({city})"
            await self.call("PUT", f"{enrolment}/v1/schools/{school_id}", headers=self.admin, what="registering a school",
                            json={"name": name, "postcode": postcode, "city": city,
                                  "correspondent_email": f"correspondant.{school_id}@example.org"})
            self.schools.append(school_id)
            self.phases.advance()
        await self.phase_done("publish", f"campagne {self.campaign_id}, {len(self.schools)} collèges")

    async def affiliate(self) -> None:
        rng = random.Random(f"{self.size.seed}-{self.run_id}")  # a SIRET is affiliated once: new ones each run
        plans = []
        for i in range(self.size.affiliates):
            activity, kind = AFFILIATE_KINDS[i % len(AFFILIATE_KINDS)]
            postcode, city = CITIES_92[(i + 3) % len(CITIES_92)]
            plans.append((i, activity, f"{kind} de {city}", postcode, city, siret_for(rng), iban_for(rng)))
        self.phases.start("Organismes affiliés", len(plans))
        self.affiliates = await self.each(plans, self.onboard)
        self.outcome.affiliates = len(self.affiliates)
        await self.phase_done("affiliate", f"{len(self.affiliates)} organismes : invitation, activation, convention signée")

    async def onboard(self, plan: tuple) -> Affiliate:
        i, activity, name, postcode, city, siret, iban = plan
        base = self.ep.affiliation
        contact = f"contact.{self.run_id}.{i}@example.org"
        created = (await self.call(
            "POST", f"{base}/v1/affiliates", expect=(201,), headers=self.admin, what="affiliating an organisation",
            json={"name": name, "siret": siret, "activity": activity, "contact_email": contact, "iban": iban,
                  "address": {"line": f"{i + 1} avenue du Stade", "postcode": postcode, "city": city}},
        )).json()
        affiliate_id = created["affiliate_id"]
        token = await self.mailbox.find(contact, "identifiant", r"\?token=([A-Za-z0-9_-]+)", self.timeout)
        await self.call("POST", f"{base}/v1/affiliates/{affiliate_id}/activation", what="activating an affiliate account",
                        json={"token": token, "password": DEMO_PASSWORD})
        login = (await self.call("POST", f"{base}/v1/auth/token", what="an affiliate logging in",
                                 json={"login": created["login"], "password": DEMO_PASSWORD})).json()
        me = {"Authorization": f"Bearer {login['access_token']}"}
        convention = (await self.call("GET", f"{base}/v1/affiliates/{affiliate_id}/convention", headers=me,
                                      what="reading the convention")).json()
        here = f"{base}/v1/affiliates/{affiliate_id}/convention"
        await self.call("POST", f"{here}/read", headers=me, json={"sha256": convention["sha256"]}, what="convention: read")
        await self.call("POST", f"{here}/accept", headers=me, what="convention: accept")
        await self.call("POST", f"{here}/otp", headers=me, expect=(202,), what="convention: one-time code")
        otp = await self.mailbox.find(contact, "code", r"(?m)^\s+(\d{6})\s*$", self.timeout)
        signed = (await self.call("POST", f"{here}/sign", headers=me, json={"otp": otp}, what="convention: sign")).json()
        if signed.get("status") != "active":
            raise ToolError(f"convention signed but the organisation is {signed.get('status')}, not active")
        return Affiliate(affiliate_id, name, created["login"], login["access_token"])
