import uuid
from datetime import UTC, date, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notification.domain import (
    MASK,
    AffiliateContactChanged,
    AffiliateIbanChanged,
    AffiliateInvitation,
    AffiliateLoginReminder,
    ApplicationReceived,
    ApplicationRejected,
    BroadcastText,
    ConventionOtp,
    ConventionSigned,
    CorrespondentDigest,
    IbanChangeOtp,
    PassExpiryReminder,
    PasswordReset,
    RedemptionCancelled,
    ReimbursementPaid,
    Template,
    TicketRedeemed,
    TicketReplaceRefused,
    TicketsSheet,
    WaitingLine,
    WalletReady,
)
from notification.rendering import (
    Attachment,
    Branding,
    Renderer,
    build_email,
    euros,
    french_date,
    french_datetime,
    wire_bytes,
)

AT = datetime(2026, 11, 27, 13, 5, tzinfo=UTC)
FAMILY = dict(
    guardian_first_name="Léa",
    guardian_last_name="Martin",
    student_first_name="Noé",
    student_last_name="Martin",
)
SAMPLES = {
    Template.APPLICATION_RECEIVED: ApplicationReceived(**FAMILY, campaign_label="2026-2027"),
    Template.WALLET_READY: WalletReady(
        **FAMILY,
        allowance_cents=7000,
        tickets_per_pass=7,
        ticket_min_cents=500,
        ticket_max_cents=7000,
        pass_valid_until=date(2027, 3, 31),
    ),
    Template.APPLICATION_REJECTED: ApplicationRejected(**FAMILY, reason="Élève non scolarisé"),
    Template.TICKETS_SHEET: TicketsSheet(positions=(1, 3), pass_valid_until=date(2027, 3, 31)),
    Template.AFFILIATE_INVITATION: AffiliateInvitation(
        affiliate_name="Judo Club", login="judo-club", activation_link="https://p/a?token=T0k"
    ),
    Template.CONVENTION_OTP: ConventionOtp(affiliate_name="Judo Club", otp="042917", expires_at=AT),
    Template.CONVENTION_SIGNED: ConventionSigned(affiliate_name="Judo Club", signed_at=AT),
    Template.PASSWORD_RESET: PasswordReset(login="judo-club", reset_link="https://p/r?token=R3s"),
    Template.REIMBURSEMENT_PAID: ReimbursementPaid(
        affiliate_name="Judo Club", amount_cents=12050, ticket_count=3, paid_on=date(2027, 4, 2)
    ),
    Template.AFFILIATE_LOGIN_REMINDER: AffiliateLoginReminder(
        affiliate_name="Judo Club", login="judo-club", campaign_label="2026-2027"
    ),
    Template.BROADCAST: BroadcastText(subject="Lancement de la campagne", body="Bonjour,\n\nà vous."),
    Template.CORRESPONDENT_DIGEST: CorrespondentDigest(
        school_name="Collège Paul Éluard", total_waiting=3, oldest_waiting_days=12,
        waiting=(WaitingLine("Durand", "Élodie", "paper", date(2026, 11, 15), 12),
                 WaitingLine("Martin", "Noé", "online", date(2026, 11, 26), 1)),
    ),
    Template.TICKET_REDEEMED: TicketRedeemed(
        student_first_name="Noé", affiliate_name="Judo Club", amount_cents=1000, redeemed_at=AT, code_suffix="7K2Q"
    ),
    Template.PASS_EXPIRY_REMINDER: PassExpiryReminder(
        student_first_name="Noé", valid_until=date(2027, 3, 31), credited_unspent_cents=2000, remaining_cents=1500
    ),
    Template.TICKET_REPLACE_REFUSED: TicketReplaceRefused(
        student_first_name="Noé", affiliate_name="Judo Club", redeemed_at=AT
    ),
    Template.REDEMPTION_CANCELLED: RedemptionCancelled(
        affiliate_name="Judo Club", amount_cents=3000, reason="Ticket accepté par erreur", then="void",
        cancelled_at=AT,
    ),
    Template.AFFILIATE_CONTACT_CHANGED: AffiliateContactChanged(
        affiliate_name="Judo Club", new_contact_email="tresorier@judo.example", changed_at=AT
    ),
    Template.IBAN_CHANGE_OTP: IbanChangeOtp(
        affiliate_name="Judo Club", otp="318274", new_iban_suffix="4321", expires_at=AT
    ),
    Template.AFFILIATE_IBAN_CHANGED: AffiliateIbanChanged(affiliate_name="Judo Club", iban_suffix="4321", changed_at=AT),
}
# what the reader must find in both the text and the HTML part
MUST_SAY = {
    Template.APPLICATION_RECEIVED: ["Noé Martin", "bien reçu"],
    Template.WALLET_READY: ["porte-monnaie électronique", "70\u00a0€", "31 mars 2027"],
    Template.APPLICATION_REJECTED: ["Élève non scolarisé"],
    Template.TICKETS_SHEET: ["pièce jointe", "1, 3"],
    Template.AFFILIATE_INVITATION: ["judo-club", "https://p/a?token=T0k"],
    Template.CONVENTION_OTP: ["042917", "27 novembre 2026 à 14 h 05"],
    Template.CONVENTION_SIGNED: ["espace affilié est ouvert"],
    Template.PASSWORD_RESET: ["https://p/r?token=R3s"],
    Template.REIMBURSEMENT_PAID: ["120,50\u00a0€", "2 avril 2027"],
    Template.AFFILIATE_LOGIN_REMINDER: ["judo-club", "2026-2027"],
    Template.BROADCAST: ["à vous."],
    # oldest first, with their age; the dates as carnet_contracts.display writes them
    Template.CORRESPONDENT_DIGEST: ["3 inscriptions", "Collège Paul Éluard", "Durand Élodie", "15/11/2026",
                                    "depuis 12 jours", "bulletin papier", "depuis 1 jour", "et 1 autre",
                                    "une fois par semaine"],
    Template.TICKET_REDEEMED: ["Judo Club", "10\u00a0€", "27/11/2026 à 14 h 05", "Noé"],
    Template.PASS_EXPIRY_REMINDER: ["31/03/2027", "35\u00a0€", "20\u00a0€", "15\u00a0€"],
    Template.TICKET_REPLACE_REFUSED: ["déjà été utilisé", "Judo Club", "27/11/2026 à 14 h 05"],
    Template.REDEMPTION_CANCELLED: ["30\u00a0€", "Ticket accepté par erreur", "ne peut plus être utilisé",
                                    "27/11/2026 à 14 h 05"],
    Template.AFFILIATE_CONTACT_CHANGED: ["tresorier@judo.example", "Judo Club", "Numéro Vert"],
    Template.IBAN_CHANGE_OTP: ["318274", "4321", "27/11/2026 à 14 h 05"],
    Template.AFFILIATE_IBAN_CHANGED: ["4321", "prochain lot de remboursement"],
}

renderer = Renderer(Branding())


def test_every_template_has_a_sample_of_its_own_content():
    assert set(SAMPLES) == set(Template)
    assert all(content.template is template for template, content in SAMPLES.items())


@pytest.mark.parametrize("template", list(Template))
def test_each_template_renders_subject_text_and_phone_readable_html(template):
    rendered = renderer.render(SAMPLES[template])
    assert rendered.subject and "\n" not in rendered.subject
    for part in (rendered.text, rendered.html):
        for words in MUST_SAY[template]:
            assert words in part
    assert "Numéro Vert" in rendered.text
    assert 'name="viewport"' in rendered.html and "max-width:600px" in rendered.html
    assert "{{" not in rendered.text + rendered.html


@pytest.mark.parametrize("template", list(Template))
def test_the_subject_kept_after_an_erasure_names_nobody(template):
    content = SAMPLES[template]
    kept = renderer.impersonal_subject(content)
    assert kept and "\n" not in kept
    for name in content.personal:
        value = getattr(content, name)
        if isinstance(value, str):
            assert value not in kept
    for person in ("Noé", "Martin", "Léa", "Élodie", "tresorier@judo.example", "accepté par erreur"):
        assert person not in kept
    if any(isinstance(getattr(content, n), str) and getattr(content, n) in renderer.render(content).subject
           for n in content.personal):
        assert MASK in kept


def test_the_new_sheet_after_a_replacement_says_the_old_ticket_no_longer_works():
    rendered = renderer.render(TicketsSheet(positions=(4,), replaced=True, student_first_name="Noé"))
    assert rendered.subject == "Pass Hauts-de-Seine : votre nouveau ticket en pièce jointe"
    for part in (rendered.text, rendered.html):
        assert "déclaré perdu ou volé" in part and "ne fonctionne plus" in part and "nouveau code" in part


def test_a_staff_cancellation_says_whether_the_ticket_may_be_used_again():
    content = SAMPLES[Template.REDEMPTION_CANCELLED]
    again = renderer.render(RedemptionCancelled(**{**content.variables(), "then": "redeemable"}))
    assert "peut de nouveau être utilisé" in again.text and "ne peut plus" not in again.text


def test_people_written_text_is_escaped_in_html():
    rendered = renderer.render(
        ApplicationRejected(**FAMILY, reason='<script>alert("x")</script>')
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert '<script>alert("x")</script>' in rendered.text


def test_broadcast_body_keeps_its_paragraphs_in_html():
    rendered = renderer.render(BroadcastText(subject="s", body="Un\ndeux\n\n<trois>"))
    assert "Un<br>deux</p>" in rendered.html
    assert "&lt;trois&gt;" in rendered.html


def test_email_is_alternative_text_and_html_with_the_pdf_attached():
    mail = build_email(
        renderer.render(SAMPLES[Template.TICKETS_SHEET]),
        sender="Pass Hauts-de-Seine <ne-pas-repondre@pass.example>",
        recipient="lea@example.fr",
        message_id=uuid.UUID(int=7),
        sender_domain="pass.example",
        sent_at=AT,
        attachments=(Attachment("tickets.pdf", b"%PDF-1.4\n%%EOF\n"),),
    )
    parsed = message_from_bytes(wire_bytes(mail), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/pdf",
    ]
    assert parsed["To"] == "lea@example.fr"
    assert parsed["Subject"] == "Pass Hauts-de-Seine : vos 2 tickets en pièce jointe"
    assert parsed["Message-ID"] == f"<{uuid.UUID(int=7)}@pass.example>"
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "tickets.pdf"
    assert attachment.get_content() == b"%PDF-1.4\n%%EOF\n"


def test_email_without_attachment_is_multipart_alternative():
    mail = club_email(SAMPLES[Template.CONVENTION_OTP])
    assert mail.get_content_type() == "multipart/alternative"


def test_amounts_are_written_the_french_way():
    assert euros(7000) == "70\u00a0€"
    assert euros(1250) == "12,50\u00a0€"
    assert euros(215500000) == "2\u202f155\u202f000\u00a0€"


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=10**11))
def test_euros_reads_back_to_the_same_cents(cents):
    text = euros(cents).replace("\u00a0€", "").replace("\u202f", "")
    whole, _, rest = text.partition(",")
    assert int(whole) * 100 + int(rest or 0) == cents


def test_dates_and_times_are_written_in_french_in_paris_time():
    assert french_date(date(2014, 6, 1)) == "1er juin 2014"
    assert french_date(date(2015, 3, 31)) == "31 mars 2015"
    # 23:30 UTC on 31 March is already 1 April in Paris
    assert french_datetime(datetime(2027, 3, 31, 23, 30, tzinfo=UTC)) == "1er avril 2027 à 1 h 30"


def test_content_variables_are_its_fields_only_so_it_can_be_rebuilt_from_them():
    # regression: ClassVar `template` leaked into variables() and broke WalletReady(**granted)
    for content in SAMPLES.values():
        assert type(content)(**content.variables()) == content


def test_long_subject_reads_back_without_a_leading_space():
    # regression: "Subject:\r\n Pass Hauts-de-Seine : rappel ..." parsed as " Pass ..."
    content = AffiliateLoginReminder(affiliate_name="Judo", login="judo", campaign_label="2026-2027")
    mail = club_email(content)
    parsed = message_from_bytes(wire_bytes(mail), policy=policy.default)
    assert parsed["Subject"] == "Pass Hauts-de-Seine : rappel de vos identifiants pour la campagne 2026-2027"


def _invitation_mail():
    return club_email(SAMPLES[Template.AFFILIATE_INVITATION])


def club_email(content):
    """The e-mail of `content` to an organisation, as the delivery worker builds it."""
    return build_email(renderer.render(content), sender="ne-pas-repondre@pass.example", recipient="club@example.fr",
                       message_id=uuid.uuid4(), sender_domain="pass.example", sent_at=AT)


def test_links_travel_as_written_to_a_server_that_takes_8bit():
    raw = wire_bytes(_invitation_mail())
    assert b"https://p/a?token=T0k\r\n" in raw
    assert "organismes affiliés".encode() in raw
    parsed = message_from_bytes(raw, policy=policy.default)
    assert "https://p/a?token=T0k" in parsed.get_body(("plain",)).get_content()


def test_a_server_without_8bitmime_gets_7bit_that_reads_back_the_same():
    raw = wire_bytes(_invitation_mail(), eight_bit=False)
    raw.decode("ascii")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert "organismes affiliés" in parsed.get_body(("plain",)).get_content()
    assert "https://p/a?token=T0k" in parsed.get_body(("plain",)).get_content()


def test_a_body_with_lines_longer_than_smtp_allows_is_not_sent_8bit():
    rendered = renderer.render(BroadcastText(subject="s", body="é" * 2000))
    mail = build_email(
        rendered, sender="a@pass.example", recipient="b@example.fr", message_id=uuid.uuid4(),
        sender_domain="pass.example", sent_at=AT,
    )
    raw = wire_bytes(mail)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = message_from_bytes(raw, policy=policy.default)
    assert "é" * 2000 in parsed.get_body(("plain",)).get_content()
