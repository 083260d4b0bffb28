"""DuckDB plumbing shared by the contact reader and the network analysis.

The SQL is kept portable (standard ``GROUP BY``, joins and window functions over epoch
seconds); DuckDB is the embedded engine that runs it on one machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def connect(*, threads: int | None = None, memory_limit: str = "4GB") -> Any:
    """A new in-memory DuckDB connection that spills to a temporary folder past ``memory_limit``.

    >>> con = connect()
    >>> con.execute("SELECT 1 + 1").fetchall()
    [(2,)]
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false").fetchall()
    con.execute(f"SET memory_limit = '{memory_limit}'").fetchall()
    spill = Path(tempfile.gettempdir()) / "geointel_duckdb"
    con.execute(f"SET temp_directory = '{spill.as_posix()}'").fetchall()
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}").fetchall()
    return con


def fetch(con: Any, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run ``sql`` and return a DataFrame (through Arrow, much faster than ``.df()``).

    >>> fetch(connect(), "SELECT 1 AS x")["x"].tolist()
    [1]
    """
    relation = con.sql(sql, params=params) if params else con.sql(sql)
    return relation.to_arrow_table().to_pandas()
