import pytest

from carnet_runtime import Unauthenticated
from carnet_runtime.auth import TokenSigner, TokenVerifier, ensure_keypair
from redemption.api import VerifiedTokens


@pytest.fixture
def keys(tmp_path):
    return TokenSigner(ensure_keypair(tmp_path, "affiliation")), TokenVerifier(tmp_path)


def test_a_verified_token_is_remembered_and_gives_the_same_principal(keys):
    signer, verifier = keys
    tokens = VerifiedTokens()
    token = signer.sign(sub="s", role="affiliate", affiliate_id="aff-1")
    first = tokens.principal(token, verifier)
    assert first.affiliate_id == "aff-1"
    assert tokens.principal(token, TokenVerifier(verifier.keys_dir / "nowhere")) == first


def test_an_expired_or_forged_token_is_never_remembered(keys):
    signer, verifier = keys
    tokens = VerifiedTokens()
    with pytest.raises(Unauthenticated):
        tokens.principal(signer.sign(sub="s", role="affiliate", affiliate_id="a", ttl_seconds=-5), verifier)
    good = signer.sign(sub="s", role="affiliate", affiliate_id="a")
    header, payload, signature = good.split(".")
    with pytest.raises(Unauthenticated):
        tokens.principal(f"{header}.{payload}.{signature[:-4]}AAAA", verifier)


def test_a_remembered_token_is_checked_again_after_the_maximum_age(keys):
    signer, verifier = keys
    tokens = VerifiedTokens(max_age_seconds=0)
    token = signer.sign(sub="s", role="affiliate", affiliate_id="a")
    tokens.principal(token, verifier)
    with pytest.raises(Unauthenticated):  # the signing key is no longer trusted
        tokens.principal(token, TokenVerifier(verifier.keys_dir / "nowhere"))
