"""The LLM re-ranker: backends, prompt templates, repair, deadline and fallback."""
