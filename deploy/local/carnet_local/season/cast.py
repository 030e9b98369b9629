"""Who plays the season and how their details are made: names, towns of the Hauts-de-Seine, schools,
organisations, a SIRET and an IBAN that check, a code mistyped at a counter."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import UTC, date, datetime

from carnet_contracts.calendar import paris_day

LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
    "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
]
FIRST_NAMES = [
    "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Louis", "Emma", "Nathan", "Inès", "Enzo", "Camille", "Théo",
    "Sarah", "Jules", "Jade", "Gabriel", "Zoé", "Raphaël", "Lina", "Arthur", "Louise", "Adam", "Alice", "Noé",
    "Lola", "Tom", "Clara", "Mathis", "Anaïs", "Maël", "Juliette", "Paul", "Rose", "Sacha", "Ambre", "Nolan",
    "Élise", "Ethan", "Mila", "Yanis",
]
CITIES_92 = [
    ("92160", "Antony"), ("92000", "Nanterre"), ("92100", "Boulogne-Billancourt"), ("92130", "Issy-les-Moulineaux"),
    ("92330", "Sceaux"), ("92200", "Neuilly-sur-Seine"), ("92500", "Rueil-Malmaison"), ("92120", "Montrouge"),
    ("92290", "Châtenay-Malabry"), ("92140", "Clamart"),
]
SCHOOL_NAMES = [
    "Collège Anne Frank", "Collège La Fontaine", "Collège Henri Wallon", "Collège Victor Hugo", "Collège Jean Moulin",
    "Collège Marie Curie", "Collège Les Ormeaux", "Collège Paul Éluard", "Collège Romain Rolland", "Collège Jules Ferry",
]
AFFILIATE_KINDS = [
    ("sport", "Club de judo"), ("culture", "Conservatoire de musique"), ("sport", "Association de natation"),
    ("leisure", "Centre équestre"), ("culture", "Théâtre des Sources"), ("sport", "Tennis club"),
    ("science", "Club d'astronomie"), ("culture", "École de danse"), ("sport", "Football club"),
    ("leisure", "Atelier d'arts plastiques"),
]
LEVELS = ["6e", "5e", "4e", "3e"]
DEMO_PASSWORD = "Pass-Hauts-de-Seine-2014!"


def paris_today() -> date:
    return paris_day(datetime.now(UTC))


def siret_for(rng: random.Random) -> str:
    from stdnum import luhn

    siren = "".join(rng.choice("0123456789") for _ in range(8))
    siren += luhn.calc_check_digit(siren)
    siret = siren + "".join(rng.choice("0123456789") for _ in range(4))
    return siret + luhn.calc_check_digit(siret)


def iban_for(rng: random.Random) -> str:
    from schwifty import IBAN

    return IBAN.generate("FR", bank_code="30006", account_code="".join(rng.choice("0123456789") for _ in range(11))).compact


def mistype(code: str) -> str:
    """The code with one symbol changed, as a person typing it at the counter might."""
    from carnet_contracts.ticket_code import ALPHABET

    position = len(code) // 2
    wrong = ALPHABET[(ALPHABET.index(code[position]) + 1) % len(ALPHABET)]
    return code[:position] + wrong + code[position + 1:]


def displayed(code: str) -> str:
    """The code as a counter reads it off the sheet: groups of six, lower case, dashes."""
    return "-".join(code[i:i + 6] for i in range(0, len(code), 6)).lower()


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def topic(name: str) -> str:
    """A topic's name, as the contracts (and the environment) set it."""
    from carnet_contracts import topics

    return getattr(topics, name).name
