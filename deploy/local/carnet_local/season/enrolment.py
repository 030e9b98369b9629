"""Families enrol (some are refused), a school's correspondent enters a family without internet on
paper, the schools validate by importing their roster and by hand, and the wallets appear."""

from __future__ import annotations

import random
from datetime import date, timedelta

from ..endpoints import ToolError
from .cast import CITIES_92, FIRST_NAMES, LAST_NAMES, LEVELS, paris_today
from .driver import Driver
from .outcome import Family

REFUSALS = {"non_resident": "NOT_RESIDENT", "late": "ENROLMENT_CLOSED", "duplicate": "DUPLICATE_APPLICATION"}


class Enrolment(Driver):
    def plan_families(self) -> list[Family]:
        rng = random.Random(self.size.seed + 2)
        school_year = paris_today().year if paris_today().month >= 6 else paris_today().year - 1
        taken: set[tuple[str, str, str]] = set()
        families: list[Family] = []

        def new_student(level_index: int) -> dict[str, str]:
            while True:
                last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
                born = date(school_year - 11 - level_index, 1, 1) + timedelta(days=rng.randrange(365))
                if (last, first, born.isoformat()) not in taken:
                    taken.add((last, first, born.isoformat()))
                    return {"last_name": last, "first_name": first, "birth_date": born.isoformat(),
                            "level": LEVELS[level_index]}

        for i in range(self.size.families):
            draw = rng.random()
            originals = [f for f in families if f.intent == "ok"]
            intent = "non_resident" if draw < 0.05 else "late" if draw < 0.08 else "duplicate" if draw < 0.12 else "ok"
            intent = {1: "non_resident", 2: "late", 3: "duplicate"}.get(i, intent)  # every refusal, even in a small season
            if intent == "duplicate" and not originals:
                intent = "ok"
            level_index = rng.randrange(4)
            if intent == "duplicate":
                original = rng.choice(originals)
                student = dict(original.student)
                school_id = original.school_id
            else:
                student = new_student(level_index)
                school_id = self.schools[i % len(self.schools)]
            postcode, city = ("75011", "Paris") if intent == "non_resident" else rng.choice(CITIES_92)
            families.append(Family(
                index=i, sub=f"famille-{self.run_id}-{i}", school_id=school_id, student=student,
                guardian={"last_name": student["last_name"], "first_name": rng.choice(FIRST_NAMES),
                          "email": f"famille.{self.run_id}.{i}@example.org", "phone": f"06{rng.randrange(10**8):08d}"},
                address={"line": f"{rng.randrange(1, 120)} rue de la République", "postcode": postcode, "city": city},
                intent=intent, uses_pass=rng.random() < 0.8,
            ))
        if families:  # and a family without internet, entered on paper by the first school's correspondent
            student = new_student(rng.randrange(4))
            postcode, city = CITIES_92[0]
            families.append(Family(
                index=len(families), sub=None, school_id=self.schools[0], student=student,
                guardian={"last_name": student["last_name"], "first_name": rng.choice(FIRST_NAMES),
                          "email": f"famille.{self.run_id}.papier@example.org"},
                address={"line": "3 place de la Mairie", "postcode": postcode, "city": city}, intent="ok"))
        return families

    async def enrol(self) -> None:
        self.families = self.plan_families()
        self.phases.start("Inscriptions des familles", len(self.families))
        # the duplicates come after the originals
        ordered = sorted(self.families, key=lambda f: f.intent == "duplicate")
        await self.each([f for f in ordered if f.intent != "duplicate"], self.apply)
        await self.each([f for f in ordered if f.intent == "duplicate"], self.apply)
        refused = ", ".join(f"{n} {code}" for code, n in sorted(self.outcome.refused.items()))
        await self.phase_done("enrol", f"{self.outcome.submitted} inscriptions reçues (dont "
                                       f"{self.outcome.paper_applications} sur papier) ; refusées : {refused or 'aucune'}")

    async def apply(self, family: Family) -> None:
        campaign_id = self.outcome.closed_campaign_id if family.intent == "late" else self.campaign_id
        body = {"campaign_id": campaign_id, "school_id": family.school_id, "student": family.student,
                "guardian": family.guardian, "address": family.address}
        url = (f"{self.ep.enrolment}/v1/schools/{family.school_id}/paper-applications" if family.paper
               else f"{self.ep.enrolment}/v1/applications")
        me = self.acting_for(family)
        if family.intent in REFUSALS:
            await self.refused("POST", url, REFUSALS[family.intent], json=body, headers=me,
                               what=f"an application that must be refused ({family.intent})")
            self.outcome.refused[REFUSALS[family.intent]] += 1
            return
        answer = (await self.call("POST", url, json=body, headers=me, expect=(201,),
                                  what="a correspondent entering a paper application" if family.paper
                                  else "a family applying")).json()
        family.application_id = answer["application_id"]
        self.outcome.submitted += 1
        self.outcome.paper_applications += family.paper

    async def validate(self) -> None:
        self.phases.start("Validation par les collèges", len(self.schools))
        await self.each(self.schools, self.validate_school)
        await self.phase_done("validate", f"{self.outcome.validated} validées (dont {self.outcome.validated_by_roster} par "
                                          f"import de la liste des élèves), {self.outcome.rejected} rejetées")

    async def validate_school(self, school_id: str) -> None:
        rng = random.Random(f"{self.size.seed}-{school_id.split('-')[-1]}")
        me = self.correspondent(school_id)
        base = f"{self.ep.enrolment}/v1/schools/{school_id}"
        pending = await self.call("GET", f"{base}/applications", params={"status": "submitted"},
                                  headers=me | {"Accept": "text/csv"}, what="downloading the pending list")
        if ";" not in pending.text.splitlines()[0]:
            raise ToolError("the pending list is not a ';' CSV")
        mine = sorted((f for f in self.families if f.school_id == school_id and f.application_id), key=lambda f: f.index)
        on_roster = [f for f in mine if f.paper or rng.random() < 0.8]   # the school knows the pupil it entered
        lines = ["Nom;Prénom;Date de naissance;Niveau"]
        for f in on_roster:
            born = date.fromisoformat(f.student["birth_date"])
            lines.append(f"{f.student['last_name'].upper()};{f.student['first_name']};{born:%d/%m/%Y};{f.student['level']}")
        lines.append("Durand;Élève;31/02/2010;6e")      # a line Excel made wrong: reported, the file goes on
        roster = ("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace")
        imported = (await self.call("POST", f"{base}/roster", params={"validate_matched": "true"}, content=roster,
                                    headers=me | {"Content-Type": "text/csv"}, what="importing the roster")).json()
        if not imported["rejected"]:
            raise ToolError("the roster's bad line was not reported")
        validated = set(imported.get("validated", []))
        expected = {f.application_id for f in on_roster}
        if validated != expected:
            raise ToolError(f"roster import validated {len(validated)} applications, {len(expected)} were on the roster")
        self.outcome.validated_by_roster += len(validated)
        self.outcome.validated += len(validated)
        for f in mine:
            if f.application_id in validated:
                continue
            url = f"{self.ep.enrolment}/v1/applications/{f.application_id}"
            if rng.random() < 0.3:
                await self.call("POST", f"{url}/reject", headers=me, what="rejecting an application",
                                json={"reason": "Élève inconnu du collège : vérifiez le collège choisi."})
                f.application_id, f.intent = None, "rejected"
                self.outcome.rejected += 1
            else:
                await self.call("POST", f"{url}/validate", headers=me, what="validating an application")
                self.outcome.validated += 1

    async def wallets_ready(self) -> None:
        granted = [f for f in self.families if f.application_id]
        self.phases.start("Porte-monnaie électroniques", len(granted))

        async def ready(f: Family) -> None:
            me = self.acting_for(f)
            url = f"{self.ep.enrolment}/v1/applications/{f.application_id}"

            async def probe() -> str | None:
                seen = (await self.call("GET", url, headers=me, what="following an application")).json()
                return seen["wallet_id"] if seen["status"] == "wallet_ready" else None

            f.wallet_id = await self.until(f"the wallet of application {f.application_id} (wallet_ready)", probe)
            self.outcome.ledger.wallet(f.wallet_id, self.campaign["allowance_cents"])

        await self.each(granted, ready)
        self.outcome.wallets = len(granted)
        await self.phase_done("wallets", f"{len(granted)} porte-monnaie créés, 7 tickets sans somme affectée chacun")
