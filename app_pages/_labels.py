"""Words for what the pages count, so the same figure has the same label on every page."""

from __future__ import annotations

from collections.abc import Sequence

#: Service kinds of the register (geointel.io.services.KINDS) as readers say them.
KIND_NAMES = {"naloxone": "naloxone point", "pharmacy": "pharmacy",
              "treatment_hub": "treatment hub", "satellite": "satellite clinic",
              "outreach": "outreach base"}


def kinds_phrase(kinds: Sequence[str]) -> str:
    """``["naloxone", "pharmacy"]`` -> ``"a naloxone point or pharmacy"``.

    >>> kinds_phrase(["outreach"]), kinds_phrase(["naloxone", "pharmacy", "satellite"])
    ('an outreach base', 'a naloxone point, pharmacy or satellite clinic')
    """
    names = [KIND_NAMES.get(k, k.replace("_", " ")) for k in kinds]
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"{'an' if text[:1] in 'aeiou' else 'a'} {text}"


def coverage_label(threshold_m: float, kinds: Sequence[str]) -> str:
    """The label of a population-coverage figure (Overview and Access use it alike).

    >>> coverage_label(1000, ["naloxone", "pharmacy"])
    'Population within 1,000 m of a naloxone point or pharmacy'
    """
    return f"Population within {threshold_m:,.0f} m of {kinds_phrase(kinds)}"
