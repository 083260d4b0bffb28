"""ONS statistical and administrative boundaries: LSOA, MSOA, ward and local authority.

:func:`read_boundaries` reads a GeoJSON, GeoPackage or Shapefile as published by the ONS
Open Geography Portal, in any CRS, and returns polygons in British National Grid with the
code and name columns found by pattern, so that 2011, 2021 and later vintages all work.

Output columns
--------------
``code``, ``name``, ``level`` (``'lsoa' | 'msoa' | 'ward' | 'lad'``), ``vintage``
(``'2011'``, ``'2021'``, ``'2025'`` ...), ``lad_code`` (from ``LADCD_ACTIVE`` or ``LADyyCD``
when present, else ``''``), ``utla_code`` (``UTLACD`` if present, else ``''``), ``geometry``
(Polygon/MultiPolygon, EPSG:27700), ``_file`` and ``_line`` (1-based feature number).

Rejected features: null or empty geometry, non-polygon geometry, an invalid geometry that
:func:`shapely.make_valid` cannot turn into a polygon, a blank code, a duplicate code.
Invalid geometries that can be repaired are repaired and counted in the log (INFO).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geointel.errors import CRSError, DataFileError
from geointel.io._geo import BNG, EASTING_RANGE, NORTHING_RANGE, WGS84
from geointel.io._table import FILE, LINE, ReadResult, RejectLog

log = logging.getLogger(__name__)

KIND = "ONS boundary file (GeoJSON, GeoPackage or Shapefile)"
COLUMNS = ["code", "name", "level", "vintage", "lad_code", "utla_code", "geometry", FILE, LINE]
LEVELS = ("lsoa", "msoa", "ward", "lad")
# Order matters: a ward file also carries LADyyCD, an LSOA file may carry MSOA codes.
_CODE_PATTERNS = (
    ("lsoa", re.compile(r"^lsoa(\d{2})cd$", re.IGNORECASE)),
    ("msoa", re.compile(r"^msoa(\d{2})cd$", re.IGNORECASE)),
    ("ward", re.compile(r"^wd(\d{2})cd$", re.IGNORECASE)),
    ("lad", re.compile(r"^lad(\d{2})cd$", re.IGNORECASE)),
)
_POLYGONAL = {"Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class _Columns:
    level: str
    vintage: str
    code: str
    name: str | None
    lad: str | None
    utla: str | None


def _find_columns(path: Path, columns: list[str]) -> _Columns:
    by_lower = {c.lower(): c for c in columns}
    for level, pattern in _CODE_PATTERNS:
        found = sorted(c for c in columns if pattern.match(c))
        if not found:
            continue
        code = found[-1]  # the newest vintage if a file carries several
        yy = pattern.match(code).group(1)  # type: ignore[union-attr]
        name = by_lower.get(code[:-2].lower() + "nm")
        # LADCD_ACTIVE, or its Shapefile-truncated form LADCD_ACTI
        lad = by_lower.get("ladcd_active", by_lower.get("ladcd_acti"))
        if lad is None:
            lads = sorted(c for c in columns if _CODE_PATTERNS[3][1].match(c))
            lad = lads[-1] if lads else None
        return _Columns(level=level, vintage=f"20{yy}", code=code, name=name, lad=lad,
                        utla=by_lower.get("utlacd"))
    shown = ", ".join(repr(c) for c in columns[:15])
    raise DataFileError(
        path,
        f"has no boundary code column (looked for LSOAyyCD, MSOAyyCD, WDyyCD or LADyyCD; "
        f"the attributes are: {shown})",
        fix="download the boundaries from the ONS Open Geography Portal with their code "
            "attribute, e.g. LSOA11CD or WD25CD",
    )


def _read_frame(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    if not path.exists():
        raise DataFileError(path, f"does not exist (expected a {KIND})",
                            fix="check the path, or run `geointel data sync`")
    if path.is_file() and path.stat().st_size == 0:
        raise DataFileError(path, "is empty", fix="download the boundary file again")
    try:
        layers = pyogrio.list_layers(path)
        if layer is None and len(layers) > 1:
            names = ", ".join(repr(str(n)) for n in layers[:, 0])
            raise DataFileError(path, f"has {len(layers)} layers ({names})",
                                fix="name the one to read with layer=...")
        # a geometry GEOS cannot build (e.g. a one-point ring) becomes null, and is
        # then rejected as that feature's fault rather than failing the whole file
        return pyogrio.read_dataframe(path, layer=layer, on_invalid="ignore")
    except (DataSourceError, DataLayerError) as err:
        raise DataFileError(path, f"cannot be read as a {KIND}: {err}",
                            fix="check the file is complete (a Shapefile needs its .shp, "
                                ".shx and .dbf together), or download it again") from None
    except UnicodeDecodeError as err:  # pyogrio decodes attribute text as UTF-8
        raise DataFileError(path, f"has attribute text that is not UTF-8 (byte "
                                  f"0x{err.object[err.start]:02x})",
                            fix="re-save it with UTF-8 text (GeoJSON must be UTF-8; for a "
                                "Shapefile, a .cpg file beside it names its encoding)"
                            ) from None


def _with_crs(path: Path, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with a CRS that its coordinates plausibly match, or a CRSError."""
    if frame.crs is None:
        if path.suffix.lower() not in {".geojson", ".json"}:
            raise CRSError(
                f"{path}: has no coordinate reference system, so its coordinates cannot be "
                "placed. Fix: keep the .prj file beside the .shp (or re-export it from your "
                "GIS with its CRS), or convert it to GeoJSON in WGS84")
        frame = frame.set_crs(WGS84)  # RFC 7946: GeoJSON without a CRS is WGS84
    if frame.crs.is_geographic:
        minx, miny, maxx, maxy = frame.total_bounds
        if np.isfinite([minx, maxx]).all() and (
                max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90):
            raise CRSError(
                f"{path}: says its CRS is {frame.crs.name} (degrees) but its coordinates reach "
                f"{maxx:.0f}, {maxy:.0f}, which look like metres. Fix: re-export it with the "
                "right CRS (British National Grid is EPSG:27700)")
    return frame


def _polygon_parts(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygonal part of a repaired geometry, or None if it has none."""
    if geom.geom_type in _POLYGONAL:
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if g.geom_type in _POLYGONAL and not g.is_empty]
    if not polys:
        return None
    return shapely.unary_union(polys)


def read_boundaries(path: str | Path, *, layer: str | None = None) -> ReadResult:
    """Read ONS boundaries (GeoJSON, GeoPackage or Shapefile) into EPSG:27700 polygons.

    Parameters
    ----------
    path
        The boundary file. Any CRS; a GeoJSON without one is WGS84 (RFC 7946).
    layer
        Layer to read from a multi-layer file such as a GeoPackage.

    Returns
    -------
    ReadResult
        ``data`` is a GeoDataFrame with ``code, name, level, vintage, lad_code, utla_code,
        geometry, _file, _line``; ``rows_read`` counts features.

    Raises
    ------
    DataFileError
        Missing, empty, corrupt or ambiguous (several layers) file, or no code column.
    CRSError
        A Shapefile/GeoPackage without a CRS, or degrees that are plainly metres.

    Examples
    --------
    >>> import tempfile, os, json
    >>> p = os.path.join(tempfile.mkdtemp(), "lsoa.geojson")
    >>> ring = [[0.70, 51.53], [0.71, 51.53], [0.71, 51.54], [0.70, 51.53]]
    >>> feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
    ...            "properties": {"LSOA11CD": "E01015814", "LSOA11NM": "Southend-on-Sea 003A"}}
    >>> _ = open(p, "w").write(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    >>> r = read_boundaries(p)
    >>> r.data[["code", "level", "vintage"]].values.tolist(), r.data.crs.to_epsg()
    ([['E01015814', 'lsoa', '2011']], 27700)
    """
    path = Path(path)
    raw = _read_frame(path, layer)
    if len(raw) == 0:
        raise DataFileError(path, "has no features", fix="download the boundary file again")
    columns = _find_columns(path, [c for c in raw.columns if c != raw.geometry.name])
    raw = _with_crs(path, raw)  # geometry is checked in the CRS it was drawn in

    def text(column: str | None) -> pd.Series:
        if column is None:
            return pd.Series("", index=raw.index, dtype=object)
        return raw[column].astype(object).where(raw[column].notna(), "").astype(str).str.strip()

    frame = gpd.GeoDataFrame({
        "code": text(columns.code),
        "name": text(columns.name),
        "level": columns.level,
        "vintage": columns.vintage,
        "lad_code": text(columns.lad),
        "utla_code": text(columns.utla),
        FILE: str(path),
        LINE: np.arange(1, len(raw) + 1, dtype="int64"),
    }, geometry=raw.geometry.to_numpy(), crs=raw.crs)
    if columns.level == "lad":
        frame["lad_code"] = frame["lad_code"].where(frame["lad_code"] != "", frame["code"])

    rejects = RejectLog()
    geoms = frame.geometry
    frame = rejects.take(frame, geoms.isna() | geoms.is_empty, "geometry is null or empty")
    types = frame.geometry.geom_type
    frame = rejects.take(frame, ~types.isin(_POLYGONAL),
                         "geometry is a " + types.astype(str) + ", not a polygon")
    invalid = ~frame.geometry.is_valid
    if invalid.any():
        repaired = [_polygon_parts(g) for g in shapely.make_valid(frame.geometry[invalid].values)]
        fixed = pd.Series(repaired, index=frame.index[invalid], dtype=object)
        hopeless = pd.Series(frame.index.isin(fixed.index[fixed.isna()]), index=frame.index)
        frame = rejects.take(frame, hopeless,
                             "geometry is invalid and cannot be repaired into a polygon")
        fixed = fixed.dropna()
        if len(fixed):
            frame = frame.copy()
            frame.loc[fixed.index, "geometry"] = gpd.GeoSeries(fixed, crs=frame.crs)
            log.info("%s: repaired %d invalid geometries (features %s)", path, len(fixed),
                     ", ".join(str(n) for n in frame.loc[fixed.index, LINE].head(10)))
    if frame.crs.to_epsg() != 27700:
        frame = gpd.GeoDataFrame(frame).to_crs(BNG)
    box = frame.geometry.bounds
    near = (np.isfinite(box.to_numpy()).all(axis=1) & (box["maxx"] >= EASTING_RANGE[0])
            & (box["minx"] <= EASTING_RANGE[1]) & (box["maxy"] >= NORTHING_RANGE[0])
            & (box["miny"] <= NORTHING_RANGE[1]))
    frame = rejects.take(frame, ~near, "geometry lies wholly outside Great Britain (wrong CRS, "
                                       "or longitude and latitude swapped?)")
    frame = rejects.take(frame, frame["code"] == "", f"{columns.code} is blank")
    first = frame.groupby("code")[LINE].transform("min")
    frame = rejects.take(frame, frame["code"].duplicated(keep="first"),
                         "duplicate code " + frame["code"] + " (first at feature "
                         + first.astype(str) + ")")
    data = gpd.GeoDataFrame(frame[COLUMNS].reset_index(drop=True), geometry="geometry",
                            crs=frame.crs)
    return ReadResult(data=data, rejects=rejects.frame(), rows_read=len(raw),
                      sources=(str(path),))
