"""One hierarchy of errors, each naming what is wrong and how to fix it.

Every error the library raises on purpose is a :class:`GeointelError`; the CLI turns
them into exit code 1 and the app into ``st.error``.

Examples
--------
>>> try:
...     raise DataFileError("crimes.csv", "is empty", fix="export the file again")
... except GeointelError as err:
...     print(err)
crimes.csv: is empty. Fix: export the file again
"""

from __future__ import annotations

from os import PathLike


class GeointelError(Exception):
    """Base class of every deliberate geointel error."""


class ValidationError(GeointelError, ValueError):
    """An argument or a value in the data is not acceptable."""


class CRSError(ValidationError):
    """A coordinate reference system is missing or unsuitable (e.g. degrees in a distance)."""


class DataFileError(GeointelError):
    """A file cannot be used at all: missing, empty, wrong format, columns or encoding.

    Parameters
    ----------
    path
        The file at fault.
    problem
        What is wrong, e.g. ``"has no column 'Crime type'"``.
    fix
        What the user should do about it.
    """

    def __init__(self, path: str | PathLike[str], problem: str, *, fix: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        message = f"{self.path}: {problem}"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class MissingDataError(GeointelError, FileNotFoundError):
    """Data the analysis needs has not been obtained (e.g. open data not synced)."""


class PrivacyError(GeointelError):
    """A privacy rule would be broken (missing or changed key, disclosive output)."""


class DependencyError(GeointelError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, *, extra: str) -> object:
    """Import an optional dependency or raise :class:`DependencyError` naming the extra.

    Examples
    --------
    >>> require("json", extra="app").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise DependencyError(
            f"{module} is not installed. Fix: pip install 'geointel[{extra}]'"
        ) from err


class AccessDenied(GeointelError, PermissionError):
    """The signed-in role may not use this page, layer or export."""
