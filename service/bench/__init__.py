"""Benchmarks of the running service (HTTP load, a slow store, run-time items, the impression log)."""
