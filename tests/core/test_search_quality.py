"""The labelled set's queries, on SQLite and PostgreSQL: every query finds what it means, first."""

from __future__ import annotations

from bench.search_quality import evaluate


async def test_labelled_set_meets_the_targets(db):
    result = await evaluate(db)
    assert result["entries"] >= 150 and result["queries"] >= 100
    engine = result["engine"]
    for cls in (
        "width",
        "okurigana",
        "long_vowel",
        "variant_kanji",
        "numerals",
        "reading",
        "compound",
        "glossary",
        "ime",
    ):
        assert engine[cls]["queries"] >= 6, cls
    assert result["failures"] == []
    assert engine["all"]["recall"] >= 0.95 and engine["all"]["ndcg"] >= 0.9
    assert engine["no_hit"]["false_hits"] == 0
    # The reference really is weaker on the same set (so the set measures something).
    assert result["nfkc_substring"]["all"]["recall"] < 0.7
