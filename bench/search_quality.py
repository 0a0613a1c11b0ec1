"""`chonai bench search-quality [--json]`: recall@10, nDCG@10 and MRR per variant class on the
labelled set (tests/core/search_set.py), for the engine and for plain NFKC substring search.

Builds a scratch database of the configured kind (temporary SQLite file, or a temporary
PostgreSQL database on the configured server), indexes the set with the real engine, and
scores every query. For IME-slip queries the engine is scored on its 「もしかして」 suggestion
(which must be the expected word); no-hit queries count every result as a false hit.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

SET_PATH = Path(__file__).resolve().parent.parent / "tests" / "core" / "search_set.py"
K = 10


def load_set() -> Any:
    spec = importlib.util.spec_from_file_location("search_set", SET_PATH)
    if spec is None or spec.loader is None:
        raise SystemExit(f"the labelled set is missing: {SET_PATH}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metrics(ranked: list[str], relevant: list[str]) -> dict[str, float]:
    top = ranked[:K]
    if not relevant:
        return {"false_hits": float(len(ranked))}
    hits = [1.0 if r in relevant else 0.0 for r in top]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), K)))
    first = next((i for i, h in enumerate(hits) if h), None)
    return {
        "recall": sum(hits) / len(relevant),
        "ndcg": dcg / ideal,
        "mrr": 0.0 if first is None else 1 / (first + 1),
        "false_hits": 0.0,
    }


def summarise(rows: list[tuple[str, dict[str, float]]]) -> dict[str, Any]:
    by_class: dict[str, list[dict[str, float]]] = {}
    for cls, m in rows:
        by_class.setdefault(cls, []).append(m)
    out: dict[str, Any] = {}
    for cls, ms in sorted(by_class.items()):
        if cls == "no_hit":
            out[cls] = {"queries": len(ms), "false_hits": int(sum(m["false_hits"] for m in ms))}
        else:
            out[cls] = {
                "queries": len(ms),
                **{k: round(sum(m[k] for m in ms) / len(ms), 3) for k in ("recall", "ndcg", "mrr")},
            }
    answerable = [m for cls, m in rows if cls != "no_hit"]
    out["all"] = {
        "queries": len(rows),
        **{k: round(sum(m[k] for m in answerable) / len(answerable), 3) for k in ("recall", "ndcg", "mrr")},
        "false_hits": int(sum(m["false_hits"] for cls, m in rows if cls == "no_hit")),
    }
    return out


async def index_set(db: Any, data: Any) -> dict[int, str]:
    """Index the set's texts through the engine; returns ref_id -> set id."""
    from core.search import glossary, index

    await glossary.seed(db)
    names: dict[int, str] = {}
    docs = []
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for n, (sid, kind, title, body) in enumerate(data.entries(), start=1):
        names[n] = sid
        docs.append(index.Doc(kind, n, title, body, f"/x/{sid}", base + dt.timedelta(hours=n)))
    await index.upsert(db, docs)
    await db.commit()
    return names


async def engine_run(db: Any, names: dict[int, str], query: str) -> tuple[list[str], str | None]:
    from core.search.service import search

    result = await search(db, query, per_page=K)
    return [names[h.doc.ref_id] for h in result.hits], result.suggestion


def substring_run(data: Any) -> Callable[[str], list[str]]:
    """Plain NFKC + kana-folded substring search: every term must occur; title hits first."""
    from faq.normalize import normalize, query_terms

    texts = [(sid, normalize(title), normalize(body)) for sid, _, title, body in data.entries()]

    def run(query: str) -> list[str]:
        terms = query_terms(query)
        if not terms:
            return []
        found = [
            (sum(t in title for t in terms), i, sid)
            for i, (sid, title, body) in enumerate(texts)
            if all(t in title + "\n" + body for t in terms)
        ]
        return [sid for _, _, sid in sorted(found, key=lambda f: (-f[0], -f[1]))]

    return run


async def evaluate(db: Any) -> dict[str, Any]:
    """Score the engine and the substring reference; `failures` lists every query that missed."""
    data = load_set()
    names = await index_set(db, data)
    substring = substring_run(data)
    engine_rows: list[tuple[str, dict[str, float]]] = []
    substring_rows: list[tuple[str, dict[str, float]]] = []
    failures: list[dict[str, Any]] = []
    for cls, query, relevant, expected in data.QUERIES:
        ranked, suggestion = await engine_run(db, names, query)
        if cls == "ime":
            ranked = (await engine_run(db, names, suggestion))[0] if suggestion == expected and suggestion else []
        m = metrics(ranked, relevant)
        engine_rows.append((cls, m))
        substring_rows.append((cls, metrics(substring(query), relevant)))
        if (relevant and (m["recall"] < 1 or m["mrr"] < 1)) or (not relevant and ranked):
            failures.append(
                {"class": cls, "query": query, "expected": relevant, "got": ranked[:5], "suggestion": suggestion}
            )
    return {
        "entries": len(data.entries()),
        "queries": len(data.QUERIES),
        "engine": summarise(engine_rows),
        "nfkc_substring": summarise(substring_rows),
        "failures": failures,
    }


async def run(database_url: str) -> dict[str, Any]:
    from bench.search import scratch_database
    from core.db import Database
    from core.migrate import upgrade

    async with scratch_database(database_url, "chonai-quality-", "quality") as url:
        await asyncio.to_thread(upgrade, url)
        db = Database(url, pool_size=2)
        async with db.session() as session:
            result = await evaluate(session)
        await db.dispose()
        return {"database": "sqlite" if url.startswith("sqlite") else "postgresql", **result}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chonai bench search-quality", description=__doc__)
    parser.add_argument("--database-url", help="defaults to the configured DATABASE_URL (its kind and server)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args(argv)
    from core.settings import get_settings, normalise_database_url

    url = normalise_database_url(args.database_url, Path.cwd()) if args.database_url else get_settings().database_url
    result = asyncio.run(run(url))
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0
