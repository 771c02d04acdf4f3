"""CSV exports that are safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return, which some spreadsheets strip before reading a formula) gets
a leading apostrophe, so Excel, LibreOffice and Google Sheets show it as text
instead of running it. Numeric columns stay numbers: a negative amount is
not a formula.
"""

from __future__ import annotations

import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """Prefix a formula-like string with an apostrophe; leave anything else alone."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells and column names are escaped."""
    escaped = frame.copy()
    for column in escaped.columns:
        series = escaped[column]
        if is_object_dtype(series.dtype) or is_string_dtype(series.dtype):
            escaped[column] = series.map(escape_cell, na_action="ignore")
    escaped.columns = [escape_cell(str(c)) for c in escaped.columns]
    return escaped


def to_csv(frame: pd.DataFrame) -> bytes:
    """Encode ``frame`` as UTF-8 CSV (with a BOM so Excel detects the encoding)."""
    return escape_frame(frame).to_csv(index=False).encode("utf-8-sig")
