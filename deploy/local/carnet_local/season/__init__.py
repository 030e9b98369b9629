"""`carnet demo`: a whole campaign season, driven through the services' public APIs.

Everything goes through what the real users would use: the admin publishes the campaign and the
schools, affiliates receive their login by e-mail, activate their account and sign the convention
with the e-mailed one-time code, families enrol (some are refused) and a school's correspondent
enters a family without internet on paper, correspondents validate with a roster import, families
(and the correspondent, for its paper family) credit and print their tickets, void a few (blank
again, some credited again with a new code) and replace a lost one, counters redeem them (with the
mistakes a counter makes), the admin corrects two redemptions late, and the département pays the
affiliates. The driver only waits for what happens asynchronously (a wallet after a validation, the
redemption view fed by credit events) by polling, each wait with a timeout that ends the season with
one clear line.

The same code drives the local stack (`carnet demo`) and the end-to-end tests (explicit base URLs,
keys folder and mail folder). One module per part of the season:

| module | what |
|---|---|
| `driver.py` | tokens, requests and their retries, waits, concurrency, consumer groups caught up |
| `opening.py` | campaign, schools, organisations (invitation, activation, convention) |
| `enrolment.py` | applications (online, refused, on paper), validation by the schools, wallets |
| `tickets.py` | credit, print, void (blank again, credited again), a lost ticket replaced |
| `counters.py` | redemptions at the counters, with their mistakes; old codes refused |
| `reimbursement.py` | the admin's late corrections, the batch and its SEPA file, the end of the season |
| `ledger.py`, `outcome.py` | the driver's books and what the season leaves |
| `cast.py`, `mailbox.py`, `progress.py` | names and numbers, captured e-mails, progress bars |
"""

from __future__ import annotations

import httpx

from .cast import iban_for, paris_today
from .enrolment import Enrolment
from .ledger import SeasonLedger
from .opening import Opening
from .outcome import SeasonOutcome, SeasonSize
from .progress import Phases, RichPhases
from .reimbursement import Reimbursement
from .tickets import Tickets

__all__ = ["Phases", "RichPhases", "Season", "SeasonLedger", "SeasonOutcome", "SeasonSize", "iban_for", "paris_today"]


class Season(Opening, Enrolment, Tickets, Reimbursement):
    """One campaign season against running services."""

    async def run(self) -> SeasonOutcome:
        # Idle connections are dropped before the services' own keep-alive (uvicorn: 5 s) can close them
        # under a request, which would cut off a POST that is not safe to send again.
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(keepalive_expiry=2)) as self.http:
            await self.preflight()
            await self.publish()
            await self.affiliate()
            await self.enrol()
            await self.validate()
            await self.wallets_ready()
            await self.credit()
            await self.print_and_void()
            await self.redeem()
            await self.reimburse()
            await self.settle()
        return self.outcome
