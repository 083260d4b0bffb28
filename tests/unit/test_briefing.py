"""Briefing packs: builders on small frames, rendering (PDF, HTML, PNG, data), roles,
disclosure control, publishing, the packs on the sample and the ``brief`` verb."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from geointel import briefing as br
from geointel.errors import AccessDenied, PrivacyError, ValidationError
from geointel.maps import MapLayer
from geointel.privacy import check_no_small_counts, partner_layers

POLICE, PARTNER = "OFFICIAL-SENSITIVE", "OFFICIAL"
DATE = "2019-02-28"
A4_LANDSCAPE = (842, 595)


def _ranked(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"line_id": [f"LINE-{i}" for i in range(n)],
                         "rank": list(range(n, 0, -1)),
                         "band": ["high"] + ["low"] * (n - 1),
                         "priority": [10.0 * (i + 1) + 0.123 for i in range(n)],
                         "group_id": ["GRP-1", "GRP-2"] * (n // 2) + ["GRP-1"] * (n % 2)})


def _wards(counts: list[int]) -> gpd.GeoDataFrame:
    n = len(counts)
    return gpd.GeoDataFrame(
        {"code": [f"E0500000{i}" for i in range(n)], "name": [f"Ward {i}" for i in range(n)],
         "count": counts, "rate": [c / 2.0 for c in counts]},
        geometry=[box(580000 + 1000 * i, 180000, 581000 + 1000 * i, 181000) for i in range(n)],
        crs="EPSG:27700")


def _links() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"line_id": ["LINE-2"], "exporter_la": ["London"],
                             "importer_la": ["E06000033"]},
                            geometry=[LineString([(530000, 180000), (588000, 186000)])],
                            crs="EPSG:27700")


def _operation() -> br.Briefing:
    return br.operation_briefing(_ranked(), marking=POLICE, links=_links(), date=DATE)


def _board(counts: list[int] | None = None) -> br.Briefing:
    sites = gpd.GeoDataFrame({"site_id": ["C1"], "name": ["Sample library"], "status": ["new"],
                              "weight_covered": [1200.0], "postcode": ["SS1 1AA"]},
                             geometry=[Point(588000, 186000)], crs="EPSG:27700")
    return br.board_briefing(_wards(counts or [0, 2, 7, 12, 30, 3, 9]), marking=PARTNER,
                             threshold=5, sites=sites, date=DATE)


def _pdf_pages(data: bytes) -> list:
    from io import BytesIO

    from pypdf import PdfReader

    return list(PdfReader(BytesIO(data)).pages)


class _Links(HTMLParser):
    """Every src/href attribute of the document's elements, and url(...) of its CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]


def _remote_references(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    remote = [u for u in parser.urls if u.lower().startswith(("http:", "https:", "//"))]
    return remote + [m for m in ("url(http", "url(//", "@import") if m in page]


# --- builders ---------------------------------------------------------------------------

def test_operation_briefing_ranks_in_order_and_counts_lines_bands_and_groups():
    b = _operation()
    table = b.tables["ranked_lines"]
    assert table["line_id"].tolist() == ["LINE-2", "LINE-1", "LINE-0"]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["priority"].tolist() == [30.12, 20.12, 10.12]
    figures = dict(b.key_figures)
    assert figures["Lines ranked"] == "3"
    assert figures["Top-ranked line"] == "LINE-2"
    assert (figures["Lines in band high"], figures["Lines in band low"]) == ("1", "2")
    assert figures["Groups running them"] == "2"
    assert [layer.sensitivity for layer in b.layers] == ["police"]
    assert b.audience == "police" and b.capability == "export:police_briefing"


def test_operation_briefing_keeps_only_the_top_rows_but_counts_every_line():
    b = br.operation_briefing(_ranked(30), marking=POLICE, top=20)
    assert len(b.tables["ranked_lines"]) == 20
    assert dict(b.key_figures)["Lines ranked"] == "30"


def test_operation_briefing_needs_line_id_and_rank():
    with pytest.raises(ValidationError, match="line_id and rank"):
        br.operation_briefing(pd.DataFrame({"line_id": ["A"]}), marking=POLICE)


def test_board_briefing_suppresses_small_counts_and_blanks_their_rates():
    b = _board()
    harm = b.layers[0].frame
    count, rate = "drug offences", "offences per 1000 residents"
    for table in [*b.tables.values(), harm]:
        if count in table.columns:
            check_no_small_counts(table, columns=[count], threshold=5)
    shown = harm.set_index("name")
    assert shown.loc["Ward 4", count] == 30 and shown.loc["Ward 0", count] == 0
    for small in ("Ward 1", "Ward 5"):  # 2 and 3: hidden with their rates
        assert pd.isna(shown.loc[small, count]) and pd.isna(shown.loc[small, rate])
    # secondary suppression: the total (63) less the visible counts cannot give one cell
    hidden = shown[count].isna()
    assert hidden.sum() >= 2
    assert dict(b.key_figures)["Drug offences (police.uk)"] == "63"
    assert dict(b.key_figures)["Wards with offence counts suppressed (small numbers)"] == (
        f"{int(hidden.sum())} of 7")
    assert dict(b.key_figures)["Highest offence rate (ward)"] == "Ward 4"
    # the legend and the cover say what the grey areas are
    assert b.layers[0].no_value == "suppressed (1 to 4, or hidden to protect them)"
    cover = " ".join(b.sections[0].text)
    assert f"{int(hidden.sum())} of 7 wards have their offence count suppressed" in cover


def test_board_briefing_withholds_a_total_that_would_give_hidden_counts_away():
    # deaths of 1 in each of three wards: with the total (3) published, every hidden cell
    # would be exactly 1, so the pack goes out without the total instead of failing
    from geointel.harm import suppress_small

    raw = _wards([1, 1, 1, 0, 0, 0, 0])
    with pytest.raises(ValidationError, match="partner_deaths"):
        br.board_briefing(_wards([0, 2, 7]), marking=PARTNER, threshold=5,
                          deaths_areas=raw, date=DATE)
    deaths = suppress_small(raw, threshold=5)
    b = br.board_briefing(_wards([0, 2, 7, 12, 30, 3, 9]), marking=PARTNER, threshold=5,
                          deaths_areas=deaths, date=DATE)
    figures = dict(b.key_figures)
    assert figures["Drug deaths in the register"] == "withheld (small numbers)"
    assert figures["Drug offences (police.uk)"] == "63"  # that total protects its cells
    dead = next(layer.frame for layer in b.layers if "deaths" in layer.name)
    assert dead["drug deaths"].isna().sum() == 3
    assert (dead["drug deaths"].dropna() == 0).all()


def test_board_briefing_states_provenance_period_and_units_and_rounds_for_reading():
    wards = _wards([47, 79, 0, 12]).assign(rate=[9.96607294317218, 7.744339, 0.0, 1.0])
    gaps = pd.DataFrame({"rank": [1], "lsoa_code": ["E01021680"],
                         "lsoa_name": ["Colchester 004B"], "distance_m": [1839.586768],
                         "excess_m": [239.586768], "population": [2826.0],
                         "nearest": ["S0155"]})
    b = br.board_briefing(wards, marking=PARTNER, threshold=5, gaps=gaps, gap_threshold_m=1600,
                          period="Oct 2018 to Feb 2019", provenance="Partner data are "
                          "SYNTHETIC.", date=DATE)
    figures = dict(b.key_figures)
    assert figures["Drug offences (police.uk, Oct 2018 to Feb 2019)"] == "138"
    assert figures["LSOAs beyond 1.6 km of any service"] == "1"
    assert b.sections[0].text[0] == "Partner data are SYNTHETIC."
    harm = b.tables["drug_offences_by_ward_highest_rates"]
    assert list(harm.columns) == ["name", "code", "drug offences",
                                  "offences per 1000 residents"]
    assert harm["offences per 1000 residents"].tolist() == [9.97, 7.74, 1.0, 0.0]
    gap = b.tables["access_gaps_lsoas_beyond_1_6_km_of_any_service_most_residents_first"]
    assert gap.iloc[0].to_dict() == {
        "rank": 1, "LSOA": "E01021680", "name": "Colchester 004B",
        "distance to nearest service (m)": 1840, "beyond the threshold (m)": 240,
        "residents": 2826, "nearest service": "S0155"}
    text = " ".join(" ".join(p.extract_text().split())
                    for p in _pdf_pages(br.briefing_pdf(b, role="planner")))
    assert "Partner data are SYNTHETIC." in text and "Oct 2018 to Feb 2019" in text
    assert "offences per 1000 residents" in text and "distance to nearest service (m)" in text
    assert "9.97" in text and "1,840" in text and "2,826" in text
    assert "9.966" not in text and "1839.5" not in text and "2826.0" not in text


def test_board_briefing_shows_places_not_addresses():
    b = _board()
    sites = next(layer for layer in b.layers if layer.name == "Recommended new sites")
    assert "postcode" not in sites.frame.columns
    assert "postcode" not in b.tables["siting_recommendation"].columns
    assert partner_layers(b.layers) == b.layers


def test_a_partner_briefing_refuses_a_police_layer_and_point_level_offences():
    police = MapLayer("Line footprints", _wards([10]), "choropleth", column="count",
                      sensitivity="police")
    with pytest.raises(PrivacyError, match="police-only"):
        br.Briefing("Board", "partner", PARTNER, (br.Section("Map", layers=(police,)),))
    offences = gpd.GeoDataFrame({"crime_type": ["Drugs"]}, geometry=[Point(588000, 186000)],
                                crs="EPSG:27700")
    points = MapLayer("Drug offences", offences, "points")
    with pytest.raises(PrivacyError, match="point-level"):
        br.Briefing("Board", "partner", PARTNER, (br.Section("Map", layers=(points,)),))
    # the police pack may hold both
    b = br.Briefing("Op", "police", POLICE, (br.Section("Map", layers=(police, points)),))
    assert len(b.layers) == 2


def test_an_unknown_audience_is_refused():
    with pytest.raises(ValidationError, match="audience"):
        br.Briefing("X", "public", PARTNER, ())  # type: ignore[arg-type]


# --- roles --------------------------------------------------------------------------------

@pytest.mark.parametrize(("make", "refused"), [(_operation, ["planner", "viewer"]),
                                               (_board, ["viewer"])])
def test_wrong_role_is_refused_before_anything_is_written(tmp_path, make, refused):
    b = make()
    for role in refused:
        for render in (br.briefing_pdf, br.briefing_html, br.briefing_png):
            with pytest.raises(AccessDenied, match=b.capability):
                render(b, role=role)
        with pytest.raises(AccessDenied, match=b.capability):
            br.write_pack(b, tmp_path / role, role=role)
        assert not (tmp_path / role).exists()


# --- rendering ----------------------------------------------------------------------------

@pytest.mark.parametrize(("make", "role", "marking"), [(_operation, "analyst", POLICE),
                                                       (_board, "planner", PARTNER)])
def test_pdf_is_a4_landscape_marked_on_every_page_with_sources_and_date_last(make, role,
                                                                              marking):
    b = make()
    pages = _pdf_pages(br.briefing_pdf(b, role=role))
    assert len(pages) == br.page_count(b)
    for page in pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == \
            A4_LANDSCAPE
        assert page.extract_text().count(marking) >= 2  # top and bottom
    last = " ".join(pages[-1].extract_text().split())
    assert f"Prepared: {DATE}" in last
    assert "Contains OS data © Crown copyright" in last
    assert "Open Government Licence" in last


def test_a_long_table_runs_over_several_pages():
    b = br.operation_briefing(_ranked(40), marking=POLICE, top=40, date=DATE)
    pages = _pdf_pages(br.briefing_pdf(b, role="analyst"))
    assert br.page_count(b) == len(pages) == 1 + 3 + 1  # cover, 40 rows at 18 a page, sources
    texts = [p.extract_text() for p in pages]
    assert "Ranked lines (1/3)" in texts[1] and "Ranked lines (3/3)" in texts[3]
    assert "LINE-0" in texts[3]  # rank 40 on the last table page


def test_write_pack_writes_pdf_offline_html_png_and_marked_data(tmp_path):
    b = _board()
    paths = br.write_pack(b, tmp_path, role="planner")
    assert set(paths) >= {"briefing.pdf", "map.html", "map.png", "briefing.gpkg",
                          "MARKING.txt", "summary.json", "siting_recommendation.csv",
                          "drug_offences_by_ward_highest_rates.csv",
                          "drug_offences_per_1_000_residents_by_ward.geojson"}
    assert all(p.is_file() and p.parent == tmp_path for p in paths.values())
    assert paths["briefing.pdf"].read_bytes()[:5] == b"%PDF-"
    assert paths["map.png"].read_bytes()[:4] == b"\x89PNG"
    page = paths["map.html"].read_text(encoding="utf-8")
    assert _remote_references(page) == []
    assert page.count(f">{PARTNER}</div>") == 2
    assert "Sample library" in page
    summary = json.loads(paths["summary.json"].read_text())
    assert summary["marking"] == PARTNER and summary["audience"] == "partner"
    assert summary["key_figures"]["Recommended new sites"] == "1"
    wards = gpd.read_file(paths["briefing.gpkg"],
                          layer="drug_offences_per_1_000_residents_by_ward")
    assert set(wards["marking"]) == {PARTNER}
    check_no_small_counts(wards, columns=["drug offences"], threshold=5)
    csv = pd.read_csv(paths["drug_offences_by_ward_highest_rates.csv"])
    check_no_small_counts(csv, columns=["drug offences"], threshold=5)
    assert set(csv["marking"]) == {PARTNER}


def test_untrusted_text_is_escaped_in_the_html_map():
    ranked = _ranked()
    links = _links().assign(line_id=["<script>alert(1)</script>"])
    b = br.operation_briefing(ranked, marking=POLICE, links=links, date=DATE)
    page = br.briefing_html(b, role="analyst")
    assert "<script>alert(1)" not in page


def test_a_pack_without_layers_has_no_map_files(tmp_path):
    b = br.operation_briefing(_ranked(), marking=POLICE, date=DATE)
    paths = br.write_pack(b, tmp_path, role="analyst")
    assert "briefing.pdf" in paths and "map.html" not in paths and "map.png" not in paths
    with pytest.raises(ValidationError, match="no map layers"):
        br.briefing_html(b, role="analyst")


# --- publishing -------------------------------------------------------------------------

def test_publish_a_partner_pack_and_list_it(tmp_path):
    root = tmp_path / "published"
    folder = br.publish_pack(_board(), root, role="planner", name="2019-02-28 board SET")
    assert folder == root / "2019_02_28_board_set"
    packs = br.published_packs(root)
    assert [p.name for p in packs] == ["2019_02_28_board_set"]
    assert packs[0].marking == PARTNER and packs[0].date == DATE
    assert packs[0].files == ("briefing.pdf", "map.html", "map.png")
    assert dict(packs[0].key_figures)["Drug offences (police.uk)"] == "63"
    with pytest.raises(PrivacyError, match="police pack"):
        br.publish_pack(_operation(), root, role="analyst", name="op")
    with pytest.raises(AccessDenied):
        br.publish_pack(_board(), root, role="viewer", name="v")
    assert [p.name for p in br.published_packs(root)] == ["2019_02_28_board_set"]


# --- the packs on the sample ------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_settings():
    from geointel.settings import load_settings

    s = load_settings(env={})
    if not (s.samples_dir / "contacts.csv").is_file():
        pytest.skip("the sample is not built (geointel sample build)")
    return s


@pytest.fixture(scope="module")
def operation(sample_settings):
    return br.operation_pack(sample_settings)


@pytest.fixture(scope="module")
def board(sample_settings):
    return br.board_pack(sample_settings)


@pytest.fixture(scope="module")
def detected(sample_settings):
    """The lines analyse_lines finds on the sample, and the truth's lines mapped onto them."""
    from geointel.io.contacts import read_contacts
    from geointel.network.pipeline import analyse_lines
    from geointel.privacy import load_key, pseudonymise
    from geointel.scoring import line_of_handsets

    key = load_key(sample_settings.resolved_key_file())
    contacts = read_contacts(sample_settings.samples_dir / "contacts.csv", key=key).data
    lines = analyse_lines(contacts, seed=sample_settings.seed).lines
    truth = pd.read_csv(sample_settings.samples_dir / "truth" / "lines.csv", dtype=str)
    line_of = line_of_handsets(lines)
    truth["detected"] = [line_of[pseudonymise([h.split(";")[0]], key)[0]]
                         for h in truth["handsets"]]
    return lines, truth.sort_values("harm_rank", key=lambda r: r.astype(int))


@pytest.mark.slow
@pytest.mark.sample
def test_operation_pack_ranks_the_detected_lines_most_harmful_first(operation, detected):
    lines, truth = detected
    table = operation.tables["ranked_lines"]
    assert sorted(table["line_id"]) == sorted(lines["line_id"])
    assert dict(operation.key_figures)["Lines ranked"] == str(len(lines))
    assert table["line_id"].iloc[0] == truth["detected"].iloc[0]  # the truth's harm rank 1
    assert table["line_id"].tolist()[:2] == truth["detected"].tolist()[:2]
    assert operation.marking == POLICE
    assert {layer.sensitivity for layer in operation.layers} == {"public", "police"}
    links = next(layer for layer in operation.layers if layer.kind == "lines")
    assert len(links.frame) == len(lines)


@pytest.mark.slow
@pytest.mark.sample
def test_operation_pack_ranks_with_the_intelligence_register(operation, sample_settings):
    """As the Targeting page ranks: intel scored as evidence (not the lines' own sums), 500
    draws; before, the pack ranked without the register and every line was 'medium'."""
    from geointel.io.contacts import read_contacts, read_intel
    from geointel.network.pipeline import analyse_lines
    from geointel.privacy import load_key
    from geointel.scoring import load_scheme, rank_lines, without_intel

    key = load_key(sample_settings.resolved_key_file())
    contacts = read_contacts(sample_settings.samples_dir / "contacts.csv", key=key).data
    intel = read_intel(sample_settings.samples_dir / "intel.csv", key=key).data
    lines = analyse_lines(contacts, intel=intel, seed=sample_settings.seed).lines
    want = rank_lines(without_intel(lines), load_scheme(), seed=sample_settings.seed,
                      intel=intel, draws=500).table
    blind = rank_lines(lines, load_scheme(), seed=sample_settings.seed, draws=500).table
    got = operation.tables["ranked_lines"]
    cols = ["rank", "line_id", "band", "confidence", "rank_low", "rank_high"]
    pd.testing.assert_frame_equal(got[cols].reset_index(drop=True),
                                  want.sort_values("rank")[cols].reset_index(drop=True),
                                  check_dtype=False)
    assert (got["confidence"] == "high").sum() > (blind["confidence"] == "high").sum()


@pytest.mark.slow
@pytest.mark.sample
def test_board_pack_says_the_partner_data_are_synthetic_and_what_the_figures_cover(board):
    import re

    text = " ".join(" ".join(p.extract_text().split())
                    for p in _pdf_pages(br.briefing_pdf(board, role="planner")))
    assert ("are the embedded sample: SYNTHETIC — not real data; generated by geointel.samples"
            in text)
    assert "police.uk, Oct 2018 to Feb 2019" in text  # the synced months
    assert "Drug deaths in the register, Jan 2016 to Feb 2019" in text
    hidden, wards = dict(board.key_figures)[
        "Wards with offence counts suppressed (small numbers)"].split(" of ")
    assert f"{hidden} of {wards} wards have their offence count suppressed" in text
    assert "offences per 1000 residents" in text and "residents newly covered" in text
    # numbers are rounded for reading: no float noise such as 9.96607294317218 or 2826.0
    assert not re.search(r"\d\.\d{4,}", text)
    assert not re.search(r"\b\d{3,}\.0\b", text)
    # and the offline map says it too, with the suppression in its legend
    page = br.briefing_html(board, role="planner")
    assert "SYNTHETIC" in page and "suppressed (1 to 4, or hidden to protect them)" in page


@pytest.mark.slow
@pytest.mark.sample
def test_board_pack_is_disclosure_controlled(board, sample_settings):
    threshold = sample_settings.suppression_threshold
    assert board.audience == "partner" and board.marking == PARTNER
    assert partner_layers(board.layers) == board.layers
    assert not [layer.name for layer in board.layers if layer.sensitivity == "police"]
    for layer in board.layers:
        personal = any(w in layer.name.lower() for w in ("offence", "death"))
        assert not (personal and layer.kind == "points"), layer.name
        shown = sorted({"drug offences", "drug deaths"} & set(layer.frame.columns))
        if shown:
            check_no_small_counts(layer.frame, columns=shown, threshold=threshold)
    counts = {"drug offences", "drug deaths", "residents", "residents newly covered"}
    for name, table in board.tables.items():
        cols = sorted(counts & set(table.columns))
        assert cols, name
        check_no_small_counts(table, columns=cols, threshold=threshold)
    figures = dict(board.key_figures)
    assert int(figures["Recommended new sites"]) == 3
    hidden, wards = figures["Wards with offence counts suppressed (small numbers)"].split(" of ")
    assert 0 < int(hidden) < int(wards)
    with pytest.raises(PrivacyError):
        br.Briefing(board.title, "partner", board.marking,
                    (*board.sections, br.Section("Lines", layers=(MapLayer(
                        "Exporter to importer links", _links(), "lines",
                        sensitivity="police"),))))


@pytest.mark.slow
@pytest.mark.sample
def test_sample_packs_render_marked_a4_pages_and_offline_maps(operation, board, tmp_path):
    for b, role in ((operation, "analyst"), (board, "planner")):
        paths = br.write_pack(b, tmp_path / b.audience, role=role)
        pages = _pdf_pages(paths["briefing.pdf"].read_bytes())
        assert len(pages) == br.page_count(b)
        for page in pages:
            assert abs(float(page.mediabox.width) - 842) <= 1
            assert abs(float(page.mediabox.height) - 595) <= 1
            assert b.marking in page.extract_text()
        last = " ".join(pages[-1].extract_text().split())
        assert f"Prepared: {b.date}" in last and "Contains OS data" in last
        assert _remote_references(paths["map.html"].read_text(encoding="utf-8")) == []
        assert {"briefing.gpkg", "map.png", "summary.json"} <= set(paths)


# --- the brief verb -----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.sample
def test_brief_verb_writes_the_operation_pack(tmp_path, capsys, sample_settings, operation):
    from geointel.cli import main

    code = main(["brief", "--kind", "operation", "--out", str(tmp_path), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["marking"] == POLICE and summary["role"] == "analyst"
    assert summary["pages"] == br.page_count(operation)
    assert summary["lines_ranked"] == int(dict(operation.key_figures)["Lines ranked"])
    assert summary["ranked_lines"] == operation.tables["ranked_lines"]["line_id"].tolist()
    for name in ("briefing.pdf", "map.html", "map.png", "briefing.gpkg", "ranked_lines.csv"):
        assert Path(summary["files"][name]).is_file()
    assert len(_pdf_pages((tmp_path / "briefing.pdf").read_bytes())) == summary["pages"]


def test_brief_verb_needs_a_kind(capsys):
    from geointel.cli import main

    assert main(["brief"]) == 2
    assert main(["brief", "--kind", "public"]) == 2
