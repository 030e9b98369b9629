"""Logins that can't be used against their owner, and client addresses that can't be forged
(issue 12), on the real service: its own process, real PostgreSQL and Kafka.

Every request of this test process comes from 127.0.0.1. To play several clients, the service
under test trusts 127.0.0.1 as its reverse proxy (CARNET_TRUSTED_PROXIES) and each request says
which client it forwards in X-Forwarded-For, as a gateway would. A service that trusts no proxy
ignores that header: every request is the one client 127.0.0.1, whatever it claims.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from stdnum import luhn

from carnet_contracts import events
from carnet_contracts.sealing import unseal

pytestmark = pytest.mark.integration

STRONG = "Tir-a-l'arc 92 Sceaux"
WRONG = "Mauvais-92-mdp"
CLIENT_ACCOUNT_LIMIT = 8  # failures of one client on one account before it is refused there (20 by default)
SPRAY_LIMIT = 5  # distinct accounts one client may fail on (the default)
FAST = {
    "CARNET_AFFILIATION_ARGON2_MEMORY_KIB": "8192",
    "CARNET_AFFILIATION_ARGON2_PARALLELISM": "1",
    "CARNET_AFFILIATION_LOGIN_CLIENT_ACCOUNT_LIMIT": str(CLIENT_ACCOUNT_LIMIT),
    "CARNET_AFFILIATION_LOGIN_MAX_DELAY_SECONDS": "1",
}


@pytest.fixture(scope="module")
def behind_proxy(stack):
    service = stack.service("affiliation", env={**FAST, "CARNET_TRUSTED_PROXIES": "127.0.0.1"}).start(timeout=120)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def direct(stack):
    service = stack.service("affiliation", env=FAST).start(timeout=120)
    yield service
    service.stop()


def new_siret() -> str:
    digits = str(uuid.uuid4().int)
    siren = digits[:8] + luhn.calc_check_digit(digits[:8])
    return siren + digits[8:12] + luhn.calc_check_digit(siren + digits[8:12])


async def create(http: httpx.AsyncClient, stack) -> dict:
    answer = await http.post("/v1/affiliates", headers=stack.auth("admin"), json={
        "name": f"Club {uuid.uuid4().hex[:6]}", "siret": new_siret(), "activity": "sport",
        "address": {"line": "1 rue du Stade", "postcode": "92160", "city": "Antony"},
        "contact_email": f"club-{uuid.uuid4().hex[:8]}@example.org", "iban": "FR7630006000011234567890189",
    })
    assert answer.status_code == 201, answer.text
    return answer.json()


async def activated(http: httpx.AsyncClient, stack) -> dict:
    created = await create(http, stack)
    invited = await stack.wait_for_event(
        events.AffiliateInvited.topic.name,
        lambda m: m["event_type"] == "AffiliateInvited" and m["data"]["affiliate_id"] == created["affiliate_id"],
    )
    token = unseal(invited["data"]["sealed_activation_token"], stack.secrets["CARNET_SEAL_KEY"])
    answer = await http.post("/v1/affiliates/activation", json={"token": token, "password": STRONG})
    assert answer.status_code == 200, answer.text
    return created


def log_in(http: httpx.AsyncClient, login: str, password: str, client: str | None = None):
    headers = {"X-Forwarded-For": client} if client else {}
    return http.post("/v1/auth/token", json={"login": login, "password": password}, headers=headers)


async def delayed_logins(http: httpx.AsyncClient) -> int:
    """How many logins the service held back so far (its Prometheus metric)."""
    metrics = (await http.get("/metrics")).text
    found = re.search(r"^carnet_affiliation_login_delay_seconds_count (\S+)$", metrics, flags=re.MULTILINE)
    return int(float(found.group(1))) if found else 0


async def test_the_owner_gets_in_after_an_attackers_failures_from_another_address(behind_proxy, stack):
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=60) as http:
        club = await activated(http, stack)
        attacker = "203.0.113.66"
        for _ in range(CLIENT_ACCOUNT_LIMIT):
            assert (await log_in(http, club["login"], WRONG, attacker)).status_code == 401
        # the attacker is now refused on this account, even with the right password, for a while it is told
        refused = await log_in(http, club["login"], STRONG, attacker)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "ACCOUNT_LOCKED"
        assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
        # the owner, from their own address, gets in with the right password
        owner = await log_in(http, club["login"], STRONG, "192.0.2.10")
        assert owner.status_code == 200, owner.text
        assert owner.json()["token_type"] == "bearer"
        # and so does this test process as itself (127.0.0.1): the failures were not counted against it
        assert (await log_in(http, club["login"], STRONG)).status_code == 200


async def test_a_client_spraying_many_accounts_is_slowed_then_refused_with_retry_after(behind_proxy, stack):
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=60) as http:
        logins = [(await create(http, stack))["login"] for _ in range(SPRAY_LIMIT + 1)]
        sprayer = "198.51.100.7"
        delayed_before = await delayed_logins(http)
        for login in logins[:SPRAY_LIMIT]:
            assert (await log_in(http, login, WRONG, sprayer)).status_code == 401
        # its fourth and fifth tries were held back (after three failures, whatever the account)
        assert await delayed_logins(http) - delayed_before == 2
        refused = await log_in(http, logins[-1], WRONG, sprayer)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "TOO_MANY_FAILED_LOGINS"
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["error"]["details"]["retry_after_seconds"] == int(refused.headers["Retry-After"])
        # another client trying the same account is not refused
        assert (await log_in(http, logins[-1], WRONG, "192.0.2.44")).status_code == 401


async def test_the_audit_trail_records_the_client_a_trusted_proxy_forwarded(behind_proxy, stack):
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=60) as http:
        club = await activated(http, stack)
        login = await log_in(http, club["login"], STRONG, "203.0.113.7")
        me = {"Authorization": f"Bearer {login.json()['access_token']}", "X-Forwarded-For": "203.0.113.7"}
        here = f"/v1/affiliates/{club['affiliate_id']}"
        sha256 = (await http.get(f"{here}/convention", headers=me)).json()["sha256"]
        assert (await http.post(f"{here}/convention/read", headers=me, json={"sha256": sha256})).status_code == 200
        trail = (await http.get(f"{here}/audit-trail", headers=stack.auth("admin"))).json()["items"]
        assert [(i["action"], i["client_address"]) for i in trail] == [("read", "203.0.113.7")]


async def test_without_a_trusted_proxy_a_forged_forwarded_address_is_ignored(direct, stack):
    """A sprayer that claims another address with each try is still one client, and is refused."""
    async with httpx.AsyncClient(base_url=direct.url, timeout=60) as http:
        logins = [(await create(http, stack))["login"] for _ in range(SPRAY_LIMIT + 1)]
        for n, login in enumerate(logins[:SPRAY_LIMIT]):
            assert (await log_in(http, login, WRONG, f"198.51.100.{n + 10}")).status_code == 401
        refused = await log_in(http, logins[-1], WRONG, "198.51.100.99")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "TOO_MANY_FAILED_LOGINS"
        assert int(refused.headers["Retry-After"]) > 0
