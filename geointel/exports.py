"""One writer for every data export: GeoPackage, GeoJSON and CSV, marked and attributed.

:func:`export_layers` is what the harm, access, siting and lines writers, the briefing pack
and the app's downloads all use, so every export gets the same guarantees:

- the user's role is checked first (:func:`geointel.auth.check_role` with the export's
  capability), so an export cannot be reached around the app;
- the protective marking travels with the data: a ``marking`` column in every GeoPackage
  layer (and CSV, unless a downstream reader needs the exact columns), a top-level
  ``metadata`` member in every GeoJSON, ``MARKING.txt`` beside the CSVs and ``marking`` at
  the top of ``summary.json``; the data attribution goes with it;
- only pseudonymised data leave: a text column holding a raw phone number or IMEI is refused
  (:class:`~geointel.errors.PrivacyError`) before anything is written.

Files: ``<stem>.gpkg`` (a layer per name, CRS kept), ``<name>.geojson`` per layer (WGS84, RFC
7946), ``<name>.csv`` per table, ``MARKING.txt`` and ``summary.json``. The returned mapping is
keyed by file name.

Examples
--------
>>> import tempfile
>>> t = pd.DataFrame({"ward": ["Kursaal"], "count": [12]})
>>> paths = export_layers(Path(tempfile.mkdtemp()), tables={"wards": t}, marking="OFFICIAL",
...                       role="planner", capability="export:harm")
>>> sorted(paths)
['MARKING.txt', 'summary.json', 'wards.csv']
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import pandas as pd

from geointel.auth import check_role
from geointel.errors import PrivacyError, ValidationError
from geointel.opendata import OGL_ATTRIBUTION

log = logging.getLogger(__name__)

#: Attribution carried by every export (as on the maps).
ATTRIBUTION = OGL_ATTRIBUTION
FORMATS = ("gpkg", "geojson", "csv")
_NO_LAYERS: Mapping[str, gpd.GeoDataFrame] = MappingProxyType({})
_NO_TABLES: Mapping[str, pd.DataFrame] = MappingProxyType({})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: A UK mobile number (any common spelling) or a 15-digit IMEI, once spaces and
#: punctuation are removed.
_RAW_ID = re.compile(r"^(?:(?:\+?44|0044|0)7\d{9}|\d{15})$")
_SEPARATORS = re.compile(r"[\s()\-.]")


def _check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValidationError(
            f"{what} name {name!r} cannot be a file or layer name; use letters, digits, "
            "'_', '-' or '.' (e.g. 'ward_rates')")
    return name


def raw_identifier_columns(frame: pd.DataFrame) -> list[str]:
    """Text columns of ``frame`` holding something that looks like a raw phone number or IMEI.

    Examples
    --------
    >>> raw_identifier_columns(pd.DataFrame({"a": ["07700 900123"], "b": ["Pabcdef0123456789"],
    ...                                      "month": ["2019-01-01"]}))
    ['a']
    """
    found = []
    for col in frame.columns:
        series = frame[col]
        text = series.dtype == object or pd.api.types.is_string_dtype(series)
        if col == "geometry" or not text:
            continue
        values = pd.Series(series.dropna().unique()).astype(str)
        if values.str.replace(_SEPARATORS, "", regex=True).str.match(_RAW_ID).any():
            found.append(str(col))
    return found


def _refuse_raw(frame: pd.DataFrame, name: str) -> None:
    bad = raw_identifier_columns(frame)
    if bad:
        raise PrivacyError(
            f"export {name!r}: column(s) {', '.join(bad)} hold raw phone numbers or handset "
            "identifiers; exports carry pseudonyms only. Fix: read the data through the "
            "geointel readers (which pseudonymise) or drop those columns")


def export_layers(
    out_dir: Path,
    *,
    layers: Mapping[str, gpd.GeoDataFrame] = _NO_LAYERS,
    tables: Mapping[str, pd.DataFrame] = _NO_TABLES,
    marking: str,
    role: str,
    capability: str,
    formats: Collection[str] = FORMATS,
    summary: Mapping[str, Any] | None = None,
    stem: str = "layers",
    attribution: str = ATTRIBUTION,
    marking_column: bool = True,
) -> dict[str, Path]:
    """Write ``layers`` and ``tables`` into ``out_dir`` for a user of ``role``.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed); files of the same names are replaced.
    layers
        Map layers by name: into ``<stem>.gpkg`` (one layer each, CRS kept) and
        ``<name>.geojson`` (WGS84). Empty layers are skipped (and logged).
    tables
        Tables by name: into ``<name>.csv`` (a ``geometry`` column is dropped).
    marking
        Protective marking, e.g. ``"OFFICIAL"`` or ``"OFFICIAL-SENSITIVE"``.
    role, capability
        Who is exporting and what (``"export:harm"``, ``"export:siting"``, ...); checked
        against :data:`geointel.auth.CAPABILITIES` before anything is written.
    formats
        Any of ``"gpkg"``, ``"geojson"``, ``"csv"``.
    summary
        Extra figures for ``summary.json`` (after ``marking`` and ``attribution``).
    stem
        Name of the GeoPackage file.
    attribution
        Data attribution written with the marking.
    marking_column
        Add a ``marking`` column to the CSVs (GeoPackage layers always get one). Turn it
        off only for files another reader takes back with fixed columns; ``MARKING.txt``
        and ``summary.json`` still carry the marking.

    Returns
    -------
    dict
        File name -> path of every file written.

    Raises
    ------
    AccessDenied
        If ``role`` may not use ``capability``.
    PrivacyError
        If a layer or table holds raw phone numbers or handset identifiers.
    ValidationError
        For an unknown format or a name that cannot be a file name.

    Examples
    --------
    >>> import tempfile
    >>> from shapely.geometry import Point
    >>> pts = gpd.GeoDataFrame({"site": ["A"]}, geometry=[Point(588000, 186000)],
    ...                        crs="EPSG:27700")
    >>> p = export_layers(Path(tempfile.mkdtemp()), layers={"sites": pts}, marking="OFFICIAL",
    ...                   role="planner", capability="export:siting", formats=["geojson"])
    >>> json.loads(p["sites.geojson"].read_text())["metadata"]["marking"]
    'OFFICIAL'
    """
    check_role(role, capability)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValidationError(f"formats: {', '.join(unknown)} not known; use any of "
                              f"{', '.join(FORMATS)}")
    _check_name(stem, "GeoPackage")
    for name, layer in layers.items():
        _check_name(name, "layer")
        if not isinstance(layer, gpd.GeoDataFrame) or layer.crs is None:
            raise ValidationError(f"layer {name!r} must be a GeoDataFrame with a CRS")
        _refuse_raw(layer, name)
    for name, table in tables.items():
        _check_name(name, "table")
        _refuse_raw(table, name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    written = {name: layer for name, layer in layers.items() if len(layer)}
    for name in sorted(set(layers) - set(written)):
        log.info("layer %r is empty; not exported", name)
    if "gpkg" in formats and written:
        gpkg = out / f"{stem}.gpkg"
        if gpkg.exists():
            gpkg.unlink()
        for i, (name, layer) in enumerate(written.items()):
            layer.assign(marking=marking).to_file(gpkg, layer=name, driver="GPKG",
                                                  mode="w" if i == 0 else "a")
        paths[gpkg.name] = gpkg
    if "geojson" in formats:
        for name, layer in written.items():
            wgs = layer.to_crs("EPSG:4326") if layer.crs.to_epsg() != 4326 else layer
            body = json.loads(wgs.to_json(drop_id=True, na="null", default=str))
            body = {"type": "FeatureCollection", "name": name,
                    "metadata": {"marking": marking, "attribution": attribution},
                    "features": body["features"]}
            path = out / f"{name}.geojson"
            path.write_text(json.dumps(body, default=str) + "\n", encoding="utf-8")
            paths[path.name] = path
    if "csv" in formats and tables:
        for name, table in tables.items():
            frame = pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
            if marking_column:
                frame = frame.assign(marking=marking)
            path = out / f"{name}.csv"
            frame.to_csv(path, index=False)
            paths[path.name] = path
        path = out / "MARKING.txt"
        path.write_text(f"{marking}\n\n{attribution}\n", encoding="utf-8")
        paths[path.name] = path
    path = out / "summary.json"
    body_summary = {"marking": marking, "attribution": attribution, **(summary or {})}
    path.write_text(json.dumps(body_summary, indent=2, default=str) + "\n", encoding="utf-8")
    paths[path.name] = path
    log.info("exported %d files to %s (%s, %s)", len(paths), out, marking, capability)
    return paths
