"""The county-lines simulator: deterministic, drama-range numbers only, consistent truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geointel.errors import ValidationError
from geointel.network.simulate import (
    SYNTHETIC_TAC,
    _luhn_digit,
    simulate_county_lines,
)

DRAMA = r"07700900\d{3}|01632960\d{3}|02079460\d{3}|01134960\d{3}"


@pytest.fixture(scope="module")
def sim():
    return simulate_county_lines(seed=7, months=3)


def test_same_seed_same_data_other_seed_other_data():
    a = simulate_county_lines(seed=11, months=1)
    b = simulate_county_lines(seed=11, months=1)
    c = simulate_county_lines(seed=12, months=1)
    assert a.contacts.equals(b.contacts) and a.intel.equals(b.intel)
    assert not a.contacts.equals(c.contacts)


def test_only_drama_range_numbers_and_synthetic_imeis(sim):
    c = sim.contacts
    assert c["a_party"].str.fullmatch(DRAMA).all() and c["b_party"].str.fullmatch(DRAMA).all()
    assert sim.truth_handsets["handset"].str.fullmatch(DRAMA).all()
    imeis = c.loc[c["imei"] != "", "imei"].unique()
    assert all(i.startswith(SYNTHETIC_TAC) and len(i) == 15 for i in imeis)
    assert all(_luhn_digit(i[:14]) == int(i[14]) for i in imeis)
    assert (c["imei"] == "").equals(c["cell_id"] == "")  # landlines: no handset, no cell


def test_schema_and_values(sim):
    c = sim.contacts
    assert list(c.columns) == ["timestamp", "a_party", "b_party", "kind", "duration_s", "imei",
                               "cell_id", "cell_lat", "cell_lon"]
    ts = pd.to_datetime(c["timestamp"], format="ISO8601")
    assert ts.min() >= pd.Timestamp("2018-10-01") and ts.max() < pd.Timestamp("2019-01-01")
    assert set(c["kind"]) == {"call", "sms"}
    assert (c.loc[c["kind"] == "sms", "duration_s"] == 0).all()
    assert (c["a_party"] != c["b_party"]).all()
    assert set(sim.cells["cell_id"]) >= set(c.loc[c["cell_id"] != "", "cell_id"])


def test_truth_chains_holders_and_harm_order(sim):
    lines = sim.truth_lines.set_index("line_id")
    assert lines["handsets"].str.count(";").tolist() == [1, 2, 0, 1, 0, 1]
    th = sim.truth_handsets.set_index("handset")
    for row in lines.itertuples():
        assert (th.loc[row.handsets.split(";"), "role"] == "deal_line").all()
        assert th.loc[row.holder, "role"] == "holder"
        # the holder carries the line handsets: same person
        assert (th.loc[row.handsets.split(";"), "person_id"] == th.loc[row.holder,
                                                                        "person_id"]).all()
    # JAY (L2) has the most harm evidence (exploited children weigh 4): rank 1.
    assert lines.loc["L2", "harm_rank"] == 1 and sorted(lines["harm_rank"]) == [1, 2, 3, 4, 5, 6]
    assert lines.loc["L3", "disrupted_on"] != "" and (lines.drop("L3")["disrupted_on"] == "").all()
    assert set(sim.disruptions["grading"]) <= {"major", "moderate", "minor"}


def test_holder_never_contacts_own_line_and_demand_drops_after_disruption(sim):
    c = sim.contacts
    lines = sim.truth_lines.set_index("line_id")
    for row in lines.itertuples():
        chain = set(row.handsets.split(";"))
        between = ((c["a_party"] == row.holder) & c["b_party"].isin(chain)) | (
            (c["b_party"] == row.holder) & c["a_party"].isin(chain))
        assert not between.any()
    line = lines.loc["L3", "handsets"]
    when = pd.Timestamp(lines.loc["L3", "disrupted_on"])
    ts = pd.to_datetime(c["timestamp"])
    inbound = c["b_party"] == line
    start = pd.Timestamp("2018-10-01")
    before = (inbound & (ts < when)).sum() / (when - start).days
    after = (inbound & (ts >= when)).sum() / (pd.Timestamp("2019-01-01") - when).days
    assert after < 0.75 * before


def test_scale_beyond_drama_range_is_refused_unless_pseudonyms():
    with pytest.raises(ValidationError, match="drama range"):
        simulate_county_lines(seed=1, months=1, scale=3.0)
    big = simulate_county_lines(seed=1, months=1, scale=3.0, identifiers="pseudonym")
    assert big.contacts["a_party"].str.fullmatch(r"P[0-9a-f]{16}").all()
    assert np.isfinite(big.contacts["duration_s"]).all()
