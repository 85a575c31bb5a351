"""How many candidates the ranker scores: the head of the sources' ranks (SourcedCandidates.scored_head).

The merged list is ordered by each candidate's best rank in the two-tower and item-item sources, and
scoring only its first 100-200 leaves the ranker's accuracy where it was: on the test window, the
first 200 of 500 gave NDCG@10 0.1829 against 0.1825 for all 500 (the title protocol's arms within
0.0025), at 55-60% of the tree model's time and 70% of the assembly's (eval/RESULTS.md,
round 3, eighth session).
Light on purpose: the service's settings read the default without importing the cascade.
"""

N_SCORE = 200
