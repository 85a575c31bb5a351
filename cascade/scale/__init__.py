"""A synthetic catalog at scale (up to millions of items) around the trained models, for serving benches."""
