"""The engine's direct side-by-side assembly of sparse features (engine/engine_patch_sparse_features.py)
builds exactly the matrices scipy's hstack builds: a check run by the engine's Python."""

from __future__ import annotations

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_sparse_features_combine_as_scipy_does() -> None:
    line = run_in_engine(check("sparse_check.py"))
    assert int(line.split()[1]) > 500, line
