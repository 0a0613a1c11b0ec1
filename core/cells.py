"""One neutraliser for every spreadsheet cell Chonai exports (CSV and Excel, archive and FAQ).

A cell that begins with = + - @ (or a TAB or CR, which Excel strips before looking) would be run
as a formula when the file is opened. CSV has no cell types, so such text gets a leading
apostrophe (OWASP's advice). In .xlsx the cell is written with an explicit string type, so
Excel shows the text exactly as written, with no stray apostrophe, and never evaluates it.
"""

from __future__ import annotations

from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_cell(value: object) -> object:
    """The value to hand to csv.writer: formula-like text gets a leading apostrophe."""
    if is_formula_like(value):
        return "'" + str(value)
    return value


def csv_row(values: list[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def xlsx_append(ws: Any, values: list[Any]) -> None:
    """Append a row to an openpyxl worksheet; text is always stored as text, never as a formula."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            # openpyxl marks "=..." as a formula on assignment; force the string type back.
            cell.data_type = "s"
