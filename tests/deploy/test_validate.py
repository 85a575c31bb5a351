"""Every rendered manifest passes kubernetes-validate (strict) against the pinned Kubernetes version."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "k8s" / "overlays").glob("*/kustomization.yaml"))
K8S_VERSION = "1.33.0"  # the floor the manifests support; deploy/README.md says the same

BAD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
spec:
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: bad}
    spec:
      containers:
        - name: bad
          image: care-service:0.1.0-cpu
          ports:
            - containerPort: eighty
"""

UNKNOWN_FIELD = """\
apiVersion: v1
kind: Service
metadata:
  name: typo
spec:
  selector: {app: care}
  ports:
    - port: 8000
      targetPrt: 8000
"""


def validate(tool_bin: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool_bin / "kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly(tool_bin: Path, rendered: dict[str, Any], overlay: str) -> None:
    r = rendered[overlay]
    proc = validate(tool_bin, r.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passed = [line for line in proc.stdout.splitlines() if line.startswith("INFO") and " passed " in line]
    # One line per object: nothing was skipped for want of a schema.
    assert len(passed) == len(r.docs), proc.stdout
    assert all(f"against version {K8S_VERSION.rsplit('.', 1)[0]}" in line for line in passed)


def test_a_wrongly_typed_field_is_rejected(tool_bin: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_DEPLOYMENT)
    proc = validate(tool_bin, bad)
    assert proc.returncode != 0
    assert "containerPort: 'eighty' is not of type 'integer'" in proc.stdout


def test_an_unknown_field_is_rejected_in_strict_mode(tool_bin: Path, tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text(UNKNOWN_FIELD)
    proc = validate(tool_bin, bad)
    assert proc.returncode != 0
    assert "targetPrt" in proc.stdout
