"""Run by the engine's Python: `engine_patch_sparse_features.hstack_coo` builds exactly what
`scipy.sparse.hstack` does.

Random COO matrices (what Rasa's featurizers make) of several dtypes and shapes (empty ones too), compared
entry by entry, with the same dtypes, index dtypes, order and flags; then Rasa's Features, patched, combine
matrices of every format into what Rasa's own code makes. Prints "ok N".
"""

from __future__ import annotations

import sys

import numpy as np
from engine_patch_sparse_features import hstack_coo
from scipy import sparse

FORMATS = ("coo", "csr", "csc", "lil", "dok")
DTYPES = (np.float32, np.float64, np.int64, np.bool_)


def main() -> int:
    compared = 0
    for rows in (1, 3, 17):
        for left_cols, right_cols in ((1, 1), (5, 300), (2000, 7), (40, 0)):
            for density in (0.0, 0.05, 0.5):
                for left_type in range(len(DTYPES)):
                    for right_type in range(len(DTYPES)):
                        fmt_l = fmt_r = "coo"
                        left = sparse.random(
                            rows, left_cols, density, format=fmt_l, dtype=DTYPES[left_type], random_state=1
                        )
                        right = sparse.random(
                            rows, right_cols, density, format=fmt_r, dtype=DTYPES[right_type], random_state=2
                        )
                        ours, theirs = hstack_coo(left, right), sparse.hstack([left, right])
                        assert type(ours) is type(theirs) and ours.shape == theirs.shape
                        assert ours.dtype == theirs.dtype
                        assert ours.has_canonical_format == theirs.has_canonical_format
                        for name in ("row", "col", "data"):
                            mine, its = getattr(ours, name), getattr(theirs, name)
                            assert mine.dtype == its.dtype, (name, mine.dtype, its.dtype)
                            assert np.array_equal(mine, its), name
                        compared += 1
    # Through Rasa's Features (patched): every pair of formats gives what scipy's hstack gives.
    from rasa.shared.nlu.training_data.features import Features

    patched = Features._combine_sparse_features.__module__ == "engine_patch_sparse_features"
    assert patched, "Features is not patched"

    for fmt_l in FORMATS:
        for fmt_r in FORMATS:
            left = sparse.random(4, 9, 0.3, format=fmt_l, dtype=np.float32, random_state=3)
            right = sparse.random(4, 6, 0.3, format=fmt_r, dtype=np.float32, random_state=4)
            combined = Features(left, "sequence", "text", "a")
            combined.combine_with_features(Features(right, "sequence", "text", "b"))
            expected = sparse.hstack([left, right])
            assert type(combined.features) is type(expected), (fmt_l, fmt_r, type(combined.features))
            assert (combined.features != expected).nnz == 0
            compared += 1
    print(f"ok {compared}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
