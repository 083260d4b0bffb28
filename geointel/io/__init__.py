"""Readers, one per official format. Each returns a :class:`ReadResult`.

``rows_read == rows_accepted + rows_rejected`` always holds, and the rejects say which
file and line and why. A file that cannot be used at all raises
:class:`~geointel.errors.DataFileError` naming the file, the problem and the fix.
"""

from geointel.io._table import ReadResult, concat_results

__all__ = ["ReadResult", "concat_results"]
