"""E-mail addresses Carnet can deliver to: checked by email-validator (the library behind pydantic's
EmailStr), internationalised addresses included (`élodie.durand@example.fr` is sent with SMTPUTF8).

No DNS look-up: a rule, not I/O. What no mail server could take is refused with a French reason:
no `@`, a domain without a dot or a reserved one (`localhost`, `.test`, `.invalid`, `.local`...), an
IP address, a quoted part or a display name, two dots in a row...
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

EXAMPLE = "prenom.nom@exemple.fr"


def _reason(error: EmailNotValidError, value: str) -> str:
    said = str(error)
    if "@" not in value:
        return f"adresse électronique incomplète : il manque le « @ » (exemple : {EXAMPLE})"
    if "after the @-sign" in said or "bracketed" in said.lower() or "domain" in said.lower():
        return ("cette adresse ne peut pas recevoir de courriel : le nom de domaine après le « @ » "
                f"n'est pas valide (exemple : {EXAMPLE})")
    return ("cette adresse ne peut pas recevoir de courriel : la partie avant le « @ » contient des caractères "
            f"ou une forme qu'aucune messagerie n'accepte (exemple : {EXAMPLE})")


def deliverable_email(value: str) -> tuple[str | None, str | None]:
    """(the address as it will be stored and written to, None) or (None, why it is refused, in French).

    The address is normalised the way mail servers compare them: the domain in lower case, the
    Unicode of both parts in NFC."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as error:
        return None, _reason(error, value)
    return checked.normalized, None
