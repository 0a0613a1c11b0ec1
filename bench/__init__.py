"""Benchmarks run by `chonai bench NAME …`; each prints one JSON object."""
