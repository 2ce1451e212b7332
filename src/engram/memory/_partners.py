"""The words for the user's partner ("my girlfriend", "my gf", "my wife") and how far on
each says the couple is: what the partner rules match, and what revision reads to tell a
partner's new role ("my girlfriend Ana", then "Ana and I got married") from a new partner."""

from __future__ import annotations

__all__ = ["PARTNERS", "partner_role", "partner_stage"]

PARTNERS = r"partner|wife|husband|girlfriend|boyfriend|gf|bf|fianc[ée]e?|spouse"
"""The words for the person of the `partner` slot ("gf" and "bf" as chat writes them)."""
_ABBREVIATED = {"gf": "girlfriend", "bf": "boyfriend"}
_PARTNER_STAGES = {
    "girlfriend": 1,
    "boyfriend": 1,
    "fiance": 2,
    "fiancee": 2,
    "fiancé": 2,
    "fiancée": 2,
    "wife": 3,
    "husband": 3,
    "spouse": 3,
}
"""How committed a partner role says the couple is (any other, "partner", says nothing)."""


def partner_role(word: str) -> str:
    """The role a partner word names ("Girlfriend" -> "girlfriend", "gf" -> "girlfriend")."""
    role = " ".join(word.lower().split())
    return _ABBREVIATED.get(role, role)


def partner_stage(role: str | None) -> int:
    """How far on a partner `role` is: 1 dating, 2 engaged, 3 married; 0 unknown
    ("partner"). A later role further on ("my girlfriend Ana", then "Ana and I got married")
    is news of the same partner: the old role is over."""
    return _PARTNER_STAGES.get(partner_role(role or ""), 0)
