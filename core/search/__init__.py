"""Japanese search over everything Chonai knows: one analyser, one index table set, one ranking.

Domains feed `index.upsert` / `index.remove` inside their own transactions; `query.search` serves
the /search page, the API, the FAQ search page and the archive keyword search.
"""
