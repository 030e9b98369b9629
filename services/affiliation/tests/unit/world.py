"""The affiliation service's use cases on the in-memory unit of work, with a clock the test moves."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from carnet_contracts.sealing import seal
from carnet_runtime.auth import TokenSigner, ensure_keypair

from affiliation import application as use_cases
from affiliation.application.accounts import SetPassword
from affiliation.application.organisations import CreateAffiliate
from affiliation.domain.account import PasswordHashing, TokenPurpose
from affiliation.domain.convention import ConventionDocument, OtpPolicy
from affiliation.domain.keyed_hash import KeyedHash
from affiliation.domain.login import LoginPolicy
from affiliation.domain.organisation import Address, Affiliate
from affiliation.domain.sepa import Debtor

from .fakes import FakeAffiliationUnitOfWork, FakeClock, Sleeps

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
SEAL_KEY = "seal-key-" + "1" * 32
KEYED = KeyedHash("secret-key-" + "2" * 32)
STRONG = "Tir-a-l'arc 92 Sceaux"
DOCUMENT = ConventionDocument(version="2026-1", text="Convention d'affiliation au Pass.\nArticle 1 ...")
SIRETS = ["73282932000074", "55208131766522", "35600000000048", "44306184100047"]
IBANS = ["FR7630006000011234567890189", "DE89370400440532013000", "FR1420041010050500013M02606",
         "GB82WEST12345698765432"]


class World:
    def __init__(self, keys_dir: Path, *, login_policy: LoginPolicy | None = None,
                 otp_policy: OtpPolicy | None = None) -> None:
        self.clock = FakeClock(NOW)
        self.sleeps = Sleeps()
        self.uow = FakeAffiliationUnitOfWork()
        sealed = functools.partial(seal, key=SEAL_KEY)
        self.organisations = use_cases.Organisations(keyed=KEYED, seal=sealed, activation_ttl=timedelta(days=7),
                                                     clock=self.clock)
        self.accounts = use_cases.Accounts(
            hashing=PasswordHashing(time_cost=1, memory_cost_kib=1024, parallelism=1), keyed=KEYED, seal=sealed,
            tokens=use_cases.AffiliateTokens(TokenSigner(ensure_keypair(keys_dir, "affiliation")), 3600),
            login_policy=login_policy or LoginPolicy(), reset_ttl=timedelta(hours=1), clock=self.clock,
            sleep=self.sleeps,
        )
        self.otp_policy = otp_policy or OtpPolicy(keyed=KEYED)
        self.conventions = use_cases.Conventions(document=DOCUMENT, otp_policy=self.otp_policy, seal=sealed,
                                                 clock=self.clock)
        self.iban_changes = use_cases.IbanChanges(otp_policy=self.otp_policy, seal=sealed, clock=self.clock)
        self.privacy = use_cases.Privacy()
        self.campaigns = use_cases.Campaigns(clock=self.clock)
        self.reimbursements = use_cases.Reimbursements(
            debtor=Debtor("Département", "FR7630001007941234567890185", "BDFEFRPPCCT"), transfer_delay_days=2,
            clock=self.clock)

    async def affiliate(self, n: int = 0, *, name: str = "Club Sportif d'Antony") -> Affiliate:
        return await self.organisations.create(self.uow, CreateAffiliate(
            name=name, siret=SIRETS[n], activity="sport", address=Address("1 rue du Stade", "92160", "Antony"),
            contact_email=f"contact{n}@example.org", iban=IBANS[n]))

    def activation_token(self, affiliate_id: str) -> str:
        """What the notification service e-mails: the sealed token of the latest invitation, unsealed."""
        from carnet_contracts import events
        from carnet_contracts.sealing import unseal

        invited = [e for e in self.uow.of_type(events.AffiliateInvited) if e.affiliate_id == affiliate_id]
        return unseal(invited[-1].sealed_activation_token, SEAL_KEY)

    async def activated(self, n: int = 0) -> Affiliate:
        created = await self.affiliate(n)
        token = self.activation_token(created.affiliate_id)
        assert self.uow.data.tokens[KEYED.of("token", token)].purpose is TokenPurpose.ACTIVATION
        return await self.accounts.activate(self.uow, SetPassword(token, STRONG))
