"""Every exported cell is neutralised the same way: CSV gets an apostrophe, Excel a text-typed cell."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from core.cells import csv_row, xlsx_append

HOSTILE = ["=1+1", "+81", "-2", "@SUM(A1)", "\t=cmd", "\r=cmd"]


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_cells_cannot_start_a_formula(text: str) -> None:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row([text, 3]))
    first = next(csv.reader(io.StringIO(out.getvalue())))[0]
    assert first == "'" + text


def test_plain_cells_are_untouched() -> None:
    assert csv_row(["接種券", 3, None, "a=b"]) == ["接種券", 3, None, "a=b"]


def test_xlsx_cells_are_text_without_apostrophe() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    xlsx_append(ws, [*HOSTILE, 7])
    out = io.BytesIO()
    wb.save(out)
    row = next(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(values_only=True))
    # Some openpyxl versions read a lone CR back as LF; what matters is that it stays text.
    crlf = [v.replace("\r", "\n") if isinstance(v, str) else v for v in row]
    assert crlf == [*(t.replace("\r", "\n") for t in HOSTILE), 7]
    cells = next(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())
    assert [c.data_type for c in cells] == ["s"] * len(HOSTILE) + ["n"]
