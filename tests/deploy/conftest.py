"""Fixtures for the deploy checks: the pinned tool venv, rendered overlays, checkov runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "k8s" / "overlays").glob("*/kustomization.yaml"))
# The Kubernetes version the manifests are validated against (kubernetes-validate's schemas).
K8S_VERSION = "1.33.0"
TOOL_TIMEOUT_S = 600

# Stand-in prompt files for rendering: the schema and policy checks do not depend on their text.
FIXTURE_PROMPTS = {
    "listwise.yaml": "strategy: listwise\nsystem: Reorder the candidates.\n",
    "single_pass.yaml": "strategy: single_pass\nsystem: Pick the best candidate.\n",
    "experiments.yaml": "experiments: {}\n",
}

Doc = dict[str, Any]


@dataclass
class Rendered:
    """One overlay rendered by deploy/render.sh: the file and its parsed documents."""

    overlay: str
    path: Path
    docs: list[Doc] = field(default_factory=list)

    def get(self, kind: str, name: str) -> Doc:
        """The one object of this kind and name (kustomize's hash suffix allowed)."""
        pattern = re.compile(re.escape(name) + r"(-[a-z0-9]{10})?")
        hits = [d for d in self.docs if d["kind"] == kind and pattern.fullmatch(d["metadata"]["name"])]
        assert len(hits) == 1, f"{self.overlay}: expected one {kind}/{name}, found {len(hits)}"
        return hits[0]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.docs if d["kind"] == kind}


def run_tool(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output, with a generous timeout."""
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False, **kwargs
    )


@pytest.fixture(scope="session")
def tool_bin() -> Path:
    """deploy/.venv/bin, created on first use by deploy/check-tools.sh (idempotent)."""
    proc = run_tool(["bash", DEPLOY / "check-tools.sh", "--print-bin"])
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    for tool in ("kubectl", "checkov", "kubernetes-validate"):
        assert (path / tool).is_file(), f"{tool} missing from {path}"
    return path


@pytest.fixture(scope="session")
def fixture_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prompts")
    for name, text in FIXTURE_PROMPTS.items():
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="session")
def render(tool_bin: Path) -> Callable[[str, Path], subprocess.CompletedProcess[str]]:
    """Call deploy/render.sh OVERLAY PROMPTS_DIR with the pinned kubectl."""

    def _render(overlay: str, prompts: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECTL": str(tool_bin / "kubectl")}
        return run_tool(["bash", DEPLOY / "render.sh", overlay, prompts], env=env)

    return _render


@pytest.fixture(scope="session")
def rendered_dir(
    tmp_path_factory: pytest.TempPathFactory,
    render: Callable[[str, Path], subprocess.CompletedProcess[str]],
    fixture_prompts: Path,
) -> Path:
    """Every overlay rendered into one folder, OVERLAY.yaml each."""
    out = tmp_path_factory.mktemp("rendered")
    for overlay in OVERLAYS:
        proc = render(overlay, fixture_prompts)
        assert proc.returncode == 0, f"render.sh {overlay} failed:\n{proc.stderr}"
        (out / f"{overlay}.yaml").write_text(proc.stdout)
    return out


@pytest.fixture(scope="session")
def rendered(rendered_dir: Path) -> dict[str, Rendered]:
    result = {}
    for overlay in OVERLAYS:
        path = rendered_dir / f"{overlay}.yaml"
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        result[overlay] = Rendered(overlay, path, docs)
    return result


def workloads(r: Rendered) -> Iterator[tuple[Doc, Doc]]:
    """(workload, pod spec) for every Deployment, StatefulSet and Job."""
    for d in r.docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield d, d["spec"]["template"]["spec"]


@dataclass
class CheckovRun:
    returncode: int
    failed: list[Doc]
    passed: list[Doc]
    skipped: list[Doc]
    stderr: str


@pytest.fixture(scope="session")
def checkov(tool_bin: Path) -> Callable[[list[str | Path], str], CheckovRun]:
    """Run checkov with deploy/.checkov.yaml on the given -f/-d arguments; parse its JSON report."""

    def _run(target_args: list[str | Path], framework: str) -> CheckovRun:
        proc = run_tool(
            [
                tool_bin / "checkov",
                "--config-file",
                DEPLOY / ".checkov.yaml",
                *target_args,
                "--framework",
                framework,
                "--output",
                "json",
            ],
            cwd=REPO,
        )
        assert proc.stdout.strip(), f"checkov printed no report (rc {proc.returncode}):\n{proc.stderr}"
        report = json.loads(proc.stdout)
        reports = report if isinstance(report, list) else [report]
        failed: list[Doc] = []
        passed: list[Doc] = []
        skipped: list[Doc] = []
        for rep in reports:
            assert rep["summary"]["parsing_errors"] == 0, rep["summary"]
            failed += rep["results"].get("failed_checks", [])
            passed += rep["results"].get("passed_checks", [])
            skipped += rep["results"].get("skipped_checks", [])
        return CheckovRun(proc.returncode, failed, passed, skipped, proc.stderr)

    return _run


@pytest.fixture(scope="session")
def workloads_of() -> Callable[[Rendered], Iterator[tuple[Doc, Doc]]]:
    return workloads
