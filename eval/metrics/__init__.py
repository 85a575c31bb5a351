"""Plain metric functions beyond accuracy (which lives in cascade.metrics): one module per job.

- diversity: intra-list diversity (genre Jaccard, embedding cosine), genre coverage of one list
- coverage: catalog coverage of a set of lists
- novelty: mean self-information of a list under train popularity
- change: how far a re-ranker moved the ranker's order (overlap, Kendall tau, Spearman rho)
- llm: LLM behaviour aggregated from re-ranker stats (validity, repairs, fallbacks, tokens)
- latency: p50/p95 per stage
- bootstrap: paired bootstrap confidence interval of a per-user metric difference
"""
