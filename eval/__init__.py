"""Offline evaluation harness: replays the split through the serving pipeline and compares arms."""
