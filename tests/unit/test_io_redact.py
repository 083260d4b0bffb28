"""Phone numbers and IMEIs in intelligence notes are replaced by their pseudonyms, in every
way people write them; dates, times, counts and codes are left alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geointel.io.contacts import redact_numbers
from geointel.privacy import pseudonymise

KEY = bytes(range(32))


def p(number: str) -> str:
    return pseudonymise([number], KEY)[0]


@pytest.mark.parametrize(("text", "expected"), [
    # the forms the audit found left in place
    ("call +44 (0) 7700 900 126 now", f"call {p('07700900126')} now"),
    ("tel:07700.900.128", f"tel:{p('07700900128')}"),
    ("IMEI 35-209900-176148-1 seized", f"IMEI {p('352099001761481')} seized"),
    # and others
    ("+447700900126", p("07700900126")),
    ("0044 7700 900126", p("07700900126")),
    ("+44(0)7700-900-126.", f"{p('07700900126')}."),
    ("44 7700 900126", p("07700900126")),
    ("(01702) 215000 office", f"{p('01702215000')} office"),
    ("mob07700900126, or 07700 900127;", f"mob{p('07700900126')}, or {p('07700900127')};"),
    ("07700 900126 3 wraps", f"{p('07700900126')} 3 wraps"),
    ("handset 35 209900 176148 1 and 352099001761482",
     f"handset {p('352099001761481')} and {p('352099001761482')}"),
    # a few spaces around a separator, as people type them
    ("ring 07700  900126", f"ring {p('07700900126')}"),
    ("ring 07700 - 900126 or 07700 . 900 127", f"ring {p('07700900126')} or "
     f"{p('07700900127')}"),
])
def test_numbers_are_replaced_by_the_pseudonym_of_the_number(text: str, expected: str) -> None:
    assert redact_numbers(text, KEY) == expected


@pytest.mark.parametrize("text", [
    "3 wraps on 2018-10-01 at 14:00", "2018-10-01T14:02:22", "01/10/2018", "ref 12345678",
    "£1,000,000 and 10.5kg", "LSOA E01015814, ATCO 0100BRP90312, NaPTAN 150000001234",
    "grid 575000 190000", "grading 2BP", "line 0123 and 456", "S0001 and R00001",
])
def test_dates_times_counts_and_codes_are_kept(text: str) -> None:
    assert redact_numbers(text, KEY) == text


_SEPARATORS = st.sampled_from([" ", "", "-", ".", "  ", " - ", " . "])


@st.composite
def written_mobile(draw: st.DrawFn) -> tuple[str, str]:
    """A UK mobile number (07700 900xxx, Ofcom's drama range) as someone might type it."""
    last = draw(st.integers(0, 999))
    canonical = f"07700900{last:03d}"
    national = canonical[1:]
    prefix = draw(st.sampled_from(["0", "+44 ", "+44", "0044 ", "+44 (0) ", "+44(0)", "tel:0",
                                   "44 "]))
    groups = draw(st.sampled_from([[national], [national[:4], national[4:]],
                                   [national[:4], national[4:7], national[7:]]]))
    sep = draw(_SEPARATORS)
    return prefix + sep.join(groups), canonical


@settings(max_examples=200, derandomize=True, deadline=None)
@given(written_mobile(), st.sampled_from(["seen with {} at", "{}", "call {}.", "({})", "x {}, y"]))
def test_no_written_form_of_a_number_survives(number: tuple[str, str], frame: str) -> None:
    written, canonical = number
    out = redact_numbers(frame.format(written), KEY)
    assert p(canonical) in out
    assert not re.search(r"900\D?\d{3}", out.replace(p(canonical), ""))
