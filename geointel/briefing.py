"""Briefing packs for operations (police) and partnership boards (partners).

A :class:`Briefing` is a title, an audience, a protective marking, the data sources, a date
and a list of :class:`Section` (key figures, text, a table, map layers). The builders take
results the library has already computed:

- :func:`operation_briefing` (police, OFFICIAL-SENSITIVE): the ranked lines table, the
  lines' footprint map (LSOAs where they sell and run, exporter -> importer links) and key
  figures;
- :func:`board_briefing` (partner, OFFICIAL): drug harm by ward or LSOA with small numbers
  suppressed, access gaps, the siting recommendation and key figures. A partner briefing
  never holds a police-only layer (refused with :class:`~geointel.errors.PrivacyError`)
  nor point-level offences, deaths or addresses (dropped by
  :func:`geointel.privacy.partner_layers`).

The same briefing is rendered as a multi-page A4 landscape PDF (:func:`briefing_pdf`, the
marking at the top and bottom of every page, sources and date on the last), an offline
HTML map (:func:`briefing_html`), a PNG map (:func:`briefing_png`) and data exports
(:func:`write_pack`, through :func:`geointel.exports.export_layers`). Each of these takes
the user's ``role`` and checks it against ``export:police_briefing`` or
``export:partner_briefing``. :func:`operation_pack` and :func:`board_pack` assemble the
packs from the synced open data and the sample (what ``geointel brief`` and the app's
Briefing page show); :func:`publish_pack` puts a partner pack into the folder the viewer
role reads (:func:`published_packs`).

Examples
--------
>>> ranked = pd.DataFrame({"line_id": ["L2", "L1"], "rank": [1, 2], "band": ["high", "low"],
...                        "priority": [40.0, 12.0]})
>>> b = operation_briefing(ranked, marking="OFFICIAL-SENSITIVE", date="2019-02-28")
>>> b.audience, dict(b.key_figures)["Lines ranked"]
('police', '2')
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from geointel._progress import Progress, report
from geointel.auth import check_role
from geointel.errors import PrivacyError, ValidationError
from geointel.harm import published_total
from geointel.maps import (
    ATTRIBUTION,
    MapLayer,
    area_polygons,
    boundary_layer,
    build_map,
    format_value,
    map_figure,
    static_map_png,
)
from geointel.privacy import check_no_small_counts, partner_layers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from geointel.network.pipeline import LinesResult
    from geointel.scoring import Scheme, ScoredLines
    from geointel.settings import Settings

log = logging.getLogger(__name__)

Audience = Literal["police", "partner"]
#: The export capability each audience's pack needs (see :mod:`geointel.auth`).
CAPABILITY: dict[str, str] = {"police": "export:police_briefing",
                              "partner": "export:partner_briefing"}
_A4 = (11.69, 8.27)
_ROWS_PER_PAGE = 18


@dataclass(frozen=True, eq=False)
class Section:
    """One part of a briefing: figures, text, a table and/or map layers."""

    heading: str
    figures: tuple[tuple[str, str], ...] = ()
    text: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    layers: tuple[MapLayer, ...] = ()


@dataclass(frozen=True, eq=False)
class Briefing:
    """A briefing pack, ready to render.

    Raises
    ------
    PrivacyError
        For a partner briefing holding a police-only layer, or a point-level layer about
        offences, deaths or people (see :func:`geointel.privacy.partner_layers`).
    """

    title: str
    audience: Audience
    marking: str
    sections: tuple[Section, ...]
    sources: str = ATTRIBUTION
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())

    def __post_init__(self) -> None:
        if self.audience not in CAPABILITY:
            raise ValidationError(f"Briefing audience {self.audience!r}: use 'police' or "
                                  "'partner'")
        if self.audience == "partner":
            layers = self.layers
            kept = partner_layers(layers)
            if len(kept) != len(layers):
                dropped = [layer.name for layer in layers if layer not in kept]
                raise PrivacyError(
                    f"partner briefing {self.title!r}: layer(s) {', '.join(dropped)} are "
                    "point-level records of offences, deaths or people; aggregate them by "
                    "area first")

    @property
    def capability(self) -> str:
        return CAPABILITY[self.audience]

    @property
    def layers(self) -> list[MapLayer]:
        """Every map layer of every section, in order."""
        return [layer for s in self.sections for layer in s.layers]

    @property
    def key_figures(self) -> tuple[tuple[str, str], ...]:
        return tuple(f for s in self.sections for f in s.figures)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Section tables by a file-safe name."""
        return {_slug(s.heading): s.table for s in self.sections if s.table is not None}

    def summary(self) -> dict[str, Any]:
        """Title, audience, marking, date, key figures, sections and layers (for --json)."""
        return {"title": self.title, "audience": self.audience, "marking": self.marking,
                "date": self.date, "key_figures": dict(self.key_figures),
                "sections": [s.heading for s in self.sections],
                "layers": [layer.name for layer in self.layers],
                "tables": {k: len(v) for k, v in self.tables.items()}}


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "_" for c in text).strip("_")
    while "__" in out:
        out = out.replace("__", "_")
    return out or "table"


def _only(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> gpd.GeoDataFrame:
    """``frame`` reduced to those of ``columns`` it has, and its geometry (data minimisation).

    >>> from shapely.geometry import Point
    >>> f = gpd.GeoDataFrame({"name": ["A"], "postcode": ["X"]}, geometry=[Point(0, 0)])
    >>> list(_only(f, ["name", "kind"]).columns)
    ['name', 'geometry']
    """
    keep = [c for c in columns if c in frame.columns]
    return frame[[*keep, frame.geometry.name]]


def _n(value: Any) -> str:
    return f"{int(value):,}"


# ---------------------------------------------------------------------------------------
# builders

_LINE_COLUMNS = ("rank", "line_id", "band", "priority", "risk", "harm", "confidence",
                 "rank_low", "rank_high", "group_id", "exporter_la", "importer_la",
                 "customers")


def operation_briefing(
    ranked: pd.DataFrame,
    *,
    marking: str,
    footprints: gpd.GeoDataFrame | None = None,
    links: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    title: str = "Operation briefing: county lines",
    sources: str = ATTRIBUTION,
    date: str | None = None,
    top: int = 20,
    figures: Mapping[str, Any] | None = None,
) -> Briefing:
    """The police pack: ranked lines, their footprint map and key figures.

    Parameters
    ----------
    ranked
        :func:`geointel.scoring.rank_lines` ``.table`` (``line_id``, ``rank``, ``band``,
        ...), optionally joined with the lines table (``exporter_la``, ``importer_la``).
    marking
        The police marking (``Settings.marking_police``).
    footprints
        ``LinesResult.footprint_polygons``: LSOA polygons with ``line_id``, ``side``
        (sell/run) and ``records``; drawn as records per LSOA, one layer per side.
    links
        ``LinesResult.line_links``: exporter -> importer lines.
    boundaries
        Outline polygons (local authorities) under everything.
    top
        Rows of the ranked table in the pack.
    figures
        Extra key figures (label -> value).
    """
    if "line_id" not in ranked.columns or "rank" not in ranked.columns:
        raise ValidationError("operation_briefing: ranked needs the columns line_id and rank "
                              "(geointel.scoring.rank_lines(...).table)")
    table = ranked.sort_values("rank", kind="stable")
    cols = [c for c in _LINE_COLUMNS if c in table.columns]
    shown = table[cols].head(top).reset_index(drop=True)
    for col in ("priority", "risk", "harm", "confidence"):
        if col in shown.columns and shown[col].dtype.kind == "f":
            shown[col] = shown[col].round(2)
    figs: list[tuple[str, str]] = [("Lines ranked", _n(len(table)))]
    if "band" in table.columns:
        for band, count in table["band"].value_counts().items():
            figs.append((f"Lines in band {band}", _n(count)))
    figs.append(("Top-ranked line", str(table["line_id"].iloc[0]) if len(table) else "none"))
    if "group_id" in table.columns:
        figs.append(("Groups running them", _n(table["group_id"].nunique())))
    figs += [(str(k), str(v)) for k, v in (figures or {}).items()]
    layers: list[MapLayer] = []
    if boundaries is not None and len(boundaries):
        layers.append(boundary_layer(boundaries, name="Local authorities"))
    if footprints is not None and len(footprints):
        for side, colour in (("sell", "#d62728"), ("run", "#9467bd")):
            part = footprints[footprints["side"] == side]
            if not len(part):
                continue
            per = part.dissolve(by="lsoa", aggfunc={"records": "sum", "line_id": lambda s:
                                                    "; ".join(sorted(set(s)))}).reset_index()
            layers.append(MapLayer(f"Line footprint: where lines {side} (records per LSOA)",
                                   per, "choropleth", column="records",
                                   popup=["lsoa", "line_id", "records"], colour=colour,
                                   sensitivity="police", show=side == "sell"))
    if links is not None and len(links.dropna(subset=["geometry"])):
        lk = links.dropna(subset=["geometry"])
        layers.append(MapLayer("Exporter to importer links", lk, "lines", colour="#1f1f1f",
                               popup=[c for c in ("line_id", "exporter_la", "importer_la")
                                      if c in lk.columns], sensitivity="police"))
    sections = [
        Section("Key figures", figures=tuple(figs),
                text=("Lines ranked by the MoRiLE-style scheme; rank intervals show how far "
                      "each rank moves when the weights vary within the scheme's bounds.",)),
        Section("Ranked lines", table=shown),
    ]
    if layers:
        sections.append(Section("Line footprints", layers=tuple(layers)))
    return Briefing(title=title, audience="police", marking=marking, sections=tuple(sections),
                    sources=sources, date=date or _dt.date.today().isoformat())


def _suppressed(table: pd.DataFrame, *, count: str, threshold: int) -> pd.DataFrame:
    """``table`` through :func:`geointel.harm.suppress_small` (missing counts are 0), checked."""
    from geointel.harm import suppress_small

    values = pd.to_numeric(table[count], errors="coerce").fillna(0)
    out = suppress_small(table.assign(**{count: values}), threshold=threshold, count=count)
    check_no_small_counts(out, columns=[count], threshold=threshold)
    return out


#: Column headings (with units) of the board pack's tables and map layers.
_HARM_COLUMNS = {"count": "drug offences", "rate": "offences per 1000 residents",
                 "comparison": "vs whole area"}
_DEATH_COLUMNS = {"count": "drug deaths", "rate": "deaths per 100000 residents"}
_GAP_COLUMNS = {"lsoa_code": "LSOA", "lsoa_name": "name", "population": "residents",
                "distance_m": "distance to nearest service (m)",
                "excess_m": "beyond the threshold (m)", "nearest": "nearest service"}


def _whole(values: pd.Series) -> pd.Series:
    """Numbers rounded to whole units (kept missing where missing)."""
    return pd.to_numeric(values, errors="coerce").round(0).astype("Int64")


def _suppression_note(what: str, hidden: int, total: int, level_name: str,
                      threshold: int) -> str:
    return (f"{hidden} of {total} {level_name}s have their {what} count suppressed (grey on "
            f"the map, * in tables): counts of 1 to {threshold - 1}, and enough others that "
            "none can be worked out from the totals.")


def board_briefing(
    harm_areas: gpd.GeoDataFrame,
    *,
    marking: str,
    threshold: int,
    level_name: str = "ward",
    deaths_areas: gpd.GeoDataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    gap_areas: gpd.GeoDataFrame | None = None,
    gap_threshold_m: float | None = None,
    services: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    period: str | None = None,
    deaths_period: str | None = None,
    provenance: str | None = None,
    title: str = "Partnership board briefing: drug harm and access",
    sources: str = ATTRIBUTION,
    date: str | None = None,
    figures: Mapping[str, Any] | None = None,
) -> Briefing:
    """The partner pack: harm by area (small numbers suppressed), access gaps, siting.

    Tables and map layers carry their units in their column names (``offences per 1000
    residents``, ``distance to nearest service (m)``, ...) and are rounded for reading:
    rates to 2 decimals (per 1,000) or 1 (per 100,000), people and metres to whole numbers.

    Parameters
    ----------
    harm_areas
        Polygons with ``code``, ``name``, ``count`` and ``rate`` (e.g.
        :func:`geointel.harm.rate_table` joined to ward polygons).
    marking
        The partner marking (``Settings.marking_partner``).
    threshold
        Small-number threshold: counts 1 to ``threshold - 1`` are hidden, with enough
        complementary counts that none can be recovered from the total.
    level_name
        What the areas are ("ward", "LSOA"), for headings.
    deaths_areas
        Drug deaths by ward, already suppressed: :func:`geointel.harm.partner_deaths` (or
        :func:`geointel.harm.suppress_small`) with polygons. Checked, not suppressed again,
        so the pack shows exactly the rows every other partner output shows.
    gaps
        :func:`geointel.access.gap_areas` table (LSOAs far from every service).
    gap_areas
        Polygons of those LSOAs for the map.
    gap_threshold_m
        The distance the gaps are beyond (metres), for their headings.
    services
        Service points (places, not people) for the map.
    sites
        Recommended and existing sites (``site_id``, ``status``, optional ``name``).
    period, deaths_period
        What the offence and death counts cover (e.g. ``"Oct 2018 to Feb 2019"``).
    provenance
        Where the partner data come from (e.g. that they are the SYNTHETIC sample); on the
        cover, first.
    figures
        Extra key figures (label -> value).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> wards = gpd.GeoDataFrame({"code": ["W1", "W2", "W3"], "name": ["A", "B", "C"],
    ...                           "count": [12, 0, 30], "rate": [1.2345, 0.0, 2.5]},
    ...                          geometry=[box(i, 0, i + 1, 1) for i in range(3)],
    ...                          crs=27700)
    >>> b = board_briefing(wards, marking="OFFICIAL", threshold=5, period="Jan 2019")
    >>> dict(b.key_figures)["Drug offences (police.uk, Jan 2019)"]
    '42'
    >>> b.tables["drug_offences_by_ward_highest_rates"]["offences per 1000 residents"].tolist()
    [2.5, 1.23, 0.0]
    """
    need = {"code", "name", "count", "rate"} - set(harm_areas.columns)
    if need:
        raise ValidationError(f"board_briefing: harm_areas lacks {', '.join(sorted(need))}")
    when = f", {period}" if period else ""
    d_when = f", {deaths_period}" if deaths_period else ""
    harm = _suppressed(harm_areas, count="count", threshold=threshold)
    harm["rate"] = harm["rate"].round(2)
    hidden = int(harm["suppressed"].sum())
    figs: list[tuple[str, str]] = [
        (f"Drug offences (police.uk{when})", published_total(harm)),
        (f"{level_name.capitalize()}s with offence counts suppressed (small numbers)",
         f"{hidden} of {len(harm)}"),
    ]
    ranked = harm.sort_values("rate", ascending=False, na_position="last")
    figs.append((f"Highest offence rate ({level_name})", str(ranked["name"].iloc[0])))
    notes = [_suppression_note("offence", hidden, len(harm), level_name, threshold)]
    no_value = f"suppressed (1 to {threshold - 1}, or hidden to protect them)"
    layers: list[MapLayer] = []
    if boundaries is not None and len(boundaries):
        layers.append(boundary_layer(boundaries, name="Local authorities"))
    harm = harm.rename(columns=_HARM_COLUMNS)
    rate_col = _HARM_COLUMNS["rate"]
    layers.append(MapLayer(f"Drug offences per 1,000 residents by {level_name}{when}", harm,
                           "choropleth", column=rate_col,
                           popup=["name", "code", _HARM_COLUMNS["count"], rate_col],
                           no_value=no_value))
    harm_cols = [c for c in ("name", "code", *_HARM_COLUMNS.values()) if c in harm.columns]
    sections_tail = [Section(f"Drug offences by {level_name} (highest rates)",
                             table=pd.DataFrame(harm.loc[ranked.index, harm_cols]).head(15)
                             .reset_index(drop=True))]
    if deaths_areas is not None:
        if "suppressed" not in deaths_areas.columns:
            raise ValidationError("board_briefing: deaths_areas has not been through "
                                  "disclosure control; pass geointel.harm.partner_deaths(...)")
        check_no_small_counts(deaths_areas, columns=["count"], threshold=threshold)
        dead = deaths_areas.copy()
        dead["rate"] = pd.to_numeric(dead["rate"], errors="coerce").round(1)
        figs.append((f"Drug deaths in the register{d_when}", published_total(deaths_areas)))
        notes.append(_suppression_note("death", int(dead["suppressed"].sum()), len(dead),
                                       "ward", threshold))
        dead = dead.rename(columns=_DEATH_COLUMNS)
        layers.append(MapLayer(f"Drug deaths per 100,000 residents by ward{d_when}",
                               dead, "choropleth", column=_DEATH_COLUMNS["rate"],
                               popup=["name", "code", *_DEATH_COLUMNS.values()], show=False,
                               no_value=no_value))
    beyond = (f"beyond {gap_threshold_m / 1000:g} km of any service" if gap_threshold_m
              else "beyond reach of any service")
    if gaps is not None:
        figs.append((f"LSOAs {beyond}", _n(len(gaps))))
        if "population" in gaps.columns:
            figs.append(("Residents in those LSOAs", _n(gaps["population"].sum())))
        table = pd.DataFrame(gaps).drop(columns="geometry", errors="ignore").head(15)
        for col in ("distance_m", "excess_m", "population"):
            if col in table.columns:
                table[col] = _whole(table[col])
        sections_tail.append(Section(f"Access gaps: LSOAs {beyond} (most residents first)",
                                     table=table.rename(columns=_GAP_COLUMNS)
                                     .reset_index(drop=True)))
    if gap_areas is not None and len(gap_areas):
        shown = gap_areas.assign(**({"population": _whole(gap_areas["population"])}
                                    if "population" in gap_areas.columns else {}))
        shown = shown.rename(columns=_GAP_COLUMNS)
        layers.append(MapLayer(f"Access gaps: LSOAs {beyond}", shown, "outline",
                               colour="#7b3294",
                               popup=[c for c in ("LSOA", "name", "residents")
                                      if c in shown.columns]))
    if services is not None and len(services):
        places = _only(services, ("name", "kind"))
        layers.append(MapLayer("Services", places, "points", colour="#2ca02c",
                               popup=[c for c in places.columns if c != places.geometry.name],
                               show=False, sensitivity="public"))
    if sites is not None and len(sites):
        new = sites[sites["status"] == "new"] if "status" in sites.columns else sites
        new = _only(new, ("site_id", "name", "kind", "weight_covered"))
        if "weight_covered" in new.columns:
            new = new.assign(weight_covered=_whole(new["weight_covered"])).rename(
                columns={"weight_covered": "residents newly covered"})
        figs.append(("Recommended new sites", _n(len(new))))
        layers.append(MapLayer("Recommended new sites", new, "points", colour="#1f77b4",
                               popup=[c for c in new.columns if c != new.geometry.name]))
        sections_tail.append(Section("Siting recommendation", table=pd.DataFrame(
            new.drop(columns="geometry")).reset_index(drop=True)))
    figs += [(str(k), str(v)) for k, v in (figures or {}).items()]
    text = [t for t in (provenance,) if t]
    text.append(f"Drug offences: police.uk street-level crime{when}."
                + (f" Drug deaths: the deaths register{d_when}." if deaths_areas is not None
                   else ""))
    text += notes
    sections = [Section("Key figures", figures=tuple(figs), text=tuple(text)),
                *sections_tail,
                Section(f"Map: drug offences per 1,000 residents by {level_name}{when}",
                        layers=tuple(layers))]
    return Briefing(title=title, audience="partner", marking=marking,
                    sections=tuple(sections), sources=sources,
                    date=date or _dt.date.today().isoformat())


# ---------------------------------------------------------------------------------------
# rendering

def _page(marking: str, title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=_A4)
    fig.text(0.5, 0.985, marking, ha="center", va="top", fontsize=12, fontweight="bold")
    fig.text(0.5, 0.012, marking, ha="center", va="bottom", fontsize=12, fontweight="bold")
    fig.text(0.04, 0.93, title, ha="left", va="top", fontsize=16)
    ax = fig.add_axes((0.04, 0.08, 0.92, 0.8))
    ax.axis("off")
    return fig, ax


def _cell(value: Any) -> str:
    """A table cell for print: ``*`` for suppressed or missing, numbers for reading.

    >>> [_cell(v) for v in (None, np.nan, 9.96607294317218, 2826.0, "Takeley", True)]
    ['*', '*', '9.97', '2,826', 'Takeley', 'yes']
    """
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "*"
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return format_value(value)
    return textwrap.shorten(str(value), width=28, placeholder="…")


def _plan(briefing: Briefing) -> list[tuple[str, Any]]:
    """The pages of the PDF, in order: ``("cover", None)``, ``("table", (heading, rows))``
    per page of each table, ``("map", section)`` per section with layers, ``("sources",
    None)``."""
    plan: list[tuple[str, Any]] = [("cover", None)]
    for s in briefing.sections:
        if s.table is not None:
            chunks = max(1, -(-len(s.table) // _ROWS_PER_PAGE))
            for k in range(chunks):
                part = s.table.iloc[k * _ROWS_PER_PAGE:(k + 1) * _ROWS_PER_PAGE]
                plan.append(("table", (s.heading + (f" ({k + 1}/{chunks})" if chunks > 1
                                                    else ""), part)))
        if s.layers:
            plan.append(("map", s))
    plan.append(("sources", None))
    return plan


def page_count(briefing: Briefing) -> int:
    """Pages of :func:`briefing_pdf` for ``briefing`` (without rendering them).

    Examples
    --------
    >>> b = operation_briefing(pd.DataFrame({"line_id": ["L1"], "rank": [1]}),
    ...                        marking="OFFICIAL-SENSITIVE")
    >>> page_count(b)  # key figures, ranked lines, sources and date
    3
    """
    return len(_plan(briefing))


def _pages(briefing: Briefing) -> list[Figure]:
    b = briefing
    figs: list[Figure] = []
    for kind, item in _plan(b):
        if kind == "cover":
            fig, ax = _page(b.marking, b.title)
            lines = [f"Audience: {b.audience}    Date: {b.date}", ""]
            lines += [f"{label}: {value}" for label, value in b.key_figures]
            for s in b.sections:
                lines += ["", *[textwrap.fill(t, 110) for t in s.text]] if s.text else []
            ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=11,
                    family="sans-serif", transform=ax.transAxes)
        elif kind == "table":
            head, part = item
            fig, ax = _page(b.marking, head)
            if len(part):
                cells = [[_cell(v) for v in row] for row in part.itertuples(index=False)]
                t = ax.table(cellText=cells, colLabels=[str(c) for c in part.columns],
                             loc="upper center", cellLoc="left")
                t.auto_set_font_size(False)
                t.set_fontsize(8)
                t.scale(1, 1.4)
            else:
                ax.text(0, 1, "None.", va="top", transform=ax.transAxes)
        elif kind == "map":
            fig = map_figure(list(item.layers), title=item.heading, marking=b.marking,
                             sources=b.sources, date=b.date, size=_A4)
        else:
            fig, ax = _page(b.marking, "Data sources and date")
            ax.text(0, 1, f"Prepared: {b.date}\n\nSources:\n{textwrap.fill(b.sources, 110)}"
                    "\n\nSuppressed figures are shown as *.", va="top", ha="left",
                    fontsize=11, transform=ax.transAxes)
        figs.append(fig)
    return figs


def briefing_pdf(briefing: Briefing, *, role: str) -> bytes:
    """The pack as a multi-page A4 landscape PDF (marking top and bottom of every page).

    Raises
    ------
    AccessDenied
        If ``role`` may not export this audience's briefing.

    Examples
    --------
    >>> b = operation_briefing(pd.DataFrame({"line_id": ["L1"], "rank": [1]}),
    ...                        marking="OFFICIAL-SENSITIVE")
    >>> briefing_pdf(b, role="analyst")[:5]
    b'%PDF-'
    """
    from matplotlib.backends.backend_pdf import PdfPages

    check_role(role, briefing.capability)
    buf = io.BytesIO()
    meta = {"Title": briefing.title, "Subject": briefing.marking, "Creator": "geointel"}
    with PdfPages(buf, metadata=meta) as pdf:
        for fig in _pages(briefing):
            pdf.savefig(fig)
    return buf.getvalue()


def _map_layers(briefing: Briefing) -> list[MapLayer]:
    layers = briefing.layers
    if not layers:
        raise ValidationError(f"briefing {briefing.title!r} has no map layers to draw")
    return layers


def briefing_html(briefing: Briefing, *, role: str, tiles: str | None = None,
                  vendor_dir: Path | None = None) -> str:
    """The pack's map as one offline HTML page (see :func:`geointel.maps.build_map`)."""
    check_role(role, briefing.capability)
    return build_map(_map_layers(briefing), title=briefing.title, marking=briefing.marking,
                     sources=briefing.sources, date=briefing.date, tiles=tiles,
                     vendor_dir=vendor_dir)


def briefing_png(briefing: Briefing, *, role: str) -> bytes:
    """The pack's map as an A4 landscape PNG."""
    check_role(role, briefing.capability)
    return static_map_png(_map_layers(briefing), title=briefing.title, marking=briefing.marking,
                          sources=briefing.sources, date=briefing.date)


def write_pack(briefing: Briefing, out_dir: Path, *, role: str,
               vendor_dir: Path | None = None,
               progress: Progress | None = None) -> dict[str, Path]:
    """Write ``briefing.pdf``, ``map.html``, ``map.png`` and the data (GeoPackage, GeoJSON,
    CSV, ``summary.json``) into ``out_dir``; return file name -> path.

    ``progress(done, total, message)`` is called as each of the four parts is written.

    Raises
    ------
    AccessDenied
        If ``role`` may not export this audience's briefing (checked before writing).
    """
    from geointel.exports import export_layers

    check_role(role, briefing.capability)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers: dict[str, gpd.GeoDataFrame] = {}
    for layer in briefing.layers:
        name = _slug(layer.name)
        keep = [c for c in [layer.column, *layer.popup] if c is not None]
        layers[name] = layer.frame[[*dict.fromkeys(keep), layer.frame.geometry.name]]
    report(progress, 0, 4, "writing the data (GeoPackage, GeoJSON, CSV)")
    paths = export_layers(out, layers=layers, tables=briefing.tables, marking=briefing.marking,
                          role=role, capability=briefing.capability, stem="briefing",
                          summary=briefing.summary(), attribution=briefing.sources)
    report(progress, 1, 4, "rendering the PDF")
    files = {"briefing.pdf": briefing_pdf(briefing, role=role)}
    if briefing.layers:
        report(progress, 2, 4, "drawing the map (PNG)")
        files["map.png"] = briefing_png(briefing, role=role)
        report(progress, 3, 4, "building the offline map (HTML)")
        files["map.html"] = briefing_html(briefing, role=role, vendor_dir=vendor_dir).encode()
    report(progress, 4, 4, "done")
    for name, data in files.items():
        (out / name).write_bytes(data)
        paths[name] = out / name
    log.info("wrote %s briefing pack (%d files) to %s", briefing.audience, len(paths), out)
    return paths


# ---------------------------------------------------------------------------------------
# publishing for viewers

#: Files of a published pack a viewer may download, with their MIME types.
PUBLISHED_FILES: dict[str, str] = {"briefing.pdf": "application/pdf",
                                   "map.html": "text/html", "map.png": "image/png"}


@dataclass(frozen=True)
class PublishedPack:
    """A briefing pack published for viewers (a folder of ``published_dir``)."""

    name: str
    folder: Path
    title: str
    marking: str
    date: str
    key_figures: tuple[tuple[str, str], ...]
    files: tuple[str, ...]


def publish_pack(briefing: Briefing, published_dir: Path, *, role: str, name: str,
                 vendor_dir: Path | None = None) -> Path:
    """Write a partner ``briefing`` into ``published_dir/<name>`` for the viewer role.

    Only partner packs are published: they are disclosure controlled (small numbers
    suppressed, no police-only or point-level personal layers). A folder of the same name
    is replaced.

    Raises
    ------
    PrivacyError
        If ``briefing`` is a police pack.
    AccessDenied
        If ``role`` may not export partner briefings.

    Examples
    --------
    >>> import tempfile
    >>> b = operation_briefing(pd.DataFrame({"line_id": ["L1"], "rank": [1]}),
    ...                        marking="OFFICIAL-SENSITIVE")
    >>> publish_pack(b, Path(tempfile.mkdtemp()), role="analyst", name="op")
    Traceback (most recent call last):
    ...
    geointel.errors.PrivacyError: publish_pack: 'Operation briefing: county lines' is a police \
pack; only partner packs (board briefings) may be published for viewers
    """
    if briefing.audience != "partner":
        raise PrivacyError(f"publish_pack: {briefing.title!r} is a police pack; only partner "
                           "packs (board briefings) may be published for viewers")
    check_role(role, briefing.capability)
    folder = Path(published_dir) / _slug(name)
    if folder.exists():
        for old in folder.iterdir():
            if old.is_file():
                old.unlink()
    write_pack(briefing, folder, role=role, vendor_dir=vendor_dir)
    log.info("published %r as %s", briefing.title, folder)
    return folder


def published_packs(published_dir: Path) -> list[PublishedPack]:
    """The packs in ``published_dir``, newest first (none if the folder does not exist).

    Examples
    --------
    >>> import tempfile
    >>> published_packs(Path(tempfile.mkdtemp()) / "published")
    []
    """
    import json

    root = Path(published_dir)
    if not root.is_dir():
        return []
    packs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        summary_file = folder / "summary.json"
        if not summary_file.is_file():
            log.warning("published folder %s has no summary.json; skipped", folder)
            continue
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        figures = summary.get("key_figures", {})
        packs.append(PublishedPack(
            name=folder.name, folder=folder, title=str(summary.get("title", folder.name)),
            marking=str(summary.get("marking", "")), date=str(summary.get("date", "")),
            key_figures=tuple((str(k), str(v)) for k, v in figures.items()),
            files=tuple(f for f in PUBLISHED_FILES if (folder / f).is_file())))
    return sorted(packs, key=lambda p: (p.date, p.name), reverse=True)


def read_published(pack: PublishedPack, file: str, *, role: str) -> bytes:
    """The bytes of one file of a published pack, for a user of ``role``.

    Raises
    ------
    AccessDenied
        If ``role`` may not download published briefings.
    ValidationError
        If ``file`` is not one of :data:`PUBLISHED_FILES` of the pack.

    Examples
    --------
    >>> import tempfile
    >>> pack = PublishedPack("p", Path(tempfile.mkdtemp()), "T", "OFFICIAL", "2019-02-28", (),
    ...                      ())
    >>> read_published(pack, "../accounts.toml", role="viewer")
    Traceback (most recent call last):
    ...
    geointel.errors.ValidationError: published pack 'p' has no file '../accounts.toml'; \
its files are: none
    """
    check_role(role, "export:published_briefing")
    if file not in PUBLISHED_FILES or file not in pack.files:
        raise ValidationError(f"published pack {pack.name!r} has no file {file!r}; its files "
                              f"are: {', '.join(pack.files) or 'none'}")
    return (pack.folder / file).read_bytes()


# ---------------------------------------------------------------------------------------
# packs from the synced data and the sample

#: Monte Carlo draws of the rank intervals in the operation pack and, by default, on the
#: Targeting page (the two rank the same way).
RANK_DRAWS = 500


def rank_detected_lines(lines: pd.DataFrame, scheme: Scheme, *, seed: int,
                        intel: pd.DataFrame | None = None,
                        overrides: pd.DataFrame | None = None, draws: int | None = RANK_DRAWS,
                        progress: Progress | None = None) -> ScoredLines:
    """Rank detected lines as the Targeting page does: with the intelligence register scored
    as evidence (the lines' own intelligence sums dropped first), the analyst's audited
    overrides, and ``draws`` Monte Carlo draws for the rank intervals.

    ``lines`` is ``LinesResult.lines`` of :func:`geointel.network.pipeline.analyse_lines`.

    Examples
    --------
    >>> from geointel.scoring import load_scheme
    >>> lines = pd.DataFrame({"line_id": ["A", "B"], "violence": [0, 5]})
    >>> rank_detected_lines(lines, load_scheme(), seed=1, draws=10).table["line_id"].tolist()
    ['B', 'A']
    """
    from geointel.scoring import rank_lines, without_intel

    if intel is not None:
        lines = without_intel(lines)
    return rank_lines(lines, scheme, seed=seed, intel=intel, overrides=overrides, draws=draws,
                      progress=progress)


def sample_provenance(samples_dir: Path) -> str | None:
    """The provenance line of the embedded sample (from its ``manifest.json``), or ``None``
    if ``samples_dir`` holds no manifest.

    Examples
    --------
    >>> import json, tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "manifest.json").write_text(json.dumps({"label": "SYNTHETIC", "seed": 42,
    ...     "generator": "geointel.samples 1"}))
    >>> print(textwrap.fill(sample_provenance(d), 88))
    Partner data (deaths register, services, candidate sites) are the embedded sample:
    SYNTHETIC; generated by geointel.samples 1 with seed 42. They are not real and must not
    be used for decisions.
    """
    import json

    path = Path(samples_dir) / "manifest.json"
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    made = (f"; generated by {manifest['generator']}" if manifest.get("generator") else "")
    made += f" with seed {manifest['seed']}" if "seed" in manifest else ""
    return ("Partner data (deaths register, services, candidate sites) are the embedded "
            f"sample: {manifest.get('label', 'SYNTHETIC')}{made}. They are not real and must "
            "not be used for decisions.")


def _sample_deaths_period(samples_dir: Path) -> str | None:
    import json

    path = Path(samples_dir) / "manifest.json"
    if not path.is_file():
        return None
    period = json.loads(path.read_text(encoding="utf-8")).get("deaths_period")
    return _period(period[0], period[-1]) if period else None


def _period(first: str, last: str) -> str:
    """``"Oct 2018 to Feb 2019"`` from two dates or months (``YYYY-MM[-DD]``).

    >>> _period("2018-10", "2019-02"), _period("2019-01-01", "2019-01-31")
    ('Oct 2018 to Feb 2019', 'Jan 2019')
    """
    a, b = (pd.Timestamp(str(x)[:7] + "-01").strftime("%b %Y") for x in (first, last))
    return a if a == b else f"{a} to {b}"


def operation_pack(settings: Settings, *, codes: Sequence[str] | None = None,
                   lines: LinesResult | None = None, scored: ScoredLines | None = None,
                   overrides: pd.DataFrame | None = None, draws: int | None = RANK_DRAWS,
                   date: str | None = None, progress: Progress | None = None) -> Briefing:
    """The police pack from the sample's contact records and intelligence register.

    Runs :func:`geointel.network.pipeline.analyse_lines` (footprints on the Area's LSOAs)
    unless ``lines`` is given, and ranks the lines with :func:`rank_detected_lines` (the
    intelligence register, ``overrides``, ``draws``) unless ``scored`` is given, then
    :func:`operation_briefing`. The app passes the results its Targeting page shows, so the
    pack ranks exactly as that page does; footprints are kept to the LSOAs of ``codes``.
    """
    from geointel.area import area_from_settings
    from geointel.io.contacts import read_contacts, read_intel
    from geointel.network.pipeline import analyse_lines
    from geointel.privacy import load_key
    from geointel.scoring import load_scheme

    key = load_key(settings.resolved_key_file())
    report(progress, 0, 4, "reading the Area")
    area = area_from_settings(settings, codes)
    intel_path = settings.samples_dir / "intel.csv"
    intel = None
    if scored is None and intel_path.is_file():
        intel = read_intel(intel_path, key=key).data
    records: int | None = None
    if lines is None:
        report(progress, 1, 4, "reading contact records")
        contacts = read_contacts(settings.samples_dir / "contacts.csv", key=key)
        records = contacts.rows_accepted
        if intel is None and intel_path.is_file():
            intel = read_intel(intel_path, key=key).data
        report(progress, 2, 4, "finding lines")
        lsoas = area.lsoas[["lsoa_code", "lad_code", "geometry"]].rename(
            columns={"lsoa_code": "code"})
        lines = analyse_lines(contacts.data, intel=intel, lsoas=lsoas, seed=settings.seed)
    report(progress, 3, 4, "ranking lines")
    if scored is None:
        scored = rank_detected_lines(lines.lines, load_scheme(), seed=settings.seed,
                                     intel=intel, overrides=overrides, draws=draws)
    extra = [c for c in ("group_id", "exporter_la", "importer_la", "customers")
             if c in lines.lines.columns and c not in scored.table.columns]
    ranked = scored.table.merge(lines.lines[["line_id", *extra]], on="line_id", how="left")
    footprints = lines.footprint_polygons
    if footprints is not None and "lsoa" in footprints.columns:
        footprints = footprints[footprints["lsoa"].isin(area.lsoas["lsoa_code"])]
    report(progress, 4, 4, "done")
    figures = {"Scheme": f"{scored.scheme.name} {scored.scheme.version}"}
    if records is not None:
        figures = {"Contact records analysed": _n(records), **figures}
    if len(scored.audit):
        figures["Scores overridden (audited)"] = _n(len(scored.audit))
    return operation_briefing(
        ranked, marking=settings.marking_police, footprints=footprints,
        links=lines.line_links, boundaries=area_polygons(area.lsoas), date=date,
        figures=figures)


def board_pack(settings: Settings, *, codes: Sequence[str] | None = None,
               level: Literal["ward", "lsoa"] = "ward", threshold_m: float = 1600.0,
               p: int = 3, date: str | None = None,
               progress: Progress | None = None) -> Briefing:
    """The partner pack from the synced open data and the sample.

    Drug offences (police.uk, ``Drugs``) and deaths (the sample register) per ward or
    LSOA, distances from LSOAs to the sample's services with the gaps beyond
    ``threshold_m``, and ``p`` new sites (maximal covering) from the sample's candidates.
    The cover says that the partner data are the SYNTHETIC sample (from its manifest) and
    which months the counts cover.
    """
    from geointel import access, harm
    from geointel.area import area_from_settings
    from geointel.io.deaths import read_deaths
    from geointel.io.police_uk import read_police_uk, select_crime_types
    from geointel.io.services import read_services
    from geointel.siting import read_sites, site_layers

    report(progress, 0, 5, "reading the Area")
    area = area_from_settings(settings, codes)
    lsoas = area.lsoas
    report(progress, 1, 5, "counting offences and deaths")
    police_files = sorted((settings.data_dir / "police_uk").glob("*-street.csv"))
    police = read_police_uk(police_files)
    offences = select_crime_types(police.data, ["Drugs"])
    shapes = area_polygons(lsoas, level, tolerance=20)[["code", "geometry"]]
    rates = harm.rate_table(offences, lsoas, level=level)
    harm_areas = shapes.merge(rates, on="code")
    deaths_path = settings.samples_dir / "deaths.csv"
    deaths_areas = None
    if deaths_path.is_file():
        dead = harm.partner_deaths(read_deaths(deaths_path).data, lsoas,
                                   threshold=settings.suppression_threshold)
        ward_shapes = (shapes if level == harm.DEATHS_LEVEL else area_polygons(
            lsoas, harm.DEATHS_LEVEL, tolerance=20)[["code", "geometry"]])
        deaths_areas = ward_shapes.merge(dead, on="code")
        deaths_areas.attrs = dict(dead.attrs)  # the total it may publish (merge drops attrs)
    report(progress, 2, 5, "measuring access")
    services = read_services(settings.samples_dir / "services.csv").data
    table = access.lsoa_access(lsoas, services)
    gaps = access.gap_areas(table, threshold_m=threshold_m)
    gap_polys = lsoas.loc[lsoas["lsoa_code"].isin(gaps["lsoa_code"]),
                          ["lsoa_code", "lsoa_name", "population", "geometry"]]
    report(progress, 3, 5, "siting")
    candidates = read_sites(settings.samples_dir / "candidates.csv").data
    existing = read_sites(settings.samples_dir / "services.csv").data
    demand = area.centroids()
    demand["weight"] = demand["population"].fillna(0).astype(float)
    result = site_layers(demand, candidates, existing, model="mclp", weight_col="weight", p=p,
                         threshold=threshold_m, demand_id_col="lsoa_code",
                         site_id_col="site_id", time_limit=30)
    chosen = candidates[candidates["site_id"].isin(result.selected)].copy()
    chosen["status"] = "new"
    gains = result.marginal_gain.set_index("site_id")["gain"]
    chosen["weight_covered"] = chosen["site_id"].map(gains).round(0)
    report(progress, 4, 5, "assembling")
    svc = services if isinstance(services, gpd.GeoDataFrame) else None
    figures = {
        f"Residents within {threshold_m / 1000:g} km of a service now":
            f"{result.coverage_before:.1%}",
        f"... with the {p} recommended sites": f"{result.coverage_after:.1%}",
    }
    report(progress, 5, 5, "done")
    months = offences["month"].dropna().astype(str)
    provenance = sample_provenance(settings.samples_dir)
    return board_briefing(
        harm_areas, marking=settings.marking_partner,
        threshold=settings.suppression_threshold, level_name=level,
        deaths_areas=deaths_areas, gaps=gaps.drop(columns="geometry", errors="ignore"),
        gap_areas=gap_polys, gap_threshold_m=threshold_m, services=svc, sites=chosen,
        boundaries=area_polygons(lsoas), figures=figures, date=date,
        period=_period(months.min(), months.max()) if len(months) else None,
        deaths_period=_sample_deaths_period(settings.samples_dir), provenance=provenance,
        sources=f"{ATTRIBUTION} {provenance}" if provenance else ATTRIBUTION)
