"""The Kubernetes manifests, rendered once per test session with `kubectl kustomize`."""

from __future__ import annotations

import pytest
from k8s_manifests import OVERLAYS, Rendered, render


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict[str, Rendered]:
    out_dir = tmp_path_factory.mktemp("k8s-rendered")
    return {overlay: render(overlay, out_dir) for overlay in OVERLAYS}
