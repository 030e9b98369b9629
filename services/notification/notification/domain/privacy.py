"""A family's data in this service (issue 13): whom each message is about, the copies of guardians'
addresses, what a person's export shows, and what a message keeps once its personal data is erased
(at the campaign's purge, at a family's erasure, or at the end of its retention).

A message keeps its template, state, attempts, dates and campaign (the delivery figures read nothing
else), and a subject whose personal parts are masked (`Content.impersonal`); it loses its recipient,
bodies, attachment, sealed secret and the ids of whom it was about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .contents import READERS, Reader, Template


@dataclass(frozen=True)
class About:
    """The applications, wallets and family accounts a message is about: an erasure names them."""

    application_ids: tuple[str, ...] = ()
    wallet_ids: tuple[str, ...] = ()
    family_subs: tuple[str, ...] = ()

    @classmethod
    def of(cls, application_ids: Iterable[str | None] = (), wallet_ids: Iterable[str | None] = (),
           family_subs: Iterable[str | None] = ()) -> About:
        def distinct(ids: Iterable[str | None]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(i for i in ids if i))

        return cls(distinct(application_ids), distinct(wallet_ids), distinct(family_subs))

    def __or__(self, other: About) -> About:
        return About.of((*self.application_ids, *other.application_ids), (*self.wallet_ids, *other.wallet_ids),
                        (*self.family_subs, *other.family_subs))


@dataclass(frozen=True)
class FamilyCopy:
    """What the service keeps of an application to write to its guardian (ApplicationSubmitted,
    PassGranted)."""

    application_id: str
    campaign_id: str
    guardian_email: str
    family_sub: str | None = None

    @property
    def about(self) -> About:
        return About.of([self.application_id], family_subs=[self.family_sub])


@dataclass(frozen=True)
class WalletCopy:
    """What the service keeps of a wallet to write to its guardian (WalletCreated): the address and
    the pupil's first name, for the e-mails about its tickets."""

    wallet_id: str
    application_id: str
    campaign_id: str
    guardian_email: str
    student_first_name: str
    family_sub: str | None = None

    @property
    def about(self) -> About:
        return About.of([self.application_id], [self.wallet_id], [self.family_sub])


# Why a message's personal data went: the reason a message not yet sent fails with.
PURGED = "effacé avant envoi (purge de la campagne)"
ERASED = "effacé avant envoi (demande d'effacement de la famille)"
FORGOTTEN = "oublié avant envoi (fin de conservation)"


@dataclass(frozen=True)
class Person:
    """Whom an export is about: a family account, or a guardian's address, and what the copies
    know of them (their addresses, applications, wallets, family accounts)."""

    emails: tuple[str, ...] = ()
    application_ids: tuple[str, ...] = ()
    wallet_ids: tuple[str, ...] = ()
    family_subs: tuple[str, ...] = ()

    def wrote_to(self, recipient: str | None) -> bool:
        return recipient is not None and recipient in self.emails


@dataclass(frozen=True)
class KeptMessage:
    """A message as the log keeps it, for a person's export."""

    message_id: str
    template: Template
    recipient: str | None
    subject: str | None
    impersonal_subject: str | None
    text: str | None
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    campaign_id: str | None
    about: About = field(default_factory=About)


@dataclass(frozen=True)
class ExportedMessage:
    """A message in a person's export. One written to them shows its recipient, subject and body as the
    log keeps them (a link or code replaced by its placeholder); one written to someone else about
    them (the correspondent's digest that lists the pupil among others, the organisation told of a
    cancellation) shows who it went to and its subject without personal parts, never its body, which
    may be about other families too."""

    message: KeptMessage
    to_them: bool
    person: Person

    @property
    def about(self) -> About:
        """Whom it is about, as far as it is this person: a digest names other families' files too."""
        mine = self.message.about
        return About(tuple(i for i in mine.application_ids if i in self.person.application_ids),
                     tuple(i for i in mine.wallet_ids if i in self.person.wallet_ids),
                     tuple(i for i in mine.family_subs if i in self.person.family_subs))

    @property
    def written_to(self) -> Reader:
        return READERS[self.message.template]

    @property
    def recipient(self) -> str | None:
        return self.message.recipient if self.to_them else None

    @property
    def subject(self) -> str | None:
        return self.message.subject if self.to_them else self.message.impersonal_subject

    @property
    def body(self) -> str | None:
        return self.message.text if self.to_them else None


@dataclass(frozen=True)
class KeptCopy:
    """A copy of a guardian's address the service keeps, for a person's export."""

    kind: str  # application | wallet
    id: str
    campaign_id: str | None
    email: str | None
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonalExport:
    family_sub: str | None
    email: str | None
    generated_at: datetime
    messages: tuple[ExportedMessage, ...]
    copies: tuple[KeptCopy, ...]


def export_of(person: Person, messages: Iterable[KeptMessage]) -> tuple[ExportedMessage, ...]:
    return tuple(ExportedMessage(m, person.wrote_to(m.recipient), person) for m in messages)


@dataclass(frozen=True)
class MessageFigures:
    """The delivery figures of a campaign (or of every message): unchanged by a purge or an erasure,
    which keep template, state and attempts."""

    campaign_id: str | None
    by_template: Mapping[str, Mapping[str, int]]  # template -> state -> messages
    attempts: int

    @property
    def by_state(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for states in self.by_template.values():
            for state, count in states.items():
                totals[state] = totals.get(state, 0) + count
        return totals

    @property
    def messages(self) -> int:
        return sum(self.by_state.values())
