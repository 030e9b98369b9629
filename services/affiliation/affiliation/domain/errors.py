"""Refusals: a stable code for machines, a French sentence for people."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A rule said no. Raised before anything changes, so a refusal changes nothing."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.details = details or {}

    def __repr__(self) -> str:  # never the message: it may quote what a person typed
        return f"Refusal({self.code})"


def field_problems(problems: dict[str, str]) -> dict[str, Any]:
    """Details in the shape every Carnet service uses for input errors: the offending fields."""
    return {"fields": [{"field": field, "problem": problem} for field, problem in problems.items()]}
