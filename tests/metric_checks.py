"""Slow, obvious versions of what linear metric learning is judged by, shared by its tests."""

from __future__ import annotations

import numpy as np


def knn_accuracy(
    M: np.ndarray, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> float:
    """1-NN accuracy of `test` against `train` under d_M, by brute force."""
    (X, y), (Xt, yt) = train, test
    differences = Xt[:, None, :] - X[None, :, :]
    distances = np.einsum("qnd,de,qne->qn", differences, M, differences)
    return float(np.mean(y[distances.argmin(axis=1)] == yt))


def lmnn_objective_by_loops(
    M: np.ndarray, X: np.ndarray, y: np.ndarray, k: int = 3, mu: float = 0.5
) -> float:
    """Weinberger & Saul's objective (1 − μ) Σ pull + μ Σ [1 + d_M(i,j)² − d_M(i,l)²]₊, targets the k
    nearest same-class points by Euclidean distance (metric-learn weights pull by its `regularization`
    and push by 1 − it, so at μ = 0.5 both minimise this)."""

    def d2(i: int, j: int, metric: np.ndarray) -> float:
        return float((X[i] - X[j]) @ metric @ (X[i] - X[j]))

    loss = 0.0
    for i in range(len(X)):
        same = [j for j in range(len(X)) if j != i and y[j] == y[i]]
        for j in sorted(same, key=lambda j: (d2(i, j, np.eye(X.shape[1])), j))[:k]:
            loss += (1 - mu) * d2(i, j, M)
            for impostor in (m for m in range(len(X)) if y[m] != y[i]):
                loss += mu * max(0.0, 1 + d2(i, j, M) - d2(i, impostor, M))
    return loss
