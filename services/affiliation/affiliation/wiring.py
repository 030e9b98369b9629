"""What the routes, consumers and background tasks share: settings, the runtime's service,
the password hashing, the affiliate token signer and the convention in force."""

from __future__ import annotations

from dataclasses import dataclass

from carnet_runtime import Service
from carnet_runtime.auth import TokenSigner

from .domain.account import PasswordHashing
from .domain.convention import ConventionDocument
from .settings import AffiliationSettings


@dataclass
class Affiliation:
    settings: AffiliationSettings
    service: Service
    hashing: PasswordHashing
    signer: TokenSigner
    convention: ConventionDocument
