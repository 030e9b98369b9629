"""What the use cases of the events consumed share: every event that tells a person something becomes
one queued message (per person told), written in the consumer's transaction with the inbox row, so a
redelivered event is absorbed there; the unique (event_id, template) of the messages holds the line
besides, and a fact told once whatever event carries it (a redemption, a digest, a transfer) is keyed
by the fact (`fact_key`).

A secret the event carries sealed (activation token, one-time code, reset token) is unsealed here only
to check it can be printed, then kept sealed beside a body rendered with a placeholder in its place:
see domain/secrets.py. Each message also keeps whom it is about (`About`) for an erasure or an export,
and its subject with the personal parts masked, which is what remains once those are erased.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from carnet_contracts.envelope import Envelope

from ..domain import About, Content, NewMessage, RetentionPolicy, SealedSecret, SheetRequest, normalise_recipient
from ..rendering import Renderer
from ..store import NotificationUnitOfWork


class Notices:
    def __init__(self, renderer: Renderer, retention: RetentionPolicy, *, unseal: Callable[[str], str]):
        self.renderer = renderer
        self.retention = retention
        self.unseal = unseal

    def _checked(self, secret: SealedSecret) -> SealedSecret:
        """The secret, once known to unseal and print (else the event is refused and goes to the
        dead-letter topic); its clear value is dropped at once."""
        secret.printed(self.unseal(secret.sealed))
        return secret

    async def _queue(self, uow: NotificationUnitOfWork, envelope: Envelope, recipient: str, content: Content, *,
                     campaign_id: str | None = None, event_id: uuid.UUID | None = None,
                     attachment: SheetRequest | None = None, secret: SealedSecret | None = None,
                     about: About | None = None) -> None:
        campaign_id = campaign_id or envelope.campaign_id
        campaign = await uow.campaigns.get(campaign_id)
        await uow.messages.add(NewMessage(
            event_id=event_id or envelope.event_id,
            template=content.template,
            recipient=normalise_recipient(recipient),
            rendered=self.renderer.render(content),
            forget_at=self.retention.forget_at(campaign, envelope.occurred_at),
            campaign_id=campaign_id,
            source_event_id=envelope.event_id,
            attachment=attachment,
            secret=secret,
            about=about or About(),
            impersonal_subject=self.renderer.impersonal_subject(content),
        ))
