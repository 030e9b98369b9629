"""A secret's placeholder in the stored body, and the secret back in its place only in the e-mail."""

from __future__ import annotations

import pytest

from notification.domain import (
    AffiliateInvitation,
    ConventionOtp,
    PasswordReset,
    RenderedMessage,
    SealedSecret,
)
from notification.rendering import Branding, Renderer

renderer = Renderer(Branding())
LINK = SealedSecret.link("sealed", "https://pass.example/activation?")
CODE = SealedSecret.code("sealed")


@pytest.mark.parametrize("secret, content", [
    (LINK, AffiliateInvitation(affiliate_name="Judo", login="judo", activation_link=LINK.placeholder)),
    (LINK, PasswordReset(login="judo", reset_link=LINK.placeholder)),
    (CODE, ConventionOtp(affiliate_name="Judo", otp=CODE.placeholder)),
])
def test_each_template_with_a_secret_renders_its_placeholder_and_the_mail_gets_the_secret_in_both_parts(
    secret, content
):
    redacted = renderer.render(content)
    assert secret.placeholder in redacted.text and secret.placeholder in redacted.html
    clear = renderer.render(type(content)(**{
        **content.variables(),
        **{k: secret.printed("T0k-1") for k, v in content.variables().items() if v == secret.placeholder},
    }))
    assert secret.reveal(redacted, "T0k-1") == clear


def test_a_link_is_escaped_in_the_html_part_as_the_template_would():
    secret = SealedSecret.link("sealed", "https://pass.example/a?campagne=1&x=2")
    revealed = secret.reveal(RenderedMessage("s", "[lien retiré]", '<a href="[lien retiré]">'), "T0k")
    assert revealed.text == "https://pass.example/a?campagne=1&x=2?token=T0k"
    assert revealed.html == '<a href="https://pass.example/a?campagne=1&amp;x=2?token=T0k">'


def test_a_body_without_its_placeholder_is_never_sent_without_its_secret():
    with pytest.raises(ValueError):
        CODE.reveal(RenderedMessage("s", "no code here", "<p>no code here</p>"), "042917")
