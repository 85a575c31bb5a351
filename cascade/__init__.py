"""care's recommender: data, split, feature store, retrieval, ranking, re-ranking and the pipeline."""
