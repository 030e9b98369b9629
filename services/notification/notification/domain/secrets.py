"""Secrets a message carries to its reader (an activation or reset link's token, a one-time code),
and how they are never kept in clear.

The message is rendered and stored with a placeholder where the secret goes (« [lien retiré] »,
« [code retiré] »): that redacted body is all the log ever holds. The secret itself stays sealed as it
arrived on Kafka (carnet_contracts.sealing) beside the message, is unsealed and put in the
placeholder's place only in the e-mail handed to the SMTP server, and its sealed form is dropped as
soon as the message is sent or has failed for good.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import StrEnum

from carnet_runtime import Refusal

from .contents import RenderedMessage


class SecretKind(StrEnum):
    LINK = "link"  # a one-time link: the configured page, ending ?token=<secret>
    CODE = "code"  # a one-time code, printed as it is


PLACEHOLDERS = {SecretKind.LINK: "[lien retiré]", SecretKind.CODE: "[code retiré]"}

_LINKABLE_TOKEN = re.compile(r"[A-Za-z0-9_\-.~=]+")


def link_with_token(base_url: str, token: str) -> str:
    """The one-time link a person clicks: the configured page, ending in ?token=<token>.

    Tokens are URL-safe by construction on the affiliation side; anything else is refused
    rather than silently re-encoded into a link that would not work.
    """
    if not token or not _LINKABLE_TOKEN.fullmatch(token):
        raise Refusal("TOKEN_NOT_LINKABLE", "Le lien d'activation ne peut pas être construit.")
    return f"{base_url.rstrip('?')}?token={token}"


@dataclass(frozen=True)
class SealedSecret:
    """A secret as it arrived on Kafka, sealed; `link_base` is the page a link's token completes."""

    kind: SecretKind
    sealed: str
    link_base: str | None = None

    @classmethod
    def link(cls, sealed: str, base_url: str) -> SealedSecret:
        return cls(SecretKind.LINK, sealed, base_url)

    @classmethod
    def code(cls, sealed: str) -> SealedSecret:
        return cls(SecretKind.CODE, sealed)

    @property
    def placeholder(self) -> str:
        """What the stored body says where the secret goes."""
        return PLACEHOLDERS[self.kind]

    def printed(self, unsealed: str) -> str:
        """What the reader gets in the placeholder's place: the link, or the code."""
        if self.kind is SecretKind.LINK:
            return link_with_token(self.link_base or "", unsealed)
        return unsealed

    def reveal(self, redacted: RenderedMessage, unsealed: str) -> RenderedMessage:
        """The message to hand to the SMTP server, the secret in its place (escaped in the HTML part).
        Never stored: the caller keeps `redacted`."""
        if self.placeholder not in redacted.text or self.placeholder not in redacted.html:
            raise ValueError(f"the {self.kind} placeholder is missing from the rendered message")
        printed = self.printed(unsealed)
        return RenderedMessage(
            subject=redacted.subject,
            text=redacted.text.replace(self.placeholder, printed),
            html=redacted.html.replace(self.placeholder, html.escape(printed, quote=True)),
        )
