"""AppTest smoke test of the Overview page on the synced SET area."""

from __future__ import annotations

from pathlib import Path

import pytest

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.mirror


def test_overview_shows_the_set_area():
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    at.session_state["role"] = "planner"
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # SET = Southend (107) + Thurrock (98) + Essex (872) LSOAs; Census 2011 residents.
    assert metrics["LSOAs"] == "1,077"
    assert metrics["Residents (Census 2011)"] == "1,724,950"
    assert metrics["Local authorities"] == "14"
    table = at.dataframe[0].value
    assert table.loc[table["lad_code"] == "E06000033", "population"].item() == 173658


def test_overview_outcome_measures_match_the_library():
    from geointel import access, harm
    from geointel.area import build_area
    from geointel.io.deaths import read_deaths
    from geointel.io.police_uk import read_police_uk, select_crime_types
    from geointel.io.services import read_services
    from geointel.settings import load_settings

    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    at.session_state["role"] = "planner"
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    cfg = load_settings(env={})
    lsoas = build_area(cfg.areas, data_dir=cfg.data_dir).lsoas
    drugs = select_crime_types(read_police_uk(cfg.data_dir / "police_uk").data, ["Drugs"])
    in_area = int(harm.count_by_area(drugs, lsoas)["count"].sum())
    assert metrics["Drug offences (2018-10 to 2019-02)"] == f"{in_area:,}"
    deaths = read_deaths(cfg.samples_dir / "deaths.csv").data
    dead = deaths.loc[(deaths["category"] == "death")
                      & deaths["lsoa_code"].isin(lsoas["lsoa_code"])]
    # the total goes out only if the ward table may publish it: on the sample two
    # authorities have so few deaths that their own total would give their wards away
    wards = harm.partner_deaths(deaths, lsoas, threshold=cfg.suppression_threshold)
    expected = ("withheld (small numbers)" if wards.attrs["total"] is None
                else f"{int(dead['count'].sum()):,}")
    assert metrics["Drug deaths (2016-01 to 2019-02)"] == expected
    services = read_services(cfg.samples_dir / "services.csv").data
    table = access.lsoa_access(lsoas, services.loc[services["kind"].isin(
        ["naloxone", "pharmacy"])], kinds=["naloxone", "pharmacy"])
    share = access.coverage(table, threshold_m=1000, kinds=["any"])["share"].item()
    assert metrics["Population within 1,000 m of a naloxone point or pharmacy"] == (
        f"{share:.1%}")
    # the sample's disruption log: four lines acted against, one moderate, none closed
    assert (metrics["Lines disrupted"], metrics["Lines closed"],
            metrics["Major disruptions"], metrics["Moderate disruptions"]) == ("4", "0", "0", "1")
    assert len(at.get("vega_lite_chart")) == 3


@pytest.mark.parametrize(("role", "shown"), [
    (None, "Please sign in."),
    ("viewer", "Your role (viewer) may not open this page."),
])
def test_overview_refuses_other_roles(role, shown):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    if role:
        at.session_state["role"] = role
    at.run()
    assert [e.value for e in at.error] == [shown]
    assert not at.metric


def _register(tmp_path: Path, rows: list[str]) -> str:
    path = tmp_path / "deaths.csv"
    path.write_text("record_id,date,lsoa_code,count,category\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")
    return str(path)


def test_overview_counts_people_in_death_rows_of_a_loaded_register(tmp_path):
    # E01015814 is in Southend; W01000001 (Wales) is outside the Area; the overdose is
    # not a death. Deaths in the Area: 3 + 2 people = 5, from 2018-11 to 2019-01.
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    at.session_state["role"] = "planner"
    at.session_state["deaths_register"] = _register(tmp_path, [
        "D1,2018-11-03,E01015814,3,death", "D2,2019-01,E01015814,2,death",
        "D3,2019-01-20,E01015814,4,non_fatal_overdose", "D4,2018-12,W01000001,6,death"])
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drug deaths (2018-11 to 2019-01)"] == "5"


def test_overview_says_so_when_the_register_has_no_deaths(tmp_path):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    at.session_state["role"] = "planner"
    at.session_state["deaths_register"] = _register(tmp_path, [
        "N1,2018-11-03,E01015814,2,non_fatal_overdose"])
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drug deaths"] == "none in the register"
    assert any("no rows of category 'death' (it holds: non_fatal_overdose)" in i.value
               for i in at.info)
    assert len(at.get("vega_lite_chart")) == 2  # offences and disruptions; no deaths chart


def test_overview_withholds_a_deaths_total_that_would_give_the_months_away(tmp_path):
    # one death in each of two months: with the total (2) shown, each hidden month is 1
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    at.session_state["role"] = "planner"
    at.session_state["deaths_register"] = _register(tmp_path, [
        "D1,2018-11-03,E01015814,1,death", "D2,2019-01-09,E01015814,1,death"])
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drug deaths (2018-11 to 2019-01)"] == "withheld (small numbers)"
