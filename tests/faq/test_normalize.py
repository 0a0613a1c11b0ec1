"""Japanese normalisation: 全角/半角, ひらがな/カタカナ, and highlighting back in the original text."""

from faq.normalize import grams, match_spans, normalize, query_terms, term_grams
from faq.search import highlight


def test_width_kana_and_case_fold_to_one_form():
    assert normalize("ﾜｸﾁﾝ") == normalize("ワクチン") == normalize("わくちん")
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert normalize("ｶﾞｲﾄﾞ") == normalize("ガイド")  # half-width voiced marks compose
    assert normalize("接種？予約!") == "接種 予約"


def test_query_terms_are_distinct_bounded_and_longest_first():
    assert query_terms("予約　ワクチン 予約") == ["わくちん", "予約"]
    assert query_terms("？！  ") == []
    assert len(query_terms(" ".join(f"語{i}" for i in range(20)))) == 5


def test_every_substring_is_covered_by_the_grams():
    text = normalize("ワクチン接種の予約方法")
    index = grams(text)
    for term in ("接種", "予", "の予約", "わくちん接種"):
        assert set(term_grams(normalize(term))) <= index
    assert not set(term_grams("種接")) <= index


def test_highlight_maps_back_to_the_original_and_escapes():
    text = "<b>ﾜｸﾁﾝ</b>の接種"
    spans = match_spans(text, ["わくちん"])
    assert [text[s:e] for s, e in spans] == ["ﾜｸﾁﾝ"]
    html = str(highlight(text, ["わくちん", "接種"]))
    assert html == "&lt;b&gt;<mark>ﾜｸﾁﾝ</mark>&lt;/b&gt;の<mark>接種</mark>"
