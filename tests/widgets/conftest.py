"""Fixtures of the widget tests: a workspace on the session's real MLflow server, an experiment.

``workspace`` is the embedded default (``local_root`` set: the runner appends logs straight into
the server's artifact folder). A workspace without ``local_root`` (the reconnect test) makes the
runner ship its logs by re-uploading them over REST, as it does for a remote server.
"""

from __future__ import annotations

import pytest

from steprun_widgets import Workspace


@pytest.fixture
def workspace(embedded_way_workspace) -> Workspace:
    return embedded_way_workspace
