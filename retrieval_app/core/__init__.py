"""Lookalike's engine: catalogue, embeddings, indexes and search, with no GUI dependency."""
