"""Every st.cache_* in the app lives here; pages call these, never the library directly
for anything expensive. Settings are passed explicitly (never mutated globally)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import streamlit as st

from geointel._progress import Progress
from geointel.area import Area, build_area
from geointel.io._table import ReadResult
from geointel.settings import Settings, load_settings

if TYPE_CHECKING:
    from geointel.briefing import Briefing
    from geointel.maps import MapLayer
    from geointel.network.pipeline import LinesResult
    from geointel.scoring import ScoredLines, TrackerResult
    from geointel.siting import SitingResult


@contextmanager
def progress_bar(label: str) -> Iterator[Progress]:
    """An ``st.progress`` bar for the duration of the block, and the library's ``progress``
    callback that moves it. Used *inside* the cached functions below: Streamlit records
    the bar with the function's other output, so a cache hit shows nothing and a miss
    shows the bar moving until the work is done."""
    bar = st.progress(0.0, text=label)

    def update(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / total) if total else 0.0, text=f"{label}: {message}")

    try:
        yield update
    finally:
        bar.empty()


def _stage(progress: Progress, start: int, span: int, total: int) -> Progress:
    """A callback reporting a sub-task's ``done/of`` as steps ``start..start+span`` of
    ``total``."""
    return lambda done, of, message: progress(start + (span * done // of if of else 0),
                                              total, message)


@st.cache_resource
def settings() -> Settings:
    """The deployment's settings (read once per server)."""
    return load_settings()


def register_path(cfg: Settings, kind: str) -> str:
    """The ``"services"`` or ``"deaths"`` register this session uses: one the user loaded on
    the Data page (``st.session_state["<kind>_register"]``), else the sample's."""
    return str(st.session_state.get(f"{kind}_register") or cfg.samples_dir / f"{kind}.csv")


@st.cache_resource(show_spinner="Building the area from open data…")
def area(codes: tuple[str, ...], data_dir: str) -> Area:
    """The Area for ``codes`` (frozen, shared read-only between sessions)."""
    from pathlib import Path

    return build_area(codes, data_dir=Path(data_dir))


# --- planner pages: overview, harm, access, siting, data (issue 7) -----------------------
# Inputs are plain hashable values (codes, paths as text, tuples); results are shared
# read-only, so pages never modify what these return.

#: Polygons drawn in the app's web maps are simplified to this tolerance (metres).
WEB_TOLERANCE_M = 15.0


@st.cache_resource(show_spinner="Reading police.uk files…")
def police(data_dir: str) -> ReadResult:
    """Every synced police.uk street-level row of ``data_dir/police_uk`` (with rejects)."""
    from geointel.io.police_uk import read_police_uk

    return read_police_uk(Path(data_dir) / "police_uk")


@st.cache_resource
def offences(data_dir: str, crime_types: tuple[str, ...]) -> pd.DataFrame:
    """The police.uk rows of ``crime_types`` (e.g. ``("Drugs",)``)."""
    from geointel.io.police_uk import select_crime_types

    return select_crime_types(police(data_dir).data, list(crime_types))


@st.cache_resource
def deaths(path: str) -> ReadResult:
    """A deaths/incidents register (the sample's ``deaths.csv`` by default)."""
    from geointel.io.deaths import read_deaths

    return read_deaths(Path(path))


@st.cache_resource
def services(path: str) -> ReadResult:
    """A services register (the sample's ``services.csv`` by default)."""
    from geointel.io.services import read_services

    return read_services(Path(path))


@st.cache_data
def disruption_outcomes(path: str) -> tuple[dict[str, int], pd.DataFrame]:
    """National outcome counts of a disruption log and its actions per month and grading.

    The sample log names its line in a ``line`` column; it is taken as ``line_id``. Only
    counts leave this function (the log itself identifies lines).
    """
    from geointel.scoring import national_counts, validate_disruption_log

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "line_id" not in frame.columns and "line" in frame.columns:
        frame = frame.rename(columns={"line": "line_id"})
    log = validate_disruption_log(frame)
    monthly = pd.crosstab(log["date"].dt.strftime("%Y-%m").rename("month"), log["grading"])
    return national_counts(log), monthly


@st.cache_resource(show_spinner="Placing LSOA polygons…")
def units(codes: tuple[str, ...], data_dir: str, level: str) -> gpd.GeoDataFrame:
    """Polygons of the Area at ``level`` (``code``, ``name``, ``lad_code``; LSOAs dissolved)."""
    from geointel.maps import area_polygons

    return area_polygons(area(codes, data_dir).lsoas, level, tolerance=WEB_TOLERANCE_M)


@st.cache_resource(show_spinner="Computing rates and hotspots…")
def harm_view(codes: tuple[str, ...], data_dir: str, lads: tuple[str, ...],
              crime_types: tuple[str, ...], start: str, end: str, level: str,
              deaths_path: str, suppression: int, seed: int) -> dict[str, pd.DataFrame]:
    """Rates at ``level``, deaths per 100,000 and LSOA Gi* bins for authorities ``lads``.

    Returns ``rates`` (ranked, with intervals and comparison), ``deaths`` (suppressed below
    ``suppression``) and ``lsoa`` (per LSOA: rate, ``gi_bin``, ``lisa_label``, IMD decile),
    all with the chosen authorities as benchmark.
    """
    from geointel import harm, hotspots

    every = area(codes, data_dir).lsoas
    lsoas = every.loc[every["lad_code"].isin(lads)].reset_index(drop=True)
    chosen = harm.select_period(offences(data_dir, crime_types), start=start, end=end)
    rates = harm.rate_table(chosen, lsoas, level=level)  # type: ignore[arg-type]
    # deaths by ward only, over the register's whole period (police months are few), and
    # the chosen authorities' rows of the one partner table, never a recount
    death_rates = harm.partner_deaths(deaths(deaths_path).data, every, threshold=suppression)
    death_rates = death_rates.loc[death_rates["lad_code"].isin(lads)].reset_index(drop=True)
    per_lsoa = rates if level == "lsoa" else harm.rate_table(chosen, lsoas)
    layer = lsoas[["lsoa_code", "lsoa_name", "ward_name", "lad_name", "imd_decile",
                   "geometry"]].merge(
        per_lsoa[["code", "count", "rate"]].rename(columns={"code": "lsoa_code"}),
        on="lsoa_code", how="left")
    layer["rate"] = layer["rate"].fillna(0.0)
    if len(layer) > 1:
        layer = layer.join(hotspots.getis_ord(layer, "rate", seed=seed, permutations=999))
        layer = layer.join(hotspots.local_moran(layer, "rate", seed=seed, permutations=999))
    else:
        layer["gi_bin"] = 0
        layer["lisa_label"] = hotspots.NOT_SIGNIFICANT
    return {"rates": rates, "deaths": death_rates, "lsoa": layer}


def export_files(*, layers: dict[str, gpd.GeoDataFrame], tables: dict[str, pd.DataFrame],
                 marking: str, role: str, capability: str, stem: str) -> dict[str, bytes]:
    """Files of :func:`geointel.exports.export_layers` (GeoPackage, GeoJSON per layer, CSVs,
    marking, summary) as bytes by file name, for download buttons; the role is checked
    there."""
    import tempfile

    from geointel.exports import export_layers

    with tempfile.TemporaryDirectory() as tmp:
        paths = export_layers(Path(tmp), layers=layers, tables=tables, marking=marking,
                              role=role, capability=capability,
                              formats=("gpkg", "geojson", "csv"), stem=stem)
        return {name: path.read_bytes() for name, path in paths.items()}


@st.cache_data(show_spinner="Writing the export…")
def harm_export(codes: tuple[str, ...], data_dir: str, lads: tuple[str, ...],
                crime_types: tuple[str, ...], start: str, end: str, level: str,
                deaths_path: str, suppression: int, seed: int, marking: str,
                role: str) -> dict[str, bytes]:
    """The :func:`harm_view` figures as ``harm.gpkg`` (rates at ``level``, LSOA Gi* bins)
    and CSVs (rates, deaths with small counts suppressed)."""
    view = harm_view(codes, data_dir, lads, crime_types, start, end, level, deaths_path,
                     suppression, seed)
    shapes = units(codes, data_dir, level)
    rates = shapes.loc[shapes["lad_code"].isin(lads), ["code", "geometry"]].merge(
        view["rates"], on="code")
    return export_files(layers={"rates": rates, "lsoa_hotspots": view["lsoa"]},
                        tables={"rates": view["rates"], "deaths": view["deaths"]},
                        marking=marking, role=role, capability="export:harm", stem="harm")


def _base(codes: tuple[str, ...], data_dir: str, lads: tuple[str, ...] | None = None) -> MapLayer:
    """The boundary base layer of a page map: the (chosen) local authorities' outlines."""
    from geointel.maps import boundary_layer

    shapes = units(codes, data_dir, "lad")
    if lads is not None:
        shapes = shapes.loc[shapes["code"].isin(lads)]
    return boundary_layer(shapes[["code", "name", "geometry"]])


@st.cache_resource(show_spinner="Drawing the map…")
def harm_map(codes: tuple[str, ...], data_dir: str, lads: tuple[str, ...],
             crime_types: tuple[str, ...], start: str, end: str, level: str,
             deaths_path: str, suppression: int, seed: int, marking: str) -> str:
    """The harm map (offence rate, deaths, Gi* bins, LISA clusters, IMD decile) over the
    authorities' boundaries, as an offline HTML page."""
    from geointel.maps import GI_STAR, IMD_DECILES, LISA, MapLayer, build_map

    view = harm_view(codes, data_dir, lads, crime_types, start, end, level, deaths_path,
                     suppression, seed)
    shapes = units(codes, data_dir, level)
    shapes = shapes.loc[shapes["lad_code"].isin(lads), ["code", "geometry"]]
    rates = shapes.merge(view["rates"], on="code")
    wards = units(codes, data_dir, "ward")[["code", "geometry"]]
    dead = wards.merge(view["deaths"].assign(rate=view["deaths"]["rate"].astype(float)),
                       on="code")
    dead["count"] = dead["count"].astype("string").fillna("suppressed")
    lsoa = units(codes, data_dir, "lsoa")[["code", "geometry"]].merge(
        view["lsoa"].drop(columns="geometry"), left_on="code", right_on="lsoa_code")
    what = ", ".join(crime_types)
    layers = [
        _base(codes, data_dir, lads),
        MapLayer(f"{what} offences per 1,000 residents", rates, "choropleth",
                 column="rate", popup=["name", "code", "count", "rate", "comparison"]),
        MapLayer("Drug deaths per 100,000 by ward (whole register)", dead, "choropleth",
                 column="rate", popup=["name", "code", "count", "rate"], show=False,
                 no_value=f"suppressed (1 to {suppression - 1} deaths)"),
        MapLayer(f"Gi* hot and cold spots ({what} offence rate, LSOA)", lsoa, "choropleth",
                 column="gi_bin", popup=["lsoa_name", "ward_name", "rate", "gi_bin"],
                 show=False, categories=GI_STAR),
        MapLayer(f"Local Moran clusters and outliers ({what} offence rate, LSOA)", lsoa,
                 "choropleth", column="lisa_label",
                 popup=["lsoa_name", "ward_name", "rate", "lisa_label"], show=False,
                 categories=LISA),
        MapLayer("IMD 2019 decile (1 = most deprived)", lsoa, "choropleth",
                 column="imd_decile", popup=["lsoa_name", "imd_decile"], show=False,
                 categories=IMD_DECILES),
    ]
    return build_map(layers, title=f"{what} offences {start} to {end}", marking=marking,
                     date=end)


@st.cache_resource(show_spinner="Measuring distances to services…")
def access_view(codes: tuple[str, ...], data_dir: str, services_path: str,
                kinds: tuple[str, ...], window: str) -> gpd.GeoDataFrame:
    """Per LSOA the distance to each of ``kinds`` open in ``window`` (``"always"``: all).

    ``dist_any`` is the distance to the nearest service of any of ``kinds``.
    """
    from geointel import access

    lsoas = access.need_weights(area(codes, data_dir).lsoas)
    return access.lsoa_access(lsoas, open_services(services_path, kinds, window),
                              kinds=kinds)


@st.cache_data(show_spinner="Writing the export…")
def access_export(codes: tuple[str, ...], data_dir: str, services_path: str,
                  kinds: tuple[str, ...], window: str, threshold: float, marking: str,
                  role: str) -> dict[str, bytes]:
    """Distances per LSOA and the gap list for ``threshold`` as ``access.gpkg`` and CSVs."""
    from geointel import access

    table = access_view(codes, data_dir, services_path, kinds, window)
    gaps = access.gap_areas(table, threshold_m=threshold, kind="any")
    return export_files(layers={"lsoa_access": table},
                        tables={"lsoa_access": pd.DataFrame(table.drop(columns="geometry")),
                                "gaps": pd.DataFrame(gaps.drop(columns="geometry",
                                                               errors="ignore"))},
                        marking=marking, role=role, capability="export:access",
                        stem="access")


def open_services(services_path: str, kinds: tuple[str, ...], window: str) -> gpd.GeoDataFrame:
    """The services of ``kinds`` open throughout ``window`` (``"always"``: all of them)."""
    from geointel.access import TIME_WINDOWS, available_in

    found = services(services_path).data
    found = found.loc[found["kind"].isin(kinds)]
    if window == "always":
        return found
    return found.loc[available_in(found, next(w for w in TIME_WINDOWS if w.label == window))]


@st.cache_resource(show_spinner="Drawing the map…")
def access_map(codes: tuple[str, ...], data_dir: str, services_path: str,
               kinds: tuple[str, ...], window: str, threshold_m: float, marking: str) -> str:
    """Services of ``kinds`` open in ``window`` over LSOAs coloured by distance; gaps beyond
    ``threshold_m`` as their own layer. An offline HTML page."""
    from geointel.maps import MapLayer, build_map

    table = access_view(codes, data_dir, services_path, kinds, window)
    shapes = units(codes, data_dir, "lsoa")[["code", "geometry"]]
    lsoa = shapes.merge(pd.DataFrame(table[["lsoa_code", "lsoa_name", "population",
                                            "dist_any", "nearest_any"]]),
                        left_on="code", right_on="lsoa_code")
    lsoa["distance_m"] = lsoa["dist_any"].round(0)
    gaps = lsoa.loc[lsoa["dist_any"] > threshold_m]
    points = open_services(services_path, kinds, window)[
        ["service_id", "name", "kind", "opening_hours", "geometry"]]
    layers = [
        _base(codes, data_dir),
        MapLayer("Distance to the nearest service (m)", lsoa, "choropleth",
                 column="distance_m", popup=["lsoa_name", "code", "population", "distance_m",
                                             "nearest_any"],
                 no_value="no service of the chosen kinds open"),
        MapLayer(f"Gaps: beyond {threshold_m:,.0f} m", gaps, "outline", colour="#7b3294",
                 popup=["lsoa_name", "population", "distance_m"]),
        MapLayer(f"Services open ({window.replace('_', ' ')})", points, "points",
                 popup=["name", "kind", "opening_hours"], colour="#1a9641"),
    ]
    return build_map(layers, title=f"Access to {', '.join(kinds)}", marking=marking)


@st.cache_resource(show_spinner="Reading candidate sites…")
def sites(data_dir: str, source: str) -> ReadResult:
    """Candidate sites: ``"sample"`` (the sample's candidates.csv) or ``"naptan"`` stops."""
    from geointel.io._table import concat_results
    from geointel.siting import read_sites

    if source == "naptan":
        files = sorted((Path(data_dir) / "naptan").glob("*Stops.csv"))
        return concat_results([read_sites(f) for f in files])
    return read_sites(Path(data_dir) / "samples" / "candidates.csv")


@st.cache_resource
def existing_sites(services_path: str) -> ReadResult:
    """A services register read as sites (fixed open in siting)."""
    from geointel.siting import read_sites

    return read_sites(services_path)


def _demand(codes: tuple[str, ...], data_dir: str) -> gpd.GeoDataFrame:
    demand = area(codes, data_dir).centroids()
    demand["weight"] = demand["population"].fillna(0).astype(float)
    return demand


def _existing(services_path: str, kinds: tuple[str, ...]) -> gpd.GeoDataFrame | None:
    if not kinds:
        return None
    ex = existing_sites(services_path).data
    return ex.loc[ex["kind"].isin(kinds)]


@st.cache_data(show_spinner=False)
def siting_run(codes: tuple[str, ...], data_dir: str, model: str, p: int, threshold: float,
               source: str, existing_kinds: tuple[str, ...], time_limit: float,
               services_path: str, target_share: float | None = 1.0) -> SitingResult:
    """One siting model on LSOA centroids weighted by residents, the services register's
    ``existing_kinds`` fixed open (LSCP: fewest sites to reach ``target_share``; ``None``:
    everyone within reach)."""
    from geointel.siting import site_layers

    with progress_bar(f"Solving the siting model ({model})") as progress:
        return site_layers(_demand(codes, data_dir), sites(data_dir, source).data,
                           _existing(services_path, existing_kinds), model=model,
                           weight_col="weight", p=p, threshold=threshold,
                           target_share=target_share, demand_id_col="lsoa_code",
                           site_id_col="site_id", time_limit=time_limit, progress=progress)


@st.cache_data(show_spinner=False)
def siting_sweep(codes: tuple[str, ...], data_dir: str, ps: tuple[int, ...], threshold: float,
                 source: str, existing_kinds: tuple[str, ...], time_limit: float,
                 services_path: str) -> pd.DataFrame:
    """Maximal-covering coverage for each p in ``ps`` (the p-sweep curve)."""
    import numpy as np

    from geointel.access import distance_matrix
    from geointel.siting import sweep

    demand = _demand(codes, data_dir)
    candidates = sites(data_dir, source).data
    ex = _existing(services_path, existing_kinds)
    points = candidates.geometry if ex is None else pd.concat(
        [candidates.geometry, ex.geometry], ignore_index=True)
    fixed = np.r_[np.zeros(len(candidates), dtype=bool),
                  np.ones(0 if ex is None else len(ex), dtype=bool)]
    cost = distance_matrix(demand.geometry, points)
    with progress_bar("Sweeping the number of sites") as progress:
        return sweep(cost, demand["weight"].to_numpy(), ps=list(ps), thresholds=[threshold],
                     fixed=fixed, time_limit=time_limit, progress=progress)


def _every_site(data_dir: str, source: str, services_path: str,
                existing_kinds: tuple[str, ...]) -> gpd.GeoDataFrame:
    ex = _existing(services_path, existing_kinds)
    layer = sites(data_dir, source).data
    return layer if ex is None else pd.concat([layer, ex], ignore_index=True)


@st.cache_resource(show_spinner="Drawing the map…")
def siting_map(codes: tuple[str, ...], data_dir: str, model: str, p: int, threshold: float,
               source: str, existing_kinds: tuple[str, ...], time_limit: float,
               services_path: str, target_share: float | None, marking: str) -> str:
    """The chosen sites of :func:`siting_run`, the existing services kept open and the
    LSOAs left beyond the threshold, over the authorities' boundaries (offline HTML)."""
    from geointel.maps import build_map, siting_layers

    result = siting_run(codes, data_dir, model, p, threshold, source, existing_kinds,
                        time_limit, services_path, target_share)
    lsoas = area(codes, data_dir).lsoas
    shapes = units(codes, data_dir, "lsoa")[["code", "geometry"]].rename(
        columns={"code": "lsoa_code"}).merge(
        pd.DataFrame(lsoas[["lsoa_code", "lsoa_name", "population"]]), on="lsoa_code")
    layers = siting_layers(result, sites=_every_site(data_dir, source, services_path,
                                                     existing_kinds),
                           areas=shapes, boundaries=units(codes, data_dir, "lad")[
                               ["code", "name", "geometry"]])
    return build_map(layers, title=f"Clinic siting: {model}, {len(result.selected)} new "
                     f"site(s), {threshold:,.0f} m", marking=marking)


@st.cache_data(show_spinner="Writing the export…")
def siting_export(codes: tuple[str, ...], data_dir: str, model: str, p: int, threshold: float,
                  source: str, existing_kinds: tuple[str, ...], time_limit: float,
                  services_path: str, target_share: float | None, marking: str,
                  role: str) -> dict[str, bytes]:
    """The :func:`siting_run` result as files (``siting.gpkg``, ``sites.geojson``, CSVs,
    summary) in memory, for ``role`` (checked by the exporters)."""
    import tempfile

    from geointel.opendata import OGL_ATTRIBUTION
    from geointel.siting import export_result

    result = siting_run(codes, data_dir, model, p, threshold, source, existing_kinds,
                        time_limit, services_path, target_share)
    every = _every_site(data_dir, source, services_path, existing_kinds)
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_result(result, _demand(codes, data_dir), every, tmp,
                              demand_id_col="lsoa_code", marking=marking,
                              attribution=OGL_ATTRIBUTION, role=role,
                              formats=("gpkg", "geojson", "csv"))
        return {Path(p).name: Path(p).read_bytes() for p in paths.values()}


@st.cache_resource(show_spinner="Reading the synced files…")
def reader_reports(data_dir: str) -> dict[str, ReadResult]:
    """Each reader's result on the synced open data and the sample (for the Data page)."""
    from geointel.io._table import concat_results
    from geointel.io.boundaries import read_boundaries
    from geointel.io.imd import read_imd
    from geointel.io.naptan import read_naptan
    from geointel.io.population import read_centroids, read_population
    from geointel.io.rail import read_rail_stations
    from geointel.opendata import LAYOUT

    base = Path(data_dir)
    out: dict[str, ReadResult] = {"police.uk street crime": police(data_dir)}
    boundaries = sorted((base / "boundaries").glob("*/*.geojson"))
    if boundaries:
        out["boundaries (LSOA, MSOA, ward)"] = concat_results(
            [read_boundaries(p) for p in boundaries])
    readers = {"Census 2011 population": (LAYOUT["population"], read_population),
               "population-weighted centroids": (LAYOUT["centroids"], read_centroids),
               "IMD 2019": (LAYOUT["imd"], read_imd),
               "rail stations": (LAYOUT["rail"], read_rail_stations)}
    for label, (rel, reader) in readers.items():
        if (base / rel).is_file():
            out[label] = reader(base / rel)
    if (base / "naptan").is_dir():
        out["NaPTAN stops"] = read_naptan(base / "naptan")
    samples = base / "samples"
    if (samples / "services.csv").is_file():
        out["services register (sample)"] = services(str(samples / "services.csv"))
    if (samples / "deaths.csv").is_file():
        out["deaths register (sample)"] = deaths(str(samples / "deaths.csv"))
    return out


# --- analyst pages: lines, targeting (issues 5, 6, 7) ------------------------------------
# The contact records are read and pseudonymised once per server (key from the settings'
# key file or GEOINTEL_PSEUDONYM_KEY); only pseudonyms leave these functions.


@st.cache_resource(show_spinner=False)
def lines_analysis(contacts_path: str, intel_path: str, key_file: str, seed: int,
                   codes: tuple[str, ...], data_dir: str) -> tuple[LinesResult, int]:
    """:func:`geointel.network.pipeline.analyse_lines` on a contacts file and register, with
    footprints on the Area's LSOAs (``codes`` empty: no footprints), and the number of
    contact records it read. About 25 s on the sample the first time: a progress bar shows
    how far it is."""
    from geointel.io.contacts import read_contacts, read_intel
    from geointel.network.pipeline import analyse_lines
    from geointel.privacy import load_key

    with progress_bar("Finding deal lines in the contact records") as progress:
        progress(0, 10, "reading and pseudonymising the contact records")
        key = load_key(key_file)
        contacts = read_contacts(Path(contacts_path), key=key)
        intel = read_intel(Path(intel_path), key=key).data if intel_path else None
        lsoas = None
        if codes:
            progress(3, 10, "placing the cells in LSOAs")
            lsoas = area(codes, data_dir).lsoas[["lsoa_code", "lad_code", "geometry"]].rename(
                columns={"lsoa_code": "code"})
        result = analyse_lines(contacts.data, intel=intel, lsoas=lsoas, seed=seed,
                               progress=_stage(progress, 4, 6, 10))
        return result, contacts.rows_accepted


def lines_result(contacts_path: str, intel_path: str, key_file: str, seed: int,
                 codes: tuple[str, ...], data_dir: str) -> LinesResult:
    """The lines of :func:`lines_analysis` (shared read-only)."""
    return lines_analysis(contacts_path, intel_path, key_file, seed, codes, data_dir)[0]


@st.cache_data(show_spinner="Laying out the network…")
def command_network(contacts_path: str, intel_path: str, key_file: str, seed: int,
                    codes: tuple[str, ...], data_dir: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and edges of the lines' command network, positioned
    (:func:`geointel.command_chart.command_layout`, seeded)."""
    from geointel.command_chart import command_layout

    result = lines_result(contacts_path, intel_path, key_file, seed, codes, data_dir)
    return command_layout(result.lines, result.handsets, seed=seed)


@st.cache_data(show_spinner="Simulating disruption…")
def lines_disruption(contacts_path: str, intel_path: str, key_file: str, seed: int,
                     codes: tuple[str, ...], data_dir: str, k: int,
                     strategies: tuple[str, ...]) -> pd.DataFrame:
    """Removal strategies compared on the network of :func:`lines_result` with ``k`` each."""
    from geointel.network.pipeline import simulate_disruption

    result = lines_result(contacts_path, intel_path, key_file, seed, codes, data_dir)
    return simulate_disruption(result.graph, result.lines, k=k, seed=seed,
                               strategies=strategies)


@st.cache_resource(show_spinner="Drawing the map…")
def lines_map(contacts_path: str, intel_path: str, key_file: str, seed: int,
              codes: tuple[str, ...], data_dir: str, marking: str) -> str:
    """Footprints (LSOAs where each line sells / is run from) and exporter -> importer links
    as an offline HTML page (police sensitivity)."""
    from geointel.maps import MapLayer, build_map

    result = lines_result(contacts_path, intel_path, key_file, seed, codes, data_dir)
    links = result.line_links.dropna(subset=["geometry"])
    links = links.assign(distance_km=links["distance_km"].astype(float))
    layers = [_base(codes, data_dir)] if codes else []
    polygons = result.footprint_polygons
    if polygons is not None and len(polygons):
        for side, label in (("sell", "Where lines sell (records per LSOA)"),
                            ("run", "Where lines are run from (records per LSOA)")):
            part = polygons[polygons["side"] == side]
            if len(part):
                part = part.assign(records=part["records"].astype(float))
                layers.append(MapLayer(label, part, "choropleth", column="records",
                                       popup=["line_id", "lsoa", "la", "records"],
                                       sensitivity="police", show=side == "sell"))
    layers.append(MapLayer("Exporter → importer", links, "lines", column="distance_km",
                           popup=["line_id", "exporter_la", "importer_la", "distance_km"],
                           colour="#b2182b", sensitivity="police"))
    return build_map(layers, title="County lines: footprints and exporter → importer links",
                     marking=marking)


@st.cache_data(show_spinner="Ranking lines…")
def ranked_lines(contacts_path: str, intel_path: str, key_file: str, seed: int,
                 codes: tuple[str, ...], data_dir: str, scheme_path: str,
                 overrides: pd.DataFrame | None, draws: int) -> ScoredLines:
    """The detected lines scored under a scheme with the register and the overrides given,
    ranked with Monte Carlo rank intervals (:func:`geointel.briefing.rank_detected_lines`,
    as the operation pack ranks them)."""
    from geointel.briefing import rank_detected_lines
    from geointel.io.contacts import read_intel
    from geointel.privacy import load_key
    from geointel.scoring import load_scheme

    result = lines_result(contacts_path, intel_path, key_file, seed, codes, data_dir)
    intel = read_intel(Path(intel_path), key=load_key(key_file)).data if intel_path else None
    return rank_detected_lines(result.lines, load_scheme(Path(scheme_path)), seed=seed,
                               intel=intel, overrides=overrides, draws=draws)


#: The arguments the lines functions share: contacts, intel register, key file, seed, the
#: Area's codes and the data folder.
LinesArgs = tuple[str, str, str, int, tuple[str, ...], str]


def ranking_inputs(cfg: Settings) -> tuple[LinesArgs, pd.DataFrame | None, int]:
    """What the Targeting page ranks with in this session: the lines arguments, the
    analyst's overrides and the number of draws (the operation pack ranks with the same)."""
    from geointel.briefing import RANK_DRAWS

    samples = cfg.samples_dir
    args: LinesArgs = (str(samples / "contacts.csv"), str(samples / "intel.csv"),
                       str(cfg.resolved_key_file()), cfg.seed, cfg.areas, str(cfg.data_dir))
    return (args, st.session_state.get("score_overrides"),
            int(st.session_state.get("ranking_draws", RANK_DRAWS)))


@st.cache_data
def disruption_log_lines(path: str, contacts_path: str, intel_path: str, key_file: str,
                         seed: int, codes: tuple[str, ...], data_dir: str) -> ReadResult:
    """A disruption log with its lines mapped to the detected lines (numbers pseudonymised)."""
    from geointel.privacy import load_key
    from geointel.scoring import line_of_handsets, read_disruption_log

    result = lines_result(contacts_path, intel_path, key_file, seed, codes, data_dir)
    return read_disruption_log(Path(path), key=load_key(key_file),
                               line_of=line_of_handsets(result.lines))


@st.cache_data(show_spinner="Tracking the line…")
def lines_track(contacts_path: str, intel_path: str, key_file: str, seed: int,
                codes: tuple[str, ...], data_dir: str, line_id: str, action_date: str,
                weeks: int, alpha: float, scheme_path: str
                ) -> tuple[TrackerResult, pd.DataFrame]:
    """The Fortress-style tracker for one detected line around ``action_date`` (demand and
    risk before/after under the scheme) and the lines that took its customers."""
    from geointel.scoring import displacement, load_scheme, track

    result = lines_result(contacts_path, intel_path, key_file, seed, codes, data_dir)
    tracked = track(result.activity, line_id=line_id, action_date=action_date, weeks=weeks,
                    alpha=alpha, lines=result.lines, scheme=load_scheme(Path(scheme_path)))
    moved = displacement(result.line_customers, line_id=line_id, action_date=action_date,
                         weeks=weeks)
    return tracked, moved


@st.cache_data(show_spinner="Writing the export…")
def lines_download(contacts_path: str, intel_path: str, key_file: str, seed: int,
                   codes: tuple[str, ...], data_dir: str, kind: str, role: str,
                   marking: str) -> bytes:
    """One export of :func:`lines_result` (GraphML, i2 CSVs, lines CSV) for ``role``; the
    library refuses a role without ``export:lines``."""
    from geointel.network.export import download
    from geointel.privacy import key_fingerprint, load_key

    result = lines_result(contacts_path, intel_path, key_file, seed, codes, data_dir)
    return download(result, kind, role=role, marking=marking,  # type: ignore[arg-type]
                    key_fingerprint=key_fingerprint(load_key(key_file)))


# --- briefing page (issue 7) -----------------------------------------------------------
# A pack is built once per server for its kind, areas and settings; the role is checked on
# every call before the shared pack is handed out, and the files are rendered per role
# (the exporters check the role they are given).

BRIEFING_CAPABILITY = {"operation": "export:police_briefing",
                       "board": "export:partner_briefing"}


@st.cache_resource(show_spinner=False, max_entries=16)
def _briefing_pack(kind: str, codes: tuple[str, ...], cfg: Settings,
                   overrides: pd.DataFrame | None, draws: int, date: str) -> Briefing:
    from geointel.briefing import board_pack, operation_pack
    from geointel.scoring import DEFAULT_SCHEME

    if kind == "board":
        with progress_bar("Building the board pack") as progress:
            return board_pack(cfg, codes=codes, date=date, progress=progress)
    args, _, _ = ranking_inputs(cfg)
    result, records = lines_analysis(*args)
    scored = ranked_lines(*args, str(DEFAULT_SCHEME), overrides, draws)
    with progress_bar("Building the operation pack") as progress:
        pack = operation_pack(cfg, codes=codes, lines=result, scored=scored, date=date,
                              progress=progress)
    return replace_figures(pack, {"Contact records analysed": f"{records:,}"})


def replace_figures(pack: Briefing, extra: dict[str, str]) -> Briefing:
    """``pack`` with ``extra`` key figures first in its first section."""
    from dataclasses import replace

    first, *rest = pack.sections
    figures = tuple(extra.items()) + tuple(f for f in first.figures if f[0] not in extra)
    return replace(pack, sections=(replace(first, figures=figures), *rest))


def briefing_pack(kind: str, codes: tuple[str, ...], cfg: Settings, role: str) -> Briefing:
    """The ``"operation"`` (police) or ``"board"`` (partner) pack, for a role that may have it.

    The operation pack ranks the lines exactly as the Targeting page does in this session
    (the same cached ranking: intelligence register, the analyst's overrides, draws). A pack
    is built once a day for its inputs (the date is part of the key, so it is never dated
    yesterday)."""
    import datetime as dt

    from geointel.auth import check_role

    check_role(role, BRIEFING_CAPABILITY[kind])
    return _briefing_pack(kind, codes, cfg, *_pack_inputs(kind, cfg),
                          dt.date.today().isoformat())


def _pack_inputs(kind: str, cfg: Settings) -> tuple[pd.DataFrame | None, int]:
    """The overrides and draws a pack of ``kind`` depends on (the board pack: none)."""
    if kind != "operation":
        return None, 0
    _, overrides, draws = ranking_inputs(cfg)
    return overrides, draws


@st.cache_data(show_spinner=False, max_entries=16)
def _briefing_files(_pack: Briefing, role: str, key: tuple[object, ...]) -> dict[str, bytes]:
    """The files of ``_pack`` (not hashed: ``key`` holds the inputs it was built from)."""
    import tempfile

    from geointel.briefing import write_pack

    with progress_bar("Rendering the PDF, maps and data") as progress, \
            tempfile.TemporaryDirectory() as tmp:
        paths = write_pack(_pack, Path(tmp), role=role, progress=progress)
        return {name: path.read_bytes() for name, path in paths.items()}


def briefing_files(kind: str, codes: tuple[str, ...], cfg: Settings, role: str
                   ) -> dict[str, bytes]:
    """:func:`geointel.briefing.write_pack` of :func:`briefing_pack` as file name -> bytes."""
    import datetime as dt

    pack = briefing_pack(kind, codes, cfg, role)
    return _briefing_files(pack, role, (kind, codes, cfg, dt.date.today().isoformat(),
                                        *_pack_inputs(kind, cfg)))
