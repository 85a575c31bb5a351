"""checkov's policy scan passes on every rendered overlay and on the Dockerfile, and catches bad ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# The policy this project holds every workload to, as checkov check ids.
REQUIRED_K8S_CHECKS = {
    "CKV_K8S_10": "CPU requests",
    "CKV_K8S_11": "CPU limits",
    "CKV_K8S_12": "memory requests",
    "CKV_K8S_13": "memory limits",
    "CKV_K8S_16": "no privileged container",
    "CKV_K8S_20": "no privilege escalation",
    "CKV_K8S_22": "read-only root filesystem",
    "CKV_K8S_23": "no root containers",
    "CKV_K8S_28": "NET_RAW dropped",
    "CKV_K8S_31": "seccomp RuntimeDefault",
    "CKV_K8S_37": "capabilities dropped",
    "CKV_K8S_40": "high UID",
}
PROBE_CHECKS = {"CKV_K8S_8": "liveness probe", "CKV_K8S_9": "readiness probe"}
# The only skips allowed, each explained where it is declared (deploy/.checkov.yaml or the
# resource's checkov.io/skip annotation).
ALLOWED_SKIPS = {("CKV_K8S_35", "Deployment.care.care")}

BAD_POD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
  namespace: care
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
          securityContext:
            privileged: true
            allowPrivilegeEscalation: true
            runAsUser: 0
"""

BAD_DOCKERFILE = """\
FROM python:3.11.11-slim-bookworm
COPY . /app
RUN pip install /app
CMD ["care", "serve"]
"""

Checkov = Callable[[list[str | Path], str], Any]


@pytest.fixture(scope="session")
def k8s_scan(checkov: Checkov, rendered_dir: Path) -> Any:
    return checkov(["--directory", rendered_dir], "kubernetes")


def test_no_policy_failures_in_any_overlay(k8s_scan: Any, rendered: dict[str, Any]) -> None:
    failures = [(f["check_id"], f["resource"], f["file_path"]) for f in k8s_scan.failed]
    assert failures == []
    assert k8s_scan.returncode == 0, k8s_scan.stderr
    scanned = {Path(p["file_path"]).name for p in k8s_scan.passed}
    assert scanned == {r.path.name for r in rendered.values()}


def test_only_the_declared_skips(k8s_scan: Any) -> None:
    assert {(s["check_id"], s["resource"]) for s in k8s_scan.skipped} <= ALLOWED_SKIPS


def test_every_workload_passes_the_required_checks(
    k8s_scan: Any, rendered: dict[str, Any], workloads_of: Callable[[Any], Any]
) -> None:
    passed = {(Path(p["file_path"]).name, p["resource"], p["check_id"]) for p in k8s_scan.passed}
    for r in rendered.values():
        for wl, _pod in workloads_of(r):
            resource = f"{wl['kind']}.{wl['metadata']['namespace']}.{wl['metadata']['name']}"
            required = dict(REQUIRED_K8S_CHECKS)
            if wl["kind"] != "Job":
                required |= PROBE_CHECKS
            missing = {
                cid: what for cid, what in required.items() if (r.path.name, resource, cid) not in passed
            }
            assert not missing, f"{r.overlay}: {resource} did not pass {missing}"


def test_a_privileged_pod_without_limits_is_flagged(checkov: Checkov, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_POD)
    scan = checkov(["--file", bad], "kubernetes")
    assert scan.returncode != 0
    failed = {f["check_id"] for f in scan.failed}
    for cid in ("CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_11", "CKV_K8S_13"):
        assert cid in failed, f"{cid} ({REQUIRED_K8S_CHECKS[cid]}) not flagged"
    assert {"CKV_K8S_8", "CKV_K8S_9"} <= failed


def test_the_dockerfile_passes(checkov: Checkov) -> None:
    scan = checkov(["--file", DEPLOY / "Dockerfile"], "dockerfile")
    assert [(f["check_id"], f["check_name"]) for f in scan.failed] == []
    assert scan.returncode == 0, scan.stderr
    passed = {p["check_id"] for p in scan.passed}
    # HEALTHCHECK present, a non-root USER, no `latest` base image.
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7"} <= passed


def test_a_root_dockerfile_without_healthcheck_is_flagged(checkov: Checkov, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    scan = checkov(["--file", bad], "dockerfile")
    assert scan.returncode != 0
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3"} <= {f["check_id"] for f in scan.failed}


def test_the_dockerfile_is_multi_stage_non_root_and_probes_livez() -> None:
    lines = [ln.strip() for ln in (DEPLOY / "Dockerfile").read_text().splitlines()]
    stages = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(stages) >= 2 and "AS runtime" in stages[-1]
    final = lines[lines.index(stages[-1]) :]
    user = [ln for ln in final if ln.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in {"0", "root"}
    text = (DEPLOY / "Dockerfile").read_text()
    assert "HEALTHCHECK" in text and "http://127.0.0.1:8000/livez" in text
    assert 'CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]' in text
    assert "torch==${TORCH_VERSION}" in text and "ARG TORCH_VERSION=2.13.0" in text
