"""Fixtures of the Azure ML v1 migration tests: real runs on the session's MLflow server."""

from __future__ import annotations

import pytest

from steprun_widgets import Workspace


@pytest.fixture
def workspace(embedded_way_workspace) -> Workspace:
    """A workspace on the session's server whose runner appends logs in place (the embedded way)."""
    return embedded_way_workspace
