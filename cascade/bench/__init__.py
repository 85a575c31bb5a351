"""Benchmarks: print latency numbers; never assert on them."""
