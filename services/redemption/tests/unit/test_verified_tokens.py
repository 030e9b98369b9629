import pytest

from carnet_runtime import Refusal
from carnet_runtime.auth import TokenSigner, TokenVerifier, ensure_keypair
from redemption.api import VerifiedTokens

AUDIENCE = ("affiliation", "redemption")


@pytest.fixture
def keys(tmp_path):
    return TokenSigner(ensure_keypair(tmp_path, "affiliation")), TokenVerifier(tmp_path, audience="redemption")


def sign(signer: TokenSigner, **claims) -> str:
    return signer.sign(sub="s", role="affiliate", audience=AUDIENCE, **claims)


def test_a_verified_token_is_remembered_and_gives_the_same_principal(keys):
    signer, verifier = keys
    tokens = VerifiedTokens()
    token = sign(signer, affiliate_id="aff-1")
    first = tokens.principal(token, verifier)
    assert first.affiliate_id == "aff-1"
    (verifier.keys_dir / "affiliation.pem").unlink()  # the private half is not what the verifier reads
    assert tokens.principal(token, verifier) == first


def test_an_expired_or_forged_token_is_never_remembered(keys):
    signer, verifier = keys
    tokens = VerifiedTokens()
    with pytest.raises(Refusal):
        tokens.principal(sign(signer, affiliate_id="a", ttl_seconds=-5), verifier)
    good = sign(signer, affiliate_id="a")
    header, payload, signature = good.split(".")
    with pytest.raises(Refusal):
        tokens.principal(f"{header}.{payload}.{signature[:-4]}AAAA", verifier)


def test_a_remembered_token_is_checked_again_after_the_maximum_age(keys):
    signer, verifier = keys
    tokens = VerifiedTokens(max_age_seconds=0)
    token = sign(signer, affiliate_id="a")
    tokens.principal(token, verifier)
    with pytest.raises(Refusal):  # the signing key is no longer trusted
        tokens.principal(token, TokenVerifier(verifier.keys_dir / "nowhere", audience="redemption"))


def test_a_remembered_token_stops_being_trusted_when_its_key_is_removed(keys):
    signer, verifier = keys
    tokens = VerifiedTokens(max_age_seconds=3600)
    token = sign(signer, affiliate_id="a")
    tokens.principal(token, verifier)
    (verifier.keys_dir / "affiliation.pub.pem").unlink()
    verifier._scanned_at -= verifier.refresh_seconds  # the verifier's refresh period has passed
    with pytest.raises(Refusal):
        tokens.principal(token, verifier)
