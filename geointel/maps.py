"""Briefing maps: self-contained interactive HTML (folium) and static PNG (matplotlib).

A map is a list of :class:`MapLayer` (a frame in any CRS, how to draw it, which columns a
click shows, and how sensitive it is). :func:`build_map` turns them into one HTML document
that opens offline: Leaflet's code and style are inlined from ``data/vendor/leaflet/``,
nothing is fetched from another host, and the boundaries themselves are the base layer
unless a tile server is named. Every map carries a title, date, legend, scale bar, north
arrow, data sources and its protective marking in a banner at the top and the bottom.
:func:`static_map_png` draws the same layers for print (A4 landscape).

Every text that comes from data or users (layer names, titles, popup columns and values)
is HTML-escaped before it reaches the document.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> pts = gpd.GeoDataFrame({"name": ["<b>Clinic</b>"]}, geometry=[Point(588000, 186000)],
...                        crs="EPSG:27700")
>>> page = build_map([MapLayer("Services", pts, "points", popup=["name"])],
...                  title="Services", marking="OFFICIAL")
>>> "&lt;b&gt;Clinic" in page.replace("\\\\u0026", "&"), "<b>Clinic" in page
(True, False)
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geointel.errors import MissingDataError, ValidationError
from geointel.opendata import OGL_ATTRIBUTION
from geointel.settings import Settings

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Attribution every map and export carries (the open data licence terms).
ATTRIBUTION = OGL_ATTRIBUTION
#: Five sequential classes (ColorBrewer YlOrRd) for choropleths; grey for no value.
PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
NO_VALUE = "#d9d9d9"
#: Fill of the class holding exactly zero (a count or rate of none), below the palette.
ZERO = "#f7f7f7"


@dataclass(frozen=True)
class Category:
    """One class of a categorical choropleth: the value it matches, its legend label and its
    ``#rrggbb`` fill."""

    value: Any
    label: str
    colour: str


#: Getis-Ord Gi* bins (:func:`geointel.hotspots.getis_ord`) in ArcGIS's Hot Spot Analysis
#: colours; "not significant" is neutral, so it never reads as hot.
GI_STAR: tuple[Category, ...] = (
    Category(3, "Hot spot, 99% confidence", "#d62f27"),
    Category(2, "Hot spot, 95% confidence", "#ed7551"),
    Category(1, "Hot spot, 90% confidence", "#fab984"),
    Category(0, "Not significant", "#f7f7f2"),
    Category(-1, "Cold spot, 90% confidence", "#c0ccbe"),
    Category(-2, "Cold spot, 95% confidence", "#849eba"),
    Category(-3, "Cold spot, 99% confidence", "#4575b5"),
)
#: Local Moran labels (``lisa_label`` of :func:`geointel.hotspots.local_moran`).
LISA: tuple[Category, ...] = (
    Category("High-High", "High-High cluster", "#d7191c"),
    Category("High-Low", "High-Low outlier", "#fdae61"),
    Category("Low-High", "Low-High outlier", "#abd9e9"),
    Category("Low-Low", "Low-Low cluster", "#2c7bb6"),
    Category("Not significant", "Not significant", "#f7f7f2"),
)
#: IMD deciles, 1 (most deprived) darkest.
IMD_DECILES: tuple[Category, ...] = tuple(
    Category(d, f"{d} (most deprived 10%)" if d == 1 else
             f"{d} (least deprived 10%)" if d == 10 else str(d), colour)
    for d, colour in enumerate(("#08306b", "#08519c", "#2171b5", "#4292c6", "#6baed6",
                                "#9ecae1", "#c6dbef", "#deebf7", "#eef4fb", "#fbfdff"),
                               start=1))
KINDS = ("choropleth", "points", "lines", "outline")
SENSITIVITIES = ("public", "partner", "police")
_GEOMS = {
    "choropleth": {"Polygon", "MultiPolygon"},
    "outline": {"Polygon", "MultiPolygon", "LineString", "MultiLineString"},
    "points": {"Point"},
    "lines": {"LineString", "MultiLineString"},
}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_BANNER_PX = 26

Kind = Literal["choropleth", "points", "lines", "outline"]
Sensitivity = Literal["public", "partner", "police"]


@dataclass(frozen=True, eq=False)
class MapLayer:
    """One layer of a briefing map.

    Attributes
    ----------
    name
        Shown in the layer control and legend.
    frame
        The features, in any CRS (reprojected to WGS84 for the web, BNG for print).
    kind
        ``"choropleth"`` (polygons coloured by ``column``), ``"points"`` (circles sized by
        ``column`` if given), ``"lines"`` or ``"outline"`` (boundaries without fill).
    column
        Numeric column for choropleth colour, point size or line width.
    popup
        Columns shown when a feature is clicked (values are escaped).
    colour
        ``#rrggbb`` colour of points, lines and outlines.
    show
        Whether the layer is on when the map opens.
    sensitivity
        ``"police"`` layers may appear only in police products (see
        :mod:`geointel.briefing`); ``"partner"`` and ``"public"`` layers are disclosure
        controlled already.
    legend
        Legend heading; the layer name if ``None``.
    categories
        Classes of a categorical choropleth (e.g. :data:`GI_STAR`, :data:`LISA`,
        :data:`IMD_DECILES`); ``column`` may then hold text. Without them a choropleth is
        classed by :func:`classify` (zero on its own, quantiles of the distinct values).
    no_value
        Legend label of features without a value (e.g. ``"suppressed (1-4 deaths)"``).
    """

    name: str
    frame: gpd.GeoDataFrame
    kind: Kind
    column: str | None = None
    popup: Sequence[str] = ()
    colour: str = "#1f77b4"
    show: bool = True
    sensitivity: Sensitivity = "partner"
    legend: str | None = None
    categories: tuple[Category, ...] | None = None
    no_value: str = "no value"

    def __post_init__(self) -> None:
        where = f"MapLayer {self.name!r}"
        if not isinstance(self.frame, gpd.GeoDataFrame):
            raise ValidationError(f"{where}: frame must be a GeoDataFrame, got "
                                  f"{type(self.frame).__name__}")
        if self.frame.crs is None:
            raise ValidationError(f"{where}: frame has no CRS; set one with .set_crs(...)")
        if self.kind not in KINDS:
            raise ValidationError(f"{where}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.sensitivity not in SENSITIVITIES:
            raise ValidationError(f"{where}: sensitivity {self.sensitivity!r} is not one of "
                                  f"{', '.join(SENSITIVITIES)}")
        if not _HEX.match(self.colour):
            raise ValidationError(f"{where}: colour {self.colour!r} is not of the form #rrggbb")
        if self.kind == "choropleth" and self.column is None:
            raise ValidationError(f"{where}: a choropleth needs column= (the value to colour by)")
        wanted = [c for c in [self.column, *self.popup] if c is not None]
        missing = [c for c in wanted if c not in self.frame.columns]
        if missing:
            raise ValidationError(f"{where}: frame has no column(s) {', '.join(missing)}; "
                                  f"columns are {', '.join(map(str, self.frame.columns))}")
        if self.categories is not None:
            if self.kind != "choropleth" or self.column is None:
                raise ValidationError(f"{where}: categories= is for a choropleth with column=")
            for cat in self.categories:
                if not _HEX.match(cat.colour):
                    raise ValidationError(f"{where}: category {cat.label!r} colour "
                                          f"{cat.colour!r} is not of the form #rrggbb")
            known = {c.value for c in self.categories}
            values = self.frame[self.column].dropna()
            unknown = sorted({str(v) for v in values.unique() if v not in known})
            if unknown:
                raise ValidationError(
                    f"{where}: column {self.column!r} holds {', '.join(unknown[:5])}, which "
                    "no category matches; categories are "
                    f"{', '.join(str(c.value) for c in self.categories)}")
        elif self.column is not None and not pd.api.types.is_numeric_dtype(
                self.frame[self.column]):
            raise ValidationError(f"{where}: column {self.column!r} must be numeric")
        present = set(self.frame.geometry.dropna().geom_type) if len(self.frame) else set()
        wrong = present - _GEOMS[self.kind]
        if wrong:
            raise ValidationError(
                f"{where}: a {self.kind} layer cannot draw {', '.join(sorted(wrong))} "
                f"geometries; expected {', '.join(sorted(_GEOMS[self.kind]))}")

    @property
    def heading(self) -> str:
        return self.legend if self.legend is not None else self.name


# ---------------------------------------------------------------------------------------
# shared styling

def format_value(value: Any) -> str:
    """A value for people: thousands separators, 3 significant figures, blanks for NA.

    >>> format_value(1839.5867), format_value(9.96607294317218), format_value(2826.0)
    ('1,840', '9.97', '2,826')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "suppressed / none"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return f"{v:,.0f}" if v.is_integer() or abs(v) >= 100 else f"{v:.3g}"
    return str(value)


def _values(layer: MapLayer) -> np.ndarray:
    assert layer.column is not None
    return pd.to_numeric(layer.frame[layer.column], errors="coerce").astype("float64").to_numpy()


@dataclass(frozen=True)
class Classes:
    """Choropleth classes: ``index`` (class per feature, -1 for no value), and per class its
    ``labels`` and ``colours`` (legend order)."""

    index: np.ndarray
    labels: list[str]
    colours: list[str]


def _range_label(lo: float, hi: float) -> str:
    return format_value(lo) if lo == hi else f"{format_value(lo)} – {format_value(hi)}"


def classify(values: Any, *, categories: Sequence[Category] | None = None) -> Classes:
    """Classes of choropleth ``values``.

    With ``categories``: one class per category (all listed, in their order), matched by
    value. Otherwise: NaN and infinite values (e.g. the distance to a kind of service the
    register lacks) have no class; zero is a class of its own when no value is negative
    (an area with no offences is not "low"); the rest are split at quantiles of their
    *distinct* values into at most five classes, so ties cannot collapse the classes, and
    each class is labelled by the smallest and largest value it holds.

    Examples
    --------
    >>> c = classify(np.array([0.0, 0.0, 0.0, 1.5, 3.0, 92.9, np.nan]))
    >>> c.index.tolist(), c.labels
    ([0, 0, 0, 1, 2, 3, -1], ['0', '1.5', '3', '92.9'])
    >>> classify(np.array([3, 0, -2]), categories=GI_STAR).index.tolist()
    [0, 3, 5]
    """
    if categories is not None:
        position = {c.value: k for k, c in enumerate(categories)}
        raw = pd.Series(np.asarray(values, dtype=object))
        idx = np.array([-1 if pd.isna(v) else position.get(v, -1) for v in raw], dtype=int)
        return Classes(idx, [c.label for c in categories], [c.colour for c in categories])
    vals = np.asarray(values, dtype="float64")
    missing = ~np.isfinite(vals)
    ok = vals[~missing]
    idx = np.full(vals.shape, -1)
    if ok.size == 0:
        return Classes(idx, [], [])
    labels: list[str] = []
    colours: list[str] = []
    rest = ~missing
    if ok.min() == 0:
        zero = ~missing & (vals == 0)
        idx[zero] = 0
        labels.append("0")
        colours.append(ZERO)
        rest = rest & ~zero
    if rest.any():
        distinct = np.unique(vals[rest])
        n = min(len(PALETTE), distinct.size)
        # quantiles of the distinct values: n runs of (nearly) as many distinct values each
        inner = np.array([part[0] for part in np.array_split(distinct, n)[1:]])
        raw_class = np.searchsorted(inner, vals[rest], side="right")
        used = np.unique(raw_class)
        renumber = {int(c): k for k, c in enumerate(used)}
        idx[rest] = [len(labels) + renumber[int(c)] for c in raw_class]
        members = vals[rest]
        for c in used:
            inside = members[raw_class == c]
            labels.append(_range_label(float(inside.min()), float(inside.max())))
        colours += _class_colours(len(used))
    return Classes(idx, labels, colours)


def _layer_classes(layer: MapLayer, frame: gpd.GeoDataFrame) -> Classes:
    assert layer.column is not None
    if layer.categories is not None:
        return classify(frame[layer.column].to_numpy(), categories=layer.categories)
    return classify(pd.to_numeric(frame[layer.column], errors="coerce")
                    .astype("float64").to_numpy())


def _class_colours(n: int) -> list[str]:
    """``n`` colours spread over the palette (always ending at its darkest)."""
    if n <= 0:
        return []
    picks = np.round(np.linspace(0, len(PALETTE) - 1, n)).astype(int) if n > 1 else [2]
    return [PALETTE[i] for i in picks]


def _sizes(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Sizes from ``lo`` to ``hi`` by square root of value (area ~ value); ``lo`` for NaN or
    infinite."""
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    if top <= 0:
        return np.full(values.shape, lo)
    scaled = np.sqrt(np.clip(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), 0, None)
                     / top)
    return lo + (hi - lo) * scaled


def _wgs84(layer: MapLayer) -> gpd.GeoDataFrame:
    frame = layer.frame[~(layer.frame.geometry.isna() | layer.frame.geometry.is_empty)]
    return frame.to_crs("EPSG:4326") if frame.crs.to_epsg() != 4326 else frame


# ---------------------------------------------------------------------------------------
# HTML

def _vendor(vendor_dir: Path) -> tuple[str, str]:
    js_path, css_path = vendor_dir / "leaflet.js", vendor_dir / "leaflet.css"
    if not (js_path.is_file() and css_path.is_file()):
        raise MissingDataError(
            f"{vendor_dir}: Leaflet's leaflet.js and leaflet.css are not there, so the map "
            "cannot open offline. Fix: run `make vendor` (or pass vendor_dir=)")
    js = js_path.read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    css = css_path.read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        image = vendor_dir / "images" / match.group(1)
        if not image.is_file():
            return "none"
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    return js, css


def _popup_html(layer: MapLayer, frame: gpd.GeoDataFrame) -> list[str] | None:
    if not layer.popup:
        return None
    head = f"<b>{html.escape(layer.name)}</b>"
    cols = list(layer.popup)
    rows = frame[cols].itertuples(index=False, name=None)
    return [head + "<table>" + "".join(
        f"<tr><th>{html.escape(str(c))}</th><td>{html.escape(format_value(v))}</td></tr>"
        for c, v in zip(cols, values, strict=True)) + "</table>" for values in rows]


def _styles(layer: MapLayer, frame: gpd.GeoDataFrame) -> tuple[list[dict[str, Any]], str]:
    """Leaflet style per feature and the legend entries (HTML) of one layer."""
    n = len(frame)
    colour = layer.colour
    if layer.kind == "choropleth":
        classes = _layer_classes(layer, frame)
        colours = classes.colours
        styles = [{"fillColor": colours[i] if i >= 0 else NO_VALUE, "fillOpacity": 0.7,
                   "color": "#555555", "weight": 0.6} for i in classes.index]
        items = [(f'<i style="background:{c}"></i>', lab)
                 for c, lab in zip(colours, classes.labels, strict=True)]
        if (classes.index < 0).any():
            items.append((f'<i style="background:{NO_VALUE}"></i>', layer.no_value))
    elif layer.kind == "points":
        vals = (pd.to_numeric(frame[layer.column], errors="coerce").astype("float64").to_numpy()
                if layer.column else np.full(n, np.nan))
        radius = _sizes(vals, 4.0, 14.0) if layer.column else np.full(n, 5.0)
        styles = [{"radius": round(float(r), 1), "color": "#222222", "weight": 1,
                   "fill": True, "fillColor": colour, "fillOpacity": 0.85} for r in radius]
        items = [(f'<i class="gi-dot" style="background:{colour}"></i>',
                  f"size: {layer.column}" if layer.column else "")]
    elif layer.kind == "lines":
        vals = (pd.to_numeric(frame[layer.column], errors="coerce").astype("float64").to_numpy()
                if layer.column else np.full(n, np.nan))
        width = _sizes(vals, 2.0, 7.0) if layer.column else np.full(n, 3.0)
        styles = [{"color": colour, "weight": round(float(w), 1), "opacity": 0.85}
                  for w in width]
        items = [(f'<i class="gi-line" style="background:{colour}"></i>',
                  f"width: {layer.column}" if layer.column else "")]
    else:
        styles = [{"color": colour, "weight": 1.5, "fill": False}] * n
        items = [(f'<i class="gi-outline" style="border-color:{colour}"></i>', "")]
    legend = "".join(f"<div>{sw} {html.escape(str(lab))}</div>" for sw, lab in items)
    return styles, f"<div class='gi-lh'>{html.escape(layer.heading)}</div>{legend}"


def _feature_collection(frame: gpd.GeoDataFrame, styles: list[dict[str, Any]],
                        popups: list[str] | None) -> dict[str, Any]:
    geoms = shapely.transform(frame.geometry.to_numpy(), lambda xy: np.round(xy, 6))
    features = []
    for i, geom in enumerate(geoms):
        props: dict[str, Any] = {"style": styles[i]}
        if popups is not None:
            props["popup"] = popups[i]
        features.append({"type": "Feature", "properties": props,
                         "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}


def _bounds(frames: Sequence[gpd.GeoDataFrame]) -> list[list[float]] | None:
    boxes = [f.total_bounds for f in frames if len(f)]
    if not boxes:
        return None
    b = np.vstack(boxes)
    return [[float(b[:, 1].min()), float(b[:, 0].min())],
            [float(b[:, 3].max()), float(b[:, 2].max())]]


_CSS = """
html, body {{ margin: 0; padding: 0; width: 100%; height: 100%; font-family: Arial, sans-serif; }}
#{map} {{ position: absolute !important; top: {b}px !important; bottom: {b}px !important;
  left: 0 !important; right: 0 !important; width: auto !important; height: auto !important; }}
.gi-marking {{ position: fixed; left: 0; right: 0; height: {b}px; line-height: {b}px;
  text-align: center; font-weight: bold; letter-spacing: 0.08em; color: #fff;
  background: #1d1d1b; z-index: 2000; font-size: 14px; }}
.gi-top {{ top: 0; }} .gi-bottom {{ bottom: 0; }}
.gi-box {{ position: absolute; z-index: 1000; background: rgba(255,255,255,0.92);
  border: 1px solid #999; border-radius: 4px; padding: 6px 9px; font-size: 12px; }}
.gi-title {{ top: {t}px; left: 60px; max-width: 45%; }}
.gi-title h1 {{ font-size: 17px; margin: 0; }}
.gi-north {{ top: {n}px; left: 10px; text-align: center; font-weight: bold; padding: 3px 6px; }}
.gi-legend {{ bottom: {t}px; right: 10px; max-width: 300px; max-height: 45%; overflow: auto; }}
.gi-legend i {{ display: inline-block; width: 14px; height: 12px; vertical-align: middle;
  border: 1px solid #777; }}
.gi-legend i.gi-dot {{ border-radius: 7px; }}
.gi-legend i.gi-line {{ height: 3px; border: 0; }}
.gi-legend i.gi-outline {{ background: transparent; border-width: 2px; }}
.gi-lh {{ font-weight: bold; margin-top: 4px; }}
.gi-sources {{ margin-top: 6px; font-size: 10px; color: #333; }}
.leaflet-popup-content th {{ text-align: left; padding-right: 8px; }}
.leaflet-control-scale {{ margin-bottom: {t}px !important; }}
"""

_NORTH = ('<div class="gi-box gi-north" title="North"><svg width="18" height="26" '
          'viewBox="0 0 18 26" aria-hidden="true"><polygon points="9,0 17,22 9,17 1,22" '
          'fill="#222"/></svg><div>N</div></div>')


def _script(code: str) -> Any:
    """A map child whose ``code`` runs after the children added before it."""
    from branca.element import MacroElement, Template

    element = MacroElement()
    element._template = Template("{% macro script(this, kwargs) %}" + code + "{% endmacro %}")
    return element


def _stripped_map(**kwargs: Any) -> Any:
    """A folium Map that links no external script or stylesheet."""
    import folium

    class _OfflineMap(folium.Map):
        default_js = []  # noqa: RUF012 (folium's own attribute, emptied)
        default_css = []  # noqa: RUF012

    return _OfflineMap(**kwargs)


def build_map(
    layers: Sequence[MapLayer],
    *,
    title: str,
    marking: str,
    sources: str = ATTRIBUTION,
    date: str | None = None,
    tiles: str | None = None,
    vendor_dir: Path | None = None,
) -> str:
    """One self-contained HTML document showing ``layers`` (opens with no network).

    Parameters
    ----------
    layers
        Drawn in order (first at the bottom); each gets an entry in the layer control.
    title
        Map title (escaped).
    marking
        Protective marking shown in a banner at the top and the bottom.
    sources
        Data sources and attribution shown on the map.
    date
        Date shown under the title; today (ISO) if ``None``.
    tiles
        URL template of a tile server (``https://tiles.example/{z}/{x}/{y}.png``) for
        deployments that have one; by default there is no tile layer and the boundaries
        are the base map.
    vendor_dir
        Folder holding Leaflet's ``leaflet.js``, ``leaflet.css`` and ``images/``; default
        ``data/vendor/leaflet``.

    Raises
    ------
    MissingDataError
        If Leaflet's files are not in ``vendor_dir`` (run ``make vendor``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> areas = gpd.GeoDataFrame({"rate": [1.0, 4.0]}, crs="EPSG:27700",
    ...                          geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)])
    >>> page = build_map([MapLayer("Rate", areas, "choropleth", column="rate")],
    ...                  title="Harm", marking="OFFICIAL", date="2019-02-28")
    >>> page.count(">OFFICIAL</div>"), "cdn.jsdelivr" in page, "L.control.scale" in page
    (2, False, True)
    """
    import folium
    from branca.element import Element
    from folium.utilities import JsCode

    if not layers:
        raise ValidationError("build_map: layers is empty; give at least one MapLayer")
    if vendor_dir is None:
        vendor_dir = Settings().data_dir / "vendor" / "leaflet"
    js, css = _vendor(vendor_dir)
    date = date or _dt.date.today().isoformat()
    frames = [_wgs84(layer) for layer in layers]
    bounds = _bounds(frames)
    centre = ([(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
              if bounds else [52.5, -1.5])
    fmap = _stripped_map(location=centre, zoom_start=10, tiles=None, control_scale=True,
                         attribution_control=tiles is not None)
    root = fmap.get_root()
    root.title = html.escape(title)
    root.header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js")
    root.header.add_child(Element("<style>" + _CSS.format(
        map=fmap.get_name(), b=_BANNER_PX, t=_BANNER_PX + 10, n=_BANNER_PX + 84) + "</style>"),
        name="geointel_css")
    if tiles is not None:
        folium.TileLayer(tiles=tiles, attr=html.escape(sources), name="Base map",
                         control=False).add_to(fmap)
    legends = []
    popup_js = JsCode("function(feature, layer) { if (feature.properties.popup) "
                      "{ layer.bindPopup(feature.properties.popup, {maxWidth: 360}); } }")
    pairs = []
    for k, (layer, frame) in enumerate(zip(layers, frames, strict=True)):
        styles, legend = _styles(layer, frame)
        hidden = "" if layer.show else ' style="display:none"'
        legends.append(f'<div class="gi-layer" id="gi-legend-{k}"{hidden}>{legend}</div>')
        marker = folium.CircleMarker(radius=5) if layer.kind == "points" else None
        geo = folium.GeoJson(
            _feature_collection(frame, styles, _popup_html(layer, frame)),
            name=html.escape(layer.name), show=layer.show, marker=marker,
            on_each_feature=popup_js,
        ).add_to(fmap)
        pairs.append((geo.get_name(), f"gi-legend-{k}"))
    folium.LayerControl(collapsed=False).add_to(fmap)
    # the legend lists only the layers that are on: follow the layer control
    _script(
        "(function () { var map = " + fmap.get_name() + "; var pairs = ["
        + ", ".join(f"[{js}, '{legend_id}']" for js, legend_id in pairs) + "];"
        " function sync() { pairs.forEach(function (p) {"
        " var el = document.getElementById(p[1]);"
        " if (el) { el.style.display = map.hasLayer(p[0]) ? '' : 'none'; } }); }"
        " map.on('overlayadd overlayremove', sync); sync(); })();").add_to(fmap)
    if bounds:
        fmap.fit_bounds(bounds)
    mark = html.escape(marking)
    root.html.add_child(Element(
        f'<div class="gi-marking gi-top">{mark}</div>'
        f'<div class="gi-box gi-title"><h1>{html.escape(title)}</h1>'
        f'<div>{html.escape(date)}</div></div>' + _NORTH +
        '<div class="gi-box gi-legend">' + "".join(legends) +
        f'<div class="gi-sources">Sources: {html.escape(sources)}</div></div>'
        f'<div class="gi-marking gi-bottom">{mark}</div>'))
    page: str = root.render()
    log.info("built map %r with %d layers (%d characters)", title, len(layers), len(page))
    return page


# ---------------------------------------------------------------------------------------
# print

def _nice_length(span: float) -> float:
    """A round scale-bar length close to a fifth of ``span`` (metres)."""
    target = max(span / 5, 1.0)
    base = 10 ** math.floor(math.log10(target))
    return float(max(m * base for m in (1, 2, 5) if m * base <= target))


def plot_layers(ax: Axes, layers: Sequence[MapLayer]) -> None:
    """Draw ``layers`` on ``ax`` in British National Grid with legend, scale bar and north arrow.

    Layers with ``show=False`` are left out: a print shows what the interactive map shows
    when it opens (a hidden choropleth would otherwise cover the one below it).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from matplotlib.figure import Figure
    >>> from shapely.geometry import Point
    >>> pts = gpd.GeoDataFrame(geometry=[Point(0, 51), Point(0.1, 51.1)], crs="EPSG:4326")
    >>> ax = Figure().add_subplot()
    >>> plot_layers(ax, [MapLayer("Sites", pts, "points"),
    ...                  MapLayer("Stops", pts, "points", show=False)])
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['Sites']
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    for layer in layers:
        frame = layer.frame[~(layer.frame.geometry.isna() | layer.frame.geometry.is_empty)]
        frame = frame.to_crs("EPSG:27700") if frame.crs.to_epsg() != 27700 else frame
        if frame.empty or not layer.show:
            continue
        if layer.kind == "choropleth":
            classes = _layer_classes(layer, frame)
            colours = classes.colours
            fill = [colours[i] if i >= 0 else NO_VALUE for i in classes.index]
            frame.plot(ax=ax, color=fill, edgecolor="#555555", linewidth=0.25)
            handles += [Patch(facecolor=c, edgecolor="#555555",
                              label=f"{layer.heading}: {lab}" if k == 0 else lab)
                        for k, (c, lab) in enumerate(zip(colours, classes.labels,
                                                         strict=True))]
            if (classes.index < 0).any():
                handles.append(Patch(facecolor=NO_VALUE, edgecolor="#555555",
                                     label=layer.no_value))
        elif layer.kind == "points":
            vals = (_values(layer)[~(layer.frame.geometry.isna()
                                     | layer.frame.geometry.is_empty).to_numpy()]
                    if layer.column else np.full(len(frame), np.nan))
            size = (_sizes(vals, 4.0, 14.0) if layer.column else np.full(len(frame), 5.0)) ** 2
            ax.scatter(frame.geometry.x, frame.geometry.y, s=size, c=layer.colour,
                       edgecolors="#222222", linewidths=0.5, zorder=3)
            handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=layer.colour,
                                  markeredgecolor="#222222", label=layer.heading))
        elif layer.kind == "lines":
            frame.plot(ax=ax, color=layer.colour, linewidth=1.5, zorder=2)
            handles.append(Line2D([], [], color=layer.colour, label=layer.heading))
        else:
            frame.boundary.plot(ax=ax, color=layer.colour, linewidth=0.8, zorder=2)
            handles.append(Patch(facecolor="none", edgecolor=layer.colour, label=layer.heading))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.9)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    sx, sy = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.05
    ax.plot([sx, sx + length], [sy, sy], color="black", linewidth=3, solid_capstyle="butt",
            zorder=5)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(sx + length / 2, sy + (y1 - y0) * 0.015, label, ha="center", va="bottom",
            fontsize=8, zorder=5)
    ax.annotate("N", xy=(0.04, 0.95), xytext=(0.04, 0.84), xycoords="axes fraction",
                ha="center", va="center", fontsize=11, fontweight="bold",
                arrowprops={"facecolor": "black", "width": 4, "headwidth": 12})


def map_figure(
    layers: Sequence[MapLayer],
    *,
    title: str,
    marking: str,
    sources: str = ATTRIBUTION,
    date: str | None = None,
    size: tuple[float, float] = (11.69, 8.27),
) -> Figure:
    """A matplotlib figure (A4 landscape by default) of ``layers`` with marking and sources.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> pts = gpd.GeoDataFrame(geometry=[Point(0, 51)], crs="EPSG:4326")
    >>> fig = map_figure([MapLayer("Sites", pts, "points")], title="Sites", marking="OFFICIAL")
    >>> [round(float(v), 2) for v in fig.get_size_inches()]
    [11.69, 8.27]
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    fig.text(0.5, 0.985, marking, ha="center", va="top", fontsize=12, fontweight="bold")
    fig.text(0.5, 0.012, marking, ha="center", va="bottom", fontsize=12, fontweight="bold")
    fig.text(0.5, 0.945, title, ha="center", va="top", fontsize=15)
    ax = fig.add_axes((0.04, 0.1, 0.92, 0.8))
    plot_layers(ax, layers)
    fig.text(0.04, 0.07, f"Date: {date or _dt.date.today().isoformat()}", fontsize=8)
    fig.text(0.04, 0.06, f"Sources: {sources}", fontsize=6.5, wrap=True, va="top")
    return fig


def static_map_png(
    layers: Sequence[MapLayer],
    *,
    title: str,
    marking: str,
    sources: str = ATTRIBUTION,
    size: tuple[float, float] = (11.69, 8.27),
    date: str | None = None,
    dpi: int = 150,
) -> bytes:
    """PNG of ``layers`` for print: A4 landscape, legend, scale bar, north arrow, marking.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> pts = gpd.GeoDataFrame(geometry=[Point(0, 51)], crs="EPSG:4326")
    >>> static_map_png([MapLayer("S", pts, "points")], title="S", marking="OFFICIAL")[:4]
    b'\\x89PNG'
    """
    if not layers:
        raise ValidationError("static_map_png: layers is empty; give at least one MapLayer")
    fig = map_figure(layers, title=title, marking=marking, sources=sources, date=date,
                     size=size)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def layer_summary(layers: Sequence[MapLayer]) -> list[dict[str, Any]]:
    """Name, kind, sensitivity and feature count of each layer (for reports and JSON).

    >>> import geopandas as gpd
    >>> layer_summary([MapLayer("A", gpd.GeoDataFrame(geometry=[], crs=27700), "outline")])
    [{'name': 'A', 'kind': 'outline', 'sensitivity': 'partner', 'features': 0}]
    """
    return [{"name": layer.name, "kind": layer.kind, "sensitivity": layer.sensitivity,
             "features": len(layer.frame)} for layer in layers]


# ---------------------------------------------------------------------------------------
# layers the app and the packs share

def area_polygons(lsoas: gpd.GeoDataFrame, level: str = "lad", *,
                  tolerance: float = 50.0) -> gpd.GeoDataFrame:
    """Polygons of an Area at ``level`` (``"lsoa"``, ``"msoa"``, ``"ward"``, ``"lad"``):
    ``code``, ``name``, ``lad_code``, dissolved from its LSOAs and simplified to
    ``tolerance`` metres.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> lsoas = gpd.GeoDataFrame({"lad_code": ["E1", "E1"], "lad_name": ["A", "A"]},
    ...                          geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
    ...                          crs=27700)
    >>> la = area_polygons(lsoas)
    >>> la["code"].tolist(), float(la.area.sum())
    (['E1'], 2000000.0)
    """
    from geointel.harm import LEVELS

    code_col, name_col = LEVELS[level]
    frame = gpd.GeoDataFrame({"code": lsoas[code_col].to_numpy(),
                              "name": lsoas[name_col].to_numpy(),
                              "lad_code": lsoas["lad_code"].to_numpy()},
                             geometry=lsoas.geometry.to_numpy(), crs=lsoas.crs)
    if level != "lsoa":
        frame = frame.dissolve(by="code", aggfunc={"name": "first", "lad_code": "first"}
                               ).reset_index()
    return frame.set_geometry(frame.geometry.simplify(tolerance))


def boundary_layer(boundaries: gpd.GeoDataFrame, *,
                   name: str = "Local authority boundaries") -> MapLayer:
    """The base layer of every map: boundary outlines (``code``, ``name``), so a map with
    its data layers switched off still shows where it is, with no tile server.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> la = gpd.GeoDataFrame({"code": ["E1"], "name": ["A"]}, geometry=[box(0, 0, 1, 1)],
    ...                       crs=27700)
    >>> layer = boundary_layer(la)
    >>> layer.kind, layer.sensitivity, list(layer.popup)
    ('outline', 'public', ['name', 'code'])
    """
    return MapLayer(name, boundaries, "outline", colour="#444444",
                    popup=[c for c in ("name", "code") if c in boundaries.columns],
                    sensitivity="public")


def siting_layers(result: Any, *, sites: gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
                  area_id_col: str = "lsoa_code", area_name_col: str = "lsoa_name",
                  boundaries: gpd.GeoDataFrame | None = None) -> list[MapLayer]:
    """Map layers of a solved siting model (:class:`geointel.siting.SitingResult`).

    Parameters
    ----------
    result
        The solved model: its ``existing`` and ``selected`` site ids, ``marginal_gain`` and
        ``assignment`` (demand ids are ``areas[area_id_col]``).
    sites
        Every candidate and existing site (``site_id``, ``name``, ``kind``, points).
    areas
        Demand area polygons with ``area_id_col``, ``area_name_col`` and ``population``.
    boundaries
        Outline polygons drawn first (see :func:`boundary_layer`).

    Returns
    -------
    list of MapLayer
        Boundaries (if given); the areas left beyond the threshold of every open site (if
        the model has a threshold); the existing services; the new sites, sized by their
        marginal gain.

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import Point, box
    >>> from geointel.siting import MCLP
    >>> r = MCLP.from_cost_matrix(np.array([[100., 900.], [900., 5000.]]), [10, 5],
    ...                           threshold=500, p=1, fixed=[False, True],
    ...                           site_ids=["new", "old"], demand_ids=["A1", "A2"]).solve()
    >>> sites = gpd.GeoDataFrame({"site_id": ["new", "old"], "name": ["Hall", "Hub"],
    ...                           "kind": ["venue", "treatment_hub"]},
    ...                          geometry=[Point(0, 0), Point(900, 0)], crs=27700)
    >>> areas = gpd.GeoDataFrame({"lsoa_code": ["A1", "A2"], "lsoa_name": ["a", "b"],
    ...                           "population": [10, 5]},
    ...                          geometry=[box(0, 0, 1, 1), box(5, 0, 6, 1)], crs=27700)
    >>> [(layer.name, len(layer.frame)) for layer in siting_layers(r, sites=sites,
    ...                                                            areas=areas)]
    [('LSOAs beyond 500 m of every open site', 1), ('Existing services kept open', 1), \
('New sites chosen', 1)]
    """
    layers: list[MapLayer] = []
    if boundaries is not None and len(boundaries):
        layers.append(boundary_layer(boundaries))
    gain_label = ("weighted metres saved" if result.model == "pmedian"
                  else "residents newly covered")
    if result.threshold is not None:
        left = result.uncovered[["demand_id", "distance"]].rename(
            columns={"demand_id": area_id_col})
        far = areas[[area_id_col, area_name_col, "population", areas.geometry.name]].merge(
            left, on=area_id_col)
        far["distance to nearest open site (m)"] = far.pop("distance").round(0)
        layers.append(MapLayer(
            f"LSOAs beyond {result.threshold:,.0f} m of every open site", far, "outline",
            colour="#7b3294", popup=[area_name_col, area_id_col, "population",
                                     "distance to nearest open site (m)"]))
    info = [c for c in ("name", "kind") if c in sites.columns]
    existing = sites.loc[sites["site_id"].isin(result.existing), ["site_id", *info,
                                                                  sites.geometry.name]]
    if len(existing):
        layers.append(MapLayer("Existing services kept open", existing, "points",
                               colour="#1a9641", popup=[*info], sensitivity="public"))
    gains = result.marginal_gain[["site_id", "order", "gain"]].rename(
        columns={"gain": gain_label})
    new = sites[["site_id", *info, sites.geometry.name]].merge(gains, on="site_id")
    new = new.sort_values("order").reset_index(drop=True)
    layers.append(MapLayer("New sites chosen", new, "points", column=gain_label,
                           colour="#2c7bb6", popup=["order", "site_id", *info, gain_label]))
    return layers
