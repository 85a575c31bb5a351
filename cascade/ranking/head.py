"""How many candidates the ranker scores: the head of the sources' ranks (SourcedCandidates.scored_head).

The merged list is ordered by each candidate's best rank in the two-tower and item-item sources, and
the ranker's top 10 almost always comes from its first 100-200: on the test window, scoring the first
200 of 500 gave NDCG@10 0.1829 against 0.1825 for all 500 (the title protocol's arms within 0.0025),
for 40% of the assembly's and the tree model's work (eval/RESULTS.md, round 3, eighth session).
Light on purpose: the service's settings read the default without importing the cascade.
"""

N_SCORE = 200
