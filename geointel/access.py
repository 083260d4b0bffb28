"""Access to services: distances from LSOA centroids, coverage shares and gap areas.

Distances are straight lines in British National Grid (EPSG:27700) times a detour factor
unless a road network is supplied, in which case they are shortest paths along it. A
geographic CRS (degrees) in a distance computation is a :class:`~geointel.errors.CRSError`.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> homes = gpd.GeoSeries([Point(0, 0), Point(3000, 4000)], crs="EPSG:27700")
>>> shops = gpd.GeoSeries([Point(0, 0)], crs="EPSG:27700")
>>> distance_matrix(homes, shops, detour=1.0).ravel().tolist()
[0.0, 5000.0]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from geointel._progress import Progress, report
from geointel.errors import CRSError, DataFileError, DependencyError, ValidationError

log = logging.getLogger(__name__)

BNG = "EPSG:27700"
#: Service kinds the access tables report on by default (``"any"`` is added to them).
SERVICE_KINDS = ("naloxone", "pharmacy", "treatment_hub")
#: Default walking speed, km/h (a common planning assumption for an adult on foot).
WALKING_SPEED_KMH = 4.8
DEFAULT_DETOUR = 1.3

Points: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries


def walking_threshold_m(minutes: float, *, speed_kmh: float = WALKING_SPEED_KMH) -> float:
    """Route length in metres walked in ``minutes`` at ``speed_kmh``.

    Compare it with :func:`distance_matrix` distances, which already include the detour
    factor (straight line x detour ~ route length).

    Examples
    --------
    >>> walking_threshold_m(15, speed_kmh=4.8)
    1200.0
    """
    if not minutes > 0 or not speed_kmh > 0:
        raise ValidationError(
            f"walking time {minutes!r} min at {speed_kmh!r} km/h: both must be positive numbers")
    return float(minutes) * float(speed_kmh) * 1000.0 / 60.0


def _bng_xy(points: Points, name: str) -> np.ndarray:
    """(n, 2) coordinates in EPSG:27700 of point geometries; checks CRS and geometry type."""
    if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        raise ValidationError(f"{name} must be a GeoDataFrame or GeoSeries of points, "
                              f"not {type(points).__name__}")
    crs = points.crs
    if crs is None:
        raise CRSError(f"{name} has no CRS; set it (e.g. .set_crs('EPSG:27700') for "
                       "eastings/northings) before computing distances")
    if crs.is_geographic:
        raise CRSError(f"{name} is in a geographic CRS ({crs.to_string()}, degrees); "
                       "distances need metres. Fix: .to_crs('EPSG:27700')")
    geoms = points.geometry
    if len(geoms) and (geoms.isna().any() or geoms.is_empty.any()):
        raise ValidationError(f"{name} has missing or empty geometries; drop them first")
    if len(geoms) and not (geoms.geom_type == "Point").all():
        kinds = sorted(set(geoms.geom_type) - {"Point"})
        raise ValidationError(f"{name} has {', '.join(kinds)} geometries, distances need "
                              "points. Fix: use the population-weighted centroids "
                              "(Area.centroids()) or .representative_point()")
    if crs.to_epsg() != 27700:
        geoms = geoms.to_crs(BNG)
    return np.column_stack([geoms.x.to_numpy(dtype=float), geoms.y.to_numpy(dtype=float)])


def distance_matrix(
    origins: Points,
    destinations: Points,
    *,
    detour: float = DEFAULT_DETOUR,
    network: nx.Graph | None = None,
) -> np.ndarray:
    """Distances in metres from every origin (rows) to every destination (columns).

    Parameters
    ----------
    origins, destinations
        Point GeoDataFrames/GeoSeries in a projected CRS (converted to EPSG:27700).
    detour
        Factor applied to straight-line distances to approximate route length (>= 1).
        Ignored when ``network`` is given.
    network
        A road network as an osmnx-style networkx graph: nodes with ``x``/``y`` in
        EPSG:27700 metres (see :func:`load_road_network`) and edges with ``length`` in
        metres. Each point is joined to its nearest node by a straight line; the distance
        is that access leg at both ends plus the shortest path. Unreachable pairs are
        ``inf``. Directed graphs are walked along edge directions.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(origins), len(destinations))``.

    Raises
    ------
    CRSError
        If either input has no CRS or a geographic one.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> a = gpd.GeoSeries([Point(0, 0)], crs="EPSG:27700")
    >>> b = gpd.GeoSeries([Point(300, 400), Point(0, 100)], crs="EPSG:27700")
    >>> distance_matrix(a, b).round(1).tolist()
    [[650.0, 130.0]]
    """
    if not detour >= 1.0:
        raise ValidationError(f"detour={detour!r}: the detour factor must be a number >= 1 "
                              "(1.0 for straight lines)")
    xy_o = _bng_xy(origins, "origins")
    xy_d = _bng_xy(destinations, "destinations")
    if network is not None:
        return _network_matrix(xy_o, xy_d, network)
    diff = xy_o[:, None, :] - xy_d[None, :, :]
    return np.hypot(diff[..., 0], diff[..., 1]) * float(detour)


def _network_nodes(network: nx.Graph) -> tuple[list[Any], np.ndarray]:
    crs = network.graph.get("crs")
    if crs is not None and CRS.from_user_input(crs).is_geographic:
        raise CRSError(f"the road network is in a geographic CRS ({crs}); distances need "
                       "metres. Fix: load it with load_road_network() or ox.project_graph()")
    nodes = list(network.nodes)
    if not nodes:
        raise ValidationError("the road network has no nodes")
    try:
        xy = np.array([[float(network.nodes[n]["x"]), float(network.nodes[n]["y"])]
                       for n in nodes])
    except KeyError:
        raise ValidationError("road network nodes need 'x' and 'y' attributes (EPSG:27700 "
                              "metres), as osmnx graphs have") from None
    return nodes, xy


def _network_matrix(xy_o: np.ndarray, xy_d: np.ndarray, network: nx.Graph) -> np.ndarray:
    from scipy.spatial import cKDTree

    nodes, xy = _network_nodes(network)
    if any("length" not in data for _, _, data in network.edges(data=True)):
        raise ValidationError("road network edges need a 'length' attribute in metres, "
                              "as osmnx graphs have")
    tree = cKDTree(xy)
    snap_o, node_o = tree.query(xy_o) if len(xy_o) else (np.empty(0), np.empty(0, int))
    snap_d, node_d = tree.query(xy_d) if len(xy_d) else (np.empty(0), np.empty(0, int))
    # Distances *to* a destination node: search from it over reversed edges.
    graph = network.reverse(copy=False) if network.is_directed() else network
    out = np.full((len(xy_o), len(xy_d)), np.inf)
    for j_node in np.unique(node_d):
        lengths = nx.single_source_dijkstra_path_length(graph, nodes[j_node], weight="length")
        along = np.array([lengths.get(nodes[i], np.inf) for i in node_o], dtype=float)
        cols = np.flatnonzero(node_d == j_node)
        out[:, cols] = (snap_o + along)[:, None] + snap_d[cols][None, :]
    return out


#: File names read as an OpenStreetMap XML extract (through osmnx); others as GraphML.
OSM_XML_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.bz2", ".osm.gz", ".osm.xml.bz2",
                    ".osm.xml.gz")


def load_road_network(path: str | Path, *, bidirectional: bool = True) -> nx.MultiDiGraph:
    """Read a road network for distances, offline: GraphML or an OpenStreetMap XML extract.

    * **GraphML** (``.graphml``, e.g. written by ``osmnx.save_graphml``): node ``x``/``y``
      and edge ``length`` become floats.
    * **OpenStreetMap XML** (``.osm``, ``.osm.xml``, ``.xml``, or those compressed as
      ``.bz2``/``.gz``), e.g. an extract cut from a Geofabrik download, read with
      ``osmnx.graph_from_xml`` (needs the ``osm`` extra: ``pip install 'geointel[osm]'``).
      Ways with a ``highway`` tag become edges (buildings, boundaries and other ways are
      dropped; cut the extract to the network you mean: walking paths, roads); the graph
      is simplified and only its largest connected part kept, so points are not snapped
      to an island. ``bidirectional``
      (default, for walking) lets one-way streets be walked both ways; ``False`` keeps
      their direction (for driving).
    * **OSM PBF** (``.osm.pbf``) cannot be read by osmnx: convert it to OSM XML first
      (``osmium cat extract.osm.pbf -o extract.osm``).

    A graph in a geographic CRS (as osmnx builds from OpenStreetMap before projecting) has
    its node coordinates converted to EPSG:27700; osmnx edge lengths are already metres.
    Nothing is downloaded.

    Raises
    ------
    DataFileError
        A missing, unreadable or PBF file, or nodes/edges without coordinates/lengths.
    DependencyError
        An OSM XML extract without osmnx installed (names the extra to install).

    Examples
    --------
    >>> import networkx as nx, tempfile, os
    >>> g = nx.MultiDiGraph(crs="EPSG:27700")
    >>> g.add_node(1, x=0, y=0); g.add_node(2, x=100, y=0)
    >>> _ = g.add_edge(1, 2, length=120.0)
    >>> p = os.path.join(tempfile.mkdtemp(), "roads.graphml"); nx.write_graphml(g, p)
    >>> load_road_network(p).edges["1", "2", 0]["length"]
    120.0
    """
    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        raise DataFileError(path, "does not exist (expected a road network: GraphML or an "
                                  "OpenStreetMap XML extract)",
                            fix="save one with osmnx.save_graphml, or cut an .osm extract")
    if name.endswith(".pbf"):
        raise DataFileError(path, "is an OSM PBF file, which osmnx cannot read",
                            fix="convert it to OSM XML offline, e.g. `osmium cat "
                                f"{path.name} -o {path.name.removesuffix('.pbf')}`")
    if name.endswith(OSM_XML_SUFFIXES):
        graph = _read_osm_xml(path, bidirectional=bidirectional)
    else:
        graph = _read_graphml(path)
    if not graph.graph.get("crs"):
        raise DataFileError(path, "has no 'crs' graph attribute, so its x/y cannot be placed",
                            fix="save it with osmnx.save_graphml, which records the CRS")
    crs = CRS.from_user_input(graph.graph["crs"])
    if crs.to_epsg() != 27700:
        to_bng = Transformer.from_crs(crs, BNG, always_xy=True)
        names = list(graph.nodes)
        xs, ys = to_bng.transform([graph.nodes[n]["x"] for n in names],
                                  [graph.nodes[n]["y"] for n in names])
        for n, x, y in zip(names, xs, ys, strict=True):
            graph.nodes[n]["x"], graph.nodes[n]["y"] = float(x), float(y)
    graph.graph["crs"] = BNG
    log.info("road network %s: %d nodes, %d edges", path, graph.number_of_nodes(),
             graph.number_of_edges())
    return graph


def _read_graphml(path: Path) -> nx.MultiDiGraph:
    try:
        raw = nx.read_graphml(path)
    except Exception as err:  # networkx raises several parser errors
        raise DataFileError(path, f"is not a readable GraphML file ({err})",
                            fix="save the network with osmnx.save_graphml, or name an "
                                "OpenStreetMap extract .osm") from None
    graph = nx.MultiDiGraph(raw) if not raw.is_multigraph() else raw
    if not isinstance(graph, nx.MultiDiGraph):
        graph = nx.MultiDiGraph(graph)
    try:
        for _, data in graph.nodes(data=True):
            data["x"], data["y"] = float(data["x"]), float(data["y"])
        for _, _, data in graph.edges(data=True):
            data["length"] = float(data["length"])
    except KeyError as err:
        raise DataFileError(path, f"has nodes or edges without {err.args[0]!r}",
                            fix="nodes need x/y and edges length (metres), as osmnx writes them"
                            ) from None
    return graph


def _read_osm_xml(path: Path, *, bidirectional: bool) -> nx.MultiDiGraph:
    try:
        import osmnx as ox
    except ImportError:
        raise DependencyError(f"reading the OpenStreetMap extract {path} needs osmnx. Fix: "
                              "pip install 'geointel[osm]', or pass a GraphML network saved "
                              "with osmnx elsewhere") from None
    try:
        raw = ox.graph_from_xml(path, bidirectional=bidirectional, simplify=False,
                                retain_all=True)
    except Exception as err:  # XML parser, empty graph and osmnx errors
        raise DataFileError(path, f"is not a usable OpenStreetMap XML extract ({err})",
                            fix="export OSM XML with highway ways (e.g. osmium, JOSM or "
                                "an Overpass query saved as .osm)") from None
    # osmnx turns every way into edges: keep the roads and paths only
    roads = [(u, v, k) for u, v, k, tag in raw.edges(keys=True, data="highway") if tag]
    if not roads:
        raise DataFileError(path, "has no ways tagged highway, so no road network",
                            fix="cut the extract to include the roads and paths")
    graph = raw.edge_subgraph(roads).copy()
    graph = ox.truncate.largest_component(graph, strongly=False)
    graph = ox.simplify_graph(graph)
    for _, data in graph.nodes(data=True):
        data["x"], data["y"] = float(data["x"]), float(data["y"])
    for _, _, data in graph.edges(data=True):
        data["length"] = float(data["length"])
    return graph


def nearest_service(
    origins: Points,
    services: gpd.GeoDataFrame,
    *,
    kinds: Sequence[str] | None = None,
    kind_column: str = "kind",
    id_column: str = "service_id",
    detour: float = DEFAULT_DETOUR,
    network: nx.Graph | None = None,
) -> pd.DataFrame:
    """Distance to, and id of, the nearest service of each kind and of any kind.

    Parameters
    ----------
    origins
        Points (e.g. LSOA population-weighted centroids) in a projected CRS.
    services
        Service points with ``kind_column`` and ``id_column``.
    kinds
        Kinds to report (default: those in ``services``, sorted). A kind with no service
        gets distance ``inf`` and id ``<NA>``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``origins``; ``dist_<kind>`` (metres) and ``nearest_<kind>`` for
        each kind and for ``any``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> o = gpd.GeoSeries([Point(0, 0)], crs="EPSG:27700")
    >>> s = gpd.GeoDataFrame({"service_id": ["a", "b"], "kind": ["pharmacy", "naloxone"]},
    ...                      geometry=[Point(100, 0), Point(0, 50)], crs="EPSG:27700")
    >>> nearest_service(o, s, detour=1.0).iloc[0].to_dict()["nearest_any"]
    'b'
    """
    for col in (kind_column, id_column):
        if col not in services.columns:
            raise ValidationError(f"services has no column {col!r} (columns: "
                                  f"{', '.join(map(str, services.columns))}); pass "
                                  "kind_column=/id_column= or read them with read_services()")
    matrix = distance_matrix(origins, services, detour=detour, network=network)
    service_kinds = services[kind_column].astype(str).to_numpy()
    ids = services[id_column].astype(str).to_numpy()
    wanted = sorted(set(service_kinds)) if kinds is None else list(kinds)
    out: dict[str, Any] = {}
    for kind in [*wanted, "any"]:
        cols = np.arange(len(ids)) if kind == "any" else np.flatnonzero(service_kinds == kind)
        if len(cols) == 0:
            log.info("no services of kind %r: its distances are infinite", kind)
            out[f"dist_{kind}"] = np.full(matrix.shape[0], np.inf)
            out[f"nearest_{kind}"] = pd.array([pd.NA] * matrix.shape[0], dtype="string")
            continue
        sub = matrix[:, cols]
        best = np.argmin(sub, axis=1) if sub.shape[0] else np.empty(0, dtype=int)
        dist = sub[np.arange(sub.shape[0]), best]
        near = pd.array(ids[cols][best], dtype="string")
        near[~np.isfinite(dist)] = pd.NA
        out[f"dist_{kind}"] = dist
        out[f"nearest_{kind}"] = near
    return pd.DataFrame(out, index=origins.index)


def _centroids(lsoas: gpd.GeoDataFrame) -> gpd.GeoSeries:
    if {"centroid_easting", "centroid_northing"} <= set(lsoas.columns):
        e = pd.to_numeric(lsoas["centroid_easting"], errors="coerce")
        n = pd.to_numeric(lsoas["centroid_northing"], errors="coerce")
        if e.isna().any() or n.isna().any():
            bad = lsoas.loc[e.isna() | n.isna()].index[:5].tolist()
            raise ValidationError(f"lsoas has missing centroid_easting/northing (rows {bad}); "
                                  "rebuild the Area so every LSOA has a centroid")
        return gpd.GeoSeries(gpd.points_from_xy(e, n), index=lsoas.index, crs=BNG)
    if isinstance(lsoas, gpd.GeoDataFrame) and (lsoas.geom_type == "Point").all():
        return lsoas.geometry
    raise ValidationError("lsoas needs centroid_easting/centroid_northing columns (as "
                          "Area.lsoas has) or point geometries")


def lsoa_access(
    lsoas: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    *,
    kinds: Sequence[str] = SERVICE_KINDS,
    detour: float = DEFAULT_DETOUR,
    network: nx.Graph | None = None,
) -> gpd.GeoDataFrame:
    """Per LSOA: distance from its population-weighted centroid to each kind of service.

    Parameters
    ----------
    lsoas
        ``Area.lsoas`` (needs ``centroid_easting``/``centroid_northing``), or any frame of
        point geometries.
    services
        ``read_services(...).data``: ``service_id``, ``kind``, geometry.
    kinds
        Kinds to report besides ``any``.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``lsoas`` with ``dist_<kind>`` / ``nearest_<kind>`` columns added.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> l = gpd.GeoDataFrame({"lsoa_code": ["E1"], "centroid_easting": [0.0],
    ...     "centroid_northing": [0.0]}, geometry=[Point(0, 0)], crs="EPSG:27700")
    >>> s = gpd.GeoDataFrame({"service_id": ["a"], "kind": ["pharmacy"]},
    ...     geometry=[Point(1000, 0)], crs="EPSG:27700")
    >>> lsoa_access(l, s, detour=1.3)["dist_pharmacy"].tolist()
    [1300.0]
    """
    near = nearest_service(_centroids(lsoas), services, kinds=kinds, detour=detour,
                           network=network)
    out = lsoas.copy()
    for col in near.columns:
        out[col] = near[col].to_numpy()
    return out


def _weights(table: pd.DataFrame, weights: Sequence[str]) -> dict[str, np.ndarray]:
    out = {}
    for w in weights:
        if w not in table.columns:
            raise ValidationError(f"weight column {w!r} is not in the access table (columns: "
                                  f"{', '.join(map(str, table.columns))}); add it first")
        values = pd.to_numeric(table[w], errors="coerce").to_numpy(dtype=float)
        if np.isnan(values).any() or (values < 0).any():
            raise ValidationError(f"weight column {w!r} has missing or negative values; "
                                  "fill them (e.g. 0) or choose another weight")
        out[w] = values
    return out


def coverage(
    table: pd.DataFrame,
    *,
    threshold_m: float,
    weights: Sequence[str] = ("population",),
    kinds: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Share of each weight (population, need) whose LSOA is within ``threshold_m``.

    Parameters
    ----------
    table
        Output of :func:`lsoa_access` (``dist_<kind>`` columns) with the weight columns.
    threshold_m
        Route metres (use :func:`walking_threshold_m` for walking minutes).
    weights
        Columns to weight by: ``population``, offences, deaths, an IMD-weighted
        population... ``"lsoas"`` counts areas.
    kinds
        Kinds to report (default every ``dist_<kind>`` column).

    Returns
    -------
    pandas.DataFrame
        One row per (kind, weight): ``covered``, ``total``, ``share`` (``NaN`` if total 0).

    Examples
    --------
    >>> t = pd.DataFrame({"dist_any": [100.0, 900.0], "population": [300, 100]})
    >>> coverage(t, threshold_m=500)[["kind", "weight", "share"]].values.tolist()
    [['any', 'population', 0.75]]
    """
    if not threshold_m >= 0:
        raise ValidationError(f"threshold_m={threshold_m!r} must be a distance >= 0 metres")
    kinds = _kinds(table, kinds)
    series = {"lsoas": np.ones(len(table))} if "lsoas" in weights else {}
    series |= _weights(table, [w for w in weights if w != "lsoas"])
    rows = []
    for kind in kinds:
        within = table[f"dist_{kind}"].to_numpy(dtype=float) <= threshold_m
        for w in weights:
            total = float(series[w].sum())
            covered = float(series[w][within].sum())
            rows.append({"kind": kind, "weight": w, "threshold_m": float(threshold_m),
                         "covered": covered, "total": total,
                         "share": covered / total if total > 0 else float("nan")})
    return pd.DataFrame(rows)


def suppress_small_weights(table: pd.DataFrame, *, weights: Sequence[str],
                           threshold: int) -> pd.DataFrame:
    """Coverage rows (:func:`coverage`, :func:`coverage_by_time`) fit for partner outputs
    when some ``weights`` count people in small numbers (deaths).

    For those weights ``covered`` and ``total`` are dropped, and ``share`` is kept only
    when the people within reach and beyond it are each 0 or at least ``threshold``
    (a share of 2 deaths in 3 would say 1 lies beyond reach). Other rows are kept.

    >>> t = pd.DataFrame({"weight": ["population", "deaths", "deaths"],
    ...                   "covered": [900.0, 30.0, 8.0], "total": [1000.0, 40.0, 10.0],
    ...                   "share": [0.9, 0.75, 0.8]})
    >>> suppress_small_weights(t, weights=["deaths"], threshold=5)["share"].tolist()
    [0.9, 0.75, nan]
    """
    small = table["weight"].isin(list(weights)).to_numpy()
    out = table.copy()
    beyond = out["total"] - out["covered"]
    unsafe = small & (((out["covered"] > 0) & (out["covered"] < threshold))
                      | ((beyond > 0) & (beyond < threshold))).to_numpy()
    out.loc[unsafe, "share"] = np.nan
    out.loc[small, ["covered", "total"]] = np.nan
    return out


def _kinds(table: pd.DataFrame, kinds: Sequence[str] | None) -> list[str]:
    found = [c.removeprefix("dist_") for c in table.columns if str(c).startswith("dist_")]
    if kinds is None:
        if not found:
            raise ValidationError("the access table has no dist_<kind> columns; "
                                  "build it with lsoa_access()")
        return found
    missing = [k for k in kinds if k not in found]
    if missing:
        raise ValidationError(f"the access table has no distances for {', '.join(missing)} "
                              f"(it has {', '.join(found) or 'none'})")
    return list(kinds)


def gap_areas(
    table: pd.DataFrame,
    *,
    threshold_m: float,
    kind: str = "any",
    need: str = "population",
    code_column: str = "lsoa_code",
) -> pd.DataFrame:
    """Areas beyond ``threshold_m`` from a ``kind`` service, most need first.

    Ranked by the ``need`` weight out of reach (descending), then by distance
    (descending), then by code, so the order is deterministic.

    Returns
    -------
    pandas.DataFrame
        ``rank``, the code (and ``lsoa_name`` if present), ``distance_m``, ``excess_m``
        (distance beyond the threshold), the need column, and ``nearest`` service id.

    Examples
    --------
    >>> t = pd.DataFrame({"lsoa_code": ["A", "B", "C"], "dist_any": [100.0, 900.0, 2000.0],
    ...                   "nearest_any": ["s1", "s1", "s2"], "population": [10, 50, 20]})
    >>> gap_areas(t, threshold_m=500)[["rank", "lsoa_code"]].values.tolist()
    [[1, 'B'], [2, 'C']]
    """
    _kinds(table, [kind])
    if code_column not in table.columns:
        raise ValidationError(f"the access table has no {code_column!r} column; "
                              "pass code_column=")
    values = _weights(table, [need])[need]
    dist = table[f"dist_{kind}"].to_numpy(dtype=float)
    cols = [code_column] + (["lsoa_name"] if "lsoa_name" in table.columns else [])
    out = pd.DataFrame(table[cols]).reset_index(drop=True)
    out["distance_m"] = dist
    out["excess_m"] = dist - float(threshold_m)
    out[need] = values
    nearest = f"nearest_{kind}"
    if nearest in table.columns:
        out["nearest"] = table[nearest].to_numpy()
    out = out.loc[dist > threshold_m]
    out = out.sort_values([need, "distance_m", code_column], ascending=[False, False, True],
                          kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


@dataclass(frozen=True)
class TimeWindow:
    """A recurring part of the week: ``days`` (0 = Monday) from ``start`` to ``end`` minutes.

    Examples
    --------
    >>> TimeWindow("weekday evening", (0, 1, 2, 3, 4), 18 * 60, 21 * 60).end
    1260
    """

    label: str
    days: tuple[int, ...]
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.days or any(d not in range(7) for d in self.days):
            raise ValidationError(f"time window {self.label!r}: days must be 0 (Monday) .. 6")
        if not 0 <= self.start < self.end <= 24 * 60:
            raise ValidationError(f"time window {self.label!r}: need 0 <= start < end <= 1440 "
                                  f"minutes, got {self.start}..{self.end}")


#: Weekday daytime, weekday evening and weekend daytime, as the strategies name them.
TIME_WINDOWS: tuple[TimeWindow, ...] = (
    TimeWindow("weekday_daytime", (0, 1, 2, 3, 4), 9 * 60, 17 * 60),
    TimeWindow("weekday_evening", (0, 1, 2, 3, 4), 18 * 60, 21 * 60),
    TimeWindow("weekend", (5, 6), 10 * 60, 16 * 60),
)


def available_in(services: pd.DataFrame, window: TimeWindow, *,
                 unknown_hours: bool = False) -> pd.Series:
    """True for services open throughout ``window`` on every one of its days.

    Uses :func:`geointel.io.services.open_during` on the services' ``opening_hours``;
    services with blank (unknown) hours count as ``unknown_hours``.

    Examples
    --------
    >>> s = pd.DataFrame({"opening_hours": ["Mo-Sa 09:00-18:00", "24/7"]})
    >>> [available_in(s, w).tolist() for w in TIME_WINDOWS]
    [[True, True], [False, True], [False, True]]
    """
    from geointel.io.services import open_during

    if "opening_hours" not in services.columns:
        raise ValidationError("services has no 'opening_hours' column; read them with "
                              "read_services() or add OpenStreetMap-style hours")
    ok = pd.Series(True, index=services.index)
    for day in window.days:
        ok &= open_during(services, day, window.start, window.end,
                          unknown=unknown_hours).astype(bool)
    return ok


def coverage_by_time(
    lsoas: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    *,
    threshold_m: float,
    windows: Sequence[TimeWindow] = TIME_WINDOWS,
    kinds: Sequence[str] = SERVICE_KINDS,
    weights: Sequence[str] = ("population",),
    detour: float = DEFAULT_DETOUR,
    network: nx.Graph | None = None,
    unknown_hours: bool = False,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Coverage shares when only the services open in each time window count.

    A service counts in a window if it is open for the whole window on every day of it
    (a pharmacy shut on Sunday does not cover "weekend"). An ``"always"`` row gives the
    coverage counting every service regardless of hours. Services with blank hours count
    as open when ``unknown_hours`` is true.

    Returns
    -------
    pandas.DataFrame
        :func:`coverage` rows with a leading ``window`` column and ``services_open``.
    """
    frames = []
    steps = [None, *windows]
    for i, window in enumerate(steps):
        report(progress, i, len(steps), "always" if window is None else window.label)
        open_now = (pd.Series(True, index=services.index) if window is None
                    else available_in(services, window, unknown_hours=unknown_hours))
        table = lsoa_access(lsoas, services.loc[open_now], kinds=kinds, detour=detour,
                            network=network)
        cov = coverage(table, threshold_m=threshold_m, weights=weights)
        cov.insert(0, "window", "always" if window is None else window.label)
        cov.insert(1, "services_open", int(open_now.sum()))
        frames.append(cov)
    report(progress, len(steps), len(steps), "done")
    return pd.concat(frames, ignore_index=True)


def need_weights(
    lsoas: pd.DataFrame, counts: Mapping[str, pd.Series] | None = None
) -> pd.DataFrame:
    """Add need columns to an LSOA table: each named count series, and IMD-weighted people.

    ``imd_weighted_population`` is population x (11 - IMD decile) / 10, so the most
    deprived decile counts fully and the least deprived a tenth.

    Examples
    --------
    >>> t = pd.DataFrame({"lsoa_code": ["A", "B"], "population": [100, 100],
    ...                   "imd_decile": [1, 10]})
    >>> need_weights(t, {"offences": pd.Series({"A": 3})})[
    ...     ["offences", "imd_weighted_population"]].values.tolist()
    [[3.0, 100.0], [0.0, 10.0]]
    """
    out = lsoas.copy()
    if {"population", "imd_decile"} <= set(out.columns):
        decile = pd.to_numeric(out["imd_decile"], errors="coerce")
        pop = pd.to_numeric(out["population"], errors="coerce")
        out["imd_weighted_population"] = (pop * (11 - decile) / 10).fillna(0.0)
    for name, series in (counts or {}).items():
        out[name] = out["lsoa_code"].map(series).fillna(0).astype(float)
    return out
