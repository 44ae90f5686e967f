"""Random unit vectors, like the embeddings the indexes hold, for the index tests."""

from __future__ import annotations

import numpy as np


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """`n` float32 points drawn uniformly on the unit sphere in `dim` dimensions."""
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)
