"""The one progress callback shape used by every long-running function.

A function that may take more than ~2 s takes ``progress: Progress | None = None`` and
calls ``progress(done, total, message)``. The CLI renders it with rich, the app with
``st.progress``.

Examples
--------
>>> seen = []
>>> report(lambda d, t, m: seen.append((d, t, m)), 1, 4, "reading")
>>> seen
[(1, 4, 'reading')]
>>> report(None, 1, 4, "ignored")
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None]


def report(progress: Progress | None, done: int, total: int, message: str) -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(done, total, message)
