"""The runs of these tests fork their sandbox workers from one fork server per module
(tests/worker_reuse.py); a test of the cold start is marked `fresh_worker`."""

import pytest


@pytest.fixture(autouse=True)
def _runs_fork_their_workers(forked_run_workers: None) -> None:
    """See tests/conftest.py::forked_run_workers."""
