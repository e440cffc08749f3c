"""Speed-up "sparse features" (switch ENGINE_PATCH_SPARSE_FEATURES): how a message's sparse feature blocks
are put side by side. Applied by engine_speedups (the loader) when `rasa.shared.nlu.training_data.features`
is imported, on Rasa 3.6.21 only.

What it changes: `Features._combine_sparse_features`, for two COO matrices with as many rows (what Rasa's
featurizers make), builds the combined COO matrix directly (`hstack_coo`); any other pair, and Rasa's error
for mismatched rows, goes Rasa's way (`scipy.sparse.hstack`). `scipy.sparse.hstack` itself is untouched.

Why: each featurizer's features are appended to the message's with `scipy.sparse.hstack`, whose general
block assembly re-checks every index. The combination happens inside Rasa's shared Message/Features code
(featurizers and DIET call it), so no component in config.yml can take it over.

What it bought: about 7% of the engine's time per message.

Proved by tests/engine/sparse_check.py (test_sparse_features.py): `hstack_coo` builds exactly what scipy's
hstack builds (entries, order, dtypes, index dtypes, flags) for random matrices of many shapes, densities
and dtypes, and Rasa's Features, patched, combine every pair of formats into what Rasa's code makes.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np


def hstack_coo(left: Any, right: Any) -> Any:
    """`scipy.sparse.hstack([left, right])` for two COO matrices with as many rows: the same COO matrix
    (entries, order, dtypes), without the general block assembly and its re-checks of every index."""
    from scipy import sparse
    from scipy.sparse import _sputils

    shape = (left.shape[0], left.shape[1] + right.shape[1])
    dtype = _sputils.upcast(left.dtype, right.dtype)
    index = _sputils.get_index_dtype(maxval=max(shape))
    out = sparse.coo_matrix(shape, dtype=dtype)  # empty, then filled: the indices are known to be in range
    out.row = np.concatenate((left.row, right.row)).astype(index, copy=False)
    out.col = np.concatenate((left.col, right.col.astype(index, copy=False) + left.shape[1])).astype(
        index, copy=False
    )
    out.data = np.concatenate((left.data, right.data)).astype(dtype, copy=False)
    out.has_canonical_format = False
    return out


def patch_features(module: ModuleType) -> None:
    """Patch `rasa.shared.nlu.training_data.features.Features` (see the module's docstring)."""
    features = module.Features
    original = features._combine_sparse_features

    def _combine_sparse_features(self: Any, additional: Any) -> None:
        from scipy import sparse

        mine, theirs = self.features, additional.features
        if (
            not (sparse.isspmatrix_coo(mine) and sparse.isspmatrix_coo(theirs))
            or mine.shape[0] != theirs.shape[0]
        ):
            return original(self, additional)
        self.features = hstack_coo(mine, theirs)
        self._cached_fingerprint = None
        return None

    features._combine_sparse_features = _combine_sparse_features
