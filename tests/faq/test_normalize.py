"""Japanese normalisation: 全角/半角, ひらがな/カタカナ, and the query terms."""

from faq.normalize import normalize, query_terms


def test_width_kana_and_case_fold_to_one_form():
    assert normalize("ﾜｸﾁﾝ") == normalize("ワクチン") == normalize("わくちん")
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert normalize("ｶﾞｲﾄﾞ") == normalize("ガイド")  # half-width voiced marks compose
    assert normalize("接種？予約!") == "接種 予約"


def test_query_terms_are_distinct_bounded_and_longest_first():
    assert query_terms("予約　ワクチン 予約") == ["わくちん", "予約"]
    assert query_terms("？！  ") == []
    assert len(query_terms(" ".join(f"語{i}" for i in range(20)))) == 5
