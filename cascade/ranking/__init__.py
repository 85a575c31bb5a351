"""Learning-to-rank over the retrieved candidates."""
