"""Benchmarks of the offline harness (the A/B report over synthetic impressions)."""
