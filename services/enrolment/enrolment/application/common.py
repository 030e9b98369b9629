"""Refusals and access rules the use cases of several aggregates share."""

from __future__ import annotations

from carnet_runtime import Refusal
from carnet_runtime.auth import Principal


def unknown_campaign(campaign_id: str) -> Refusal:
    return Refusal("UNKNOWN_CAMPAIGN", "Cette campagne du Pass n'existe pas.", {"campaign_id": campaign_id})


def unknown_school(school_id: str) -> Refusal:
    return Refusal("UNKNOWN_SCHOOL", "Ce collège n'est pas connu du Pass : vérifiez le collège choisi.",
                   {"school_id": school_id})


def unknown_application(application_id: str) -> Refusal:
    return Refusal("UNKNOWN_APPLICATION", "Cette inscription n'existe pas.", {"application_id": application_id})


def check_correspondent_of(actor: Principal, school_id: str, *, admin_too: bool = False) -> None:
    """Only the correspondent of that school (and, where said, the admin) acts on its applications."""
    if actor.role == "correspondent" and actor.school_id == school_id:
        return
    if admin_too and actor.role == "admin":
        return
    raise Refusal("NOT_SCHOOL_CORRESPONDENT", "Seul le correspondant de ce collège peut traiter ses inscriptions.",
                  {"school_id": school_id})
