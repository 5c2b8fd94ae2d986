"""Voice embeddings of a whole recording -> speakers, the count estimated when it is not given.

1. Agglomerative clustering, average linkage on cosine distance, stopped where two groups' mean
   similarity falls below ``THRESHOLD`` (0.6: on the real speech in tests/data, windows of one person
   score 0.75-0.87 on average, of two people 0.34-0.60; one pair of women on one phone line 0.67), or cut
   at the count given (``lo == hi``), or clamped into ``[lo, hi]``.
2. Refined like spherical k-means: every window goes to its nearest centroid until nothing moves (AHC's
   chaining mistakes are undone).
3. When the count is estimated: a cluster with under ``SMALL`` of the windows whose centroid is close
   (``SMALL_SIM``) to another one's is merged into it; these are the windows that straddle a change of
   speaker, half one voice and half the other, which otherwise become a speaker of their own.

Clustering is quadratic in windows, so at most ``MAX_WINDOWS`` (evenly spread in time) are clustered;
the refinement then runs over all of them.
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.6
SMALL = 0.1
SMALL_SIM = 0.65
MAX_WINDOWS = 3000


def centroids(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(k, dim) L2-normalised mean of each cluster (labels 0..k-1, none empty)."""
    k = int(labels.max()) + 1
    sums = np.zeros((k, x.shape[1]), np.float64)
    np.add.at(sums, labels, x)
    return (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def _relabel(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


def agglomerate(x: np.ndarray, lo: int, hi: int, threshold: float = THRESHOLD) -> np.ndarray:
    """Average-linkage clusters of ``x`` (L2-normalised rows): cut at ``threshold`` similarity, the
    count kept within ``[lo, hi]``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(x) < 2:
        return np.zeros(len(x), int)
    tree = linkage(x.astype(np.float64), method="average", metric="cosine")
    labels = fcluster(tree, t=1 - threshold, criterion="distance")
    k = int(labels.max())
    if lo == hi or not lo <= k <= hi:
        labels = fcluster(tree, t=min(max(k if lo != hi else lo, lo), hi), criterion="maxclust")
    return _relabel(labels - 1)


def refine(x: np.ndarray, labels: np.ndarray, rounds: int = 20) -> np.ndarray:
    """Move every row to its nearest centroid until nothing moves (clusters may only disappear)."""
    for _ in range(rounds):
        moved = _relabel(np.argmax(x @ centroids(x, labels).T, axis=1))
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def merge_small(
    x: np.ndarray, labels: np.ndarray, share: float = SMALL, near: float = SMALL_SIM
) -> np.ndarray:
    """Merge the smallest cluster into its nearest while it holds under ``share`` of the rows and its
    centroid's similarity to that one is at least ``near``."""
    while labels.max() > 0:
        c = centroids(x, labels)
        j = int(np.argmin(np.bincount(labels)))
        sim = c @ c[j]
        sim[j] = -1
        if np.sum(labels == j) >= share * len(x) or sim.max() < near:
            break
        labels = _relabel(np.where(labels == j, int(np.argmax(sim)), labels))
    return labels


def cluster(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Speaker labels (0..k-1) for the embeddings ``x``, k in ``[lo, hi]`` (see the module's docstring)."""
    if len(x) == 0:
        return np.zeros(0, int)
    pick = np.linspace(0, len(x) - 1, min(len(x), MAX_WINDOWS)).round().astype(int)
    labels = np.zeros(len(x), int)
    seed = agglomerate(x[pick], lo, hi)
    labels = np.argmax(x @ centroids(x[pick], seed).T, axis=1) if len(pick) < len(x) else seed
    labels = refine(x, _relabel(labels))
    if lo != hi:
        labels = merge_small(x, labels)
    if labels.max() + 1 < lo:  # refinement emptied a cluster below the minimum: keep AHC's cut
        labels = seed if len(pick) == len(x) else labels
    return labels
