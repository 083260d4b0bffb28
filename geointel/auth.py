"""Roles and what each may reach: the one table the app and the exporters both enforce.

Three roles: the police ``analyst`` (contact networks, lines, targeting), the partnership
``planner`` (aggregated harm, access, siting) and the ``viewer`` (published briefings only).
A capability is ``"page:<name>"`` or ``"export:<kind>"``. The app lists and routes only
the pages a role may use; the library functions behind exports call :func:`check_role`
with the role they are given, so an export cannot be reached around the app.

Examples
--------
>>> allowed("planner", "page:siting"), allowed("viewer", "page:lines")
(True, False)
>>> check_role("viewer", "export:contacts")
Traceback (most recent call last):
...
geointel.errors.AccessDenied: the viewer role may not use export:contacts (allowed: analyst)
"""

from __future__ import annotations

from geointel.errors import AccessDenied, ValidationError

ROLES = ("analyst", "planner", "viewer")

#: capability -> roles allowed. Anything not listed is allowed to nobody.
CAPABILITIES: dict[str, frozenset[str]] = {
    "page:overview": frozenset({"analyst", "planner"}),
    "page:harm": frozenset({"analyst", "planner"}),
    "page:access": frozenset({"planner"}),
    "page:siting": frozenset({"planner"}),
    "page:lines": frozenset({"analyst"}),
    "page:targeting": frozenset({"analyst"}),
    "page:briefing": frozenset({"analyst", "planner", "viewer"}),
    "page:data": frozenset({"analyst", "planner"}),
    # police-only material: contact networks, lines, rankings, OFFICIAL-SENSITIVE packs
    "export:contacts": frozenset({"analyst"}),
    "export:lines": frozenset({"analyst"}),
    "export:police_briefing": frozenset({"analyst"}),
    # aggregated, disclosure-controlled partner material (OFFICIAL)
    "export:harm": frozenset({"analyst", "planner"}),
    "export:access": frozenset({"planner"}),
    "export:siting": frozenset({"planner"}),
    "export:partner_briefing": frozenset({"analyst", "planner"}),
    # briefings already published to the viewer area
    "export:published_briefing": frozenset({"analyst", "planner", "viewer"}),
}


def _known_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


def allowed(role: str, capability: str) -> bool:
    """Whether ``role`` may use ``capability`` (unknown capabilities: nobody)."""
    return _known_role(role) in CAPABILITIES.get(capability, frozenset())


def check_role(role: str, capability: str) -> None:
    """Raise :class:`~geointel.errors.AccessDenied` unless ``role`` may use ``capability``."""
    if not allowed(role, capability):
        roles = ", ".join(sorted(CAPABILITIES.get(capability, frozenset()))) or "nobody"
        raise AccessDenied(f"the {role} role may not use {capability} (allowed: {roles})")


def pages_for(role: str) -> list[str]:
    """Page names ``role`` may open, in the order the app lists them.

    >>> pages_for("viewer")
    ['briefing']
    """
    return [c.removeprefix("page:") for c in CAPABILITIES
            if c.startswith("page:") and allowed(role, c)]
