"""Formula injection through the FAQ downloads: every CSV cell neutralised, every Excel cell text."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select, update

from faq.models import FaqDocument, FaqEntry, StudySession
from tests.helpers import login

HOSTILE = ["=1+2", "+81-3", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd"]


async def test_faq_csv_and_excel_never_carry_a_formula(client, demo, db):
    session = (await db.execute(select(StudySession).where(StudySession.number == 1))).scalar_one()
    doc = (await db.execute(select(FaqDocument).where(FaqDocument.session_id == session.id))).scalar_one()
    entries = (await db.execute(select(FaqEntry.id).where(FaqEntry.document_id == doc.id))).scalars().all()
    for n, entry_id in enumerate(entries):
        hostile = HOSTILE[n % len(HOSTILE)]
        await db.execute(
            update(FaqEntry)
            .where(FaqEntry.id == entry_id)
            .values(category=hostile, question=hostile + " 質問", answer=hostile + " 回答")
        )
    await db.commit()
    await login(client, "member@example.jp")
    base = f"/faq/documents/{doc.id}/v/{doc.current_version}/download"
    rows = list(csv.reader(io.StringIO((await client.get(base + "/csv")).content.decode("utf-8-sig"))))[1:]
    assert rows
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
        assert row[1].startswith("'") and row[2].startswith("'") and row[3].startswith("'")
    sheet = load_workbook(io.BytesIO((await client.get(base + "/xlsx")).content)).active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert cells and all(c.data_type in {"s", "n"} for c in cells), {c.data_type for c in cells}
    # Text as written, with no stray apostrophe (XML reads a lone CR back as LF).
    categories = [sheet.cell(row=r, column=2).value for r in range(2, sheet.max_row + 1)]
    assert all(v in [h.replace("\r", "\n") for h in HOSTILE] for v in categories), categories
