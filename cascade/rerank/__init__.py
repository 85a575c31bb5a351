"""Re-rankers: identity, rules and the LLM, behind one Protocol."""
