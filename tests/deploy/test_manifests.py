"""The rendered overlays say what the design needs: wiring, probes, GPU placement, prompt ConfigMaps."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "k8s" / "overlays").glob("*/kustomization.yaml"))

Doc = dict[str, Any]
Workloads = Callable[[Any], Iterator[tuple[Doc, Doc]]]
# Secrets the manifests reference but never contain; deploy/README.md says how to create each.
EXTERNAL_SECRETS = {"care-api-key", "hf-token", "care-redis"}


def container(pod: Doc, name: str) -> Doc:
    return next(c for c in pod["containers"] if c["name"] == name)


def env_config(r: Any) -> dict[str, str]:
    data: dict[str, str] = r.get("ConfigMap", "care-env")["data"]
    return data


def test_overlays_are_the_expected_ones() -> None:
    assert set(OVERLAYS) == {"cpu", "cpu-dask-training", "gpu", "gpu-external-redis", "gpu-redis-cluster"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_namespaced_and_labelled(rendered: dict[str, Any], overlay: str) -> None:
    for d in rendered[overlay].docs:
        meta = d["metadata"]
        assert meta["labels"]["app.kubernetes.io/part-of"] == "care", (d["kind"], meta["name"])
        if d["kind"] != "Namespace":
            assert meta.get("namespace") == "care", (d["kind"], meta["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_deployment_probes_ports_and_limits(rendered: dict[str, Any], overlay: str) -> None:
    dep = rendered[overlay].get("Deployment", "care")
    pod = dep["spec"]["template"]["spec"]
    care = container(pod, "care")
    assert care["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    port = {p["name"]: p["containerPort"] for p in care["ports"]}
    assert port == {"http": 8000}
    assert care["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert care["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    for key in ("cpu", "memory"):
        assert key in care["resources"]["requests"] and key in care["resources"]["limits"]
    # No request may be dropped by a rollout: surge first, never go below the replica count.
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    # Writable paths are exactly the volumes; the image's root filesystem is read-only.
    assert care["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in care["volumeMounts"]}
    assert "/tmp" in mounts and "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "tmp")
    env = env_config(rendered[overlay])
    assert mounts[env["CARE_HOME"]]["readOnly"] is True
    assert env["CARE_ARTIFACTS"].startswith(env["CARE_HOME"] + "/")
    assert env["OMP_NUM_THREADS"] == str(int(care["resources"]["limits"]["cpu"]))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_as_non_root_without_privilege(
    rendered: dict[str, Any], overlay: str, workloads_of: Workloads
) -> None:
    for wl, pod in workloads_of(rendered[overlay]):
        assert pod["securityContext"]["runAsNonRoot"] is True, wl["metadata"]["name"]
        assert pod["securityContext"]["runAsUser"] >= 10000
        assert pod["automountServiceAccountToken"] is False
        for c in pod.get("initContainers", []) + pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert set(c["resources"]["limits"]) >= {"cpu", "memory"}, c["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_and_targets_match(rendered: dict[str, Any], overlay: str, workloads_of: Workloads) -> None:
    r = rendered[overlay]
    pod_labels = [wl["spec"]["template"]["metadata"]["labels"] for wl, _ in workloads_of(r)]
    for svc in (d for d in r.docs if d["kind"] == "Service"):
        sel = svc["spec"]["selector"]
        assert any(sel.items() <= labels.items() for labels in pod_labels), svc["metadata"]["name"]
    for d in r.docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            sel = d["spec"]["selector"]["matchLabels"]
            assert sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    dep = r.get("Deployment", "care")
    pdb = r.get("PodDisruptionBudget", "care")
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["minAvailable"] < dep["spec"]["replicas"]
    hpa = r.get("HorizontalPodAutoscaler", "care")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "care"}
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]
    redis_url = env_config(r)["CARE_REDIS_URL"]
    if "StatefulSet" in {d["kind"] for d in r.docs}:
        url = urlparse(redis_url)
        svc = r.get("Service", url.hostname or "")
        assert url.port in {p["port"] for p in svc["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_reference_resolves(rendered: dict[str, Any], overlay: str, workloads_of: Workloads) -> None:
    """ConfigMaps and PVCs a pod names are rendered; Secrets are the documented external ones."""
    r = rendered[overlay]
    configmaps, pvcs = r.names("ConfigMap"), r.names("PersistentVolumeClaim")
    readme = (DEPLOY / "README.md").read_text()
    secrets: set[str] = set()
    for _wl, pod in workloads_of(r):
        for v in pod.get("volumes", []):
            if "configMap" in v:
                assert v["configMap"]["name"] in configmaps
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"]["claimName"] in pvcs
            if "secret" in v:
                secrets.add(v["secret"]["secretName"])
        for c in pod.get("initContainers", []) + pod["containers"]:
            for ef in c.get("envFrom", []):
                assert ef["configMapRef"]["name"] in configmaps
            for e in c.get("env", []):
                if "secretKeyRef" in e.get("valueFrom", {}):
                    secrets.add(e["valueFrom"]["secretKeyRef"]["name"])
    assert secrets <= EXTERNAL_SECRETS
    assert "care-api-key" in secrets
    for name in secrets:
        assert f"create secret generic {name}" in readme, f"README does not say how to create {name}"


def test_gpu_overlay_points_the_service_at_vllm(rendered: dict[str, Any]) -> None:
    r = rendered["gpu"]
    env = env_config(r)
    assert env["CARE_LLM__BACKEND__KIND"] == "http"
    assert env["CARE_LLM__BACKEND__DIALECT"] == "vllm"
    url = urlparse(env["CARE_LLM__BACKEND__BASE_URL"])
    assert url.path == "/v1"
    svc = r.get("Service", url.hostname or "")
    assert url.port in {p["port"] for p in svc["spec"]["ports"]}
    vllm = r.get("Deployment", "vllm")
    assert svc["spec"]["selector"].items() <= vllm["spec"]["template"]["metadata"]["labels"].items()
    pod = vllm["spec"]["template"]["spec"]
    c = container(pod, "vllm")
    args = c["args"]
    flags = dict(a.removeprefix("--").split("=", 1) for a in args if a.startswith("--") and "=" in a)
    assert args[0] == env["CARE_LLM__BACKEND__MODEL"]
    assert re.search(r"(AWQ|GPTQ)$", args[0]) and re.search(r"-(1\.5|3)B-", args[0])
    assert flags["quantization"].lower().startswith(("awq", "gptq"))
    assert "--enable-prefix-caching" in args
    assert int(flags["max-logprobs"]) >= 50  # single-pass scoring over 50 candidates
    assert 4096 <= int(flags["max-model-len"]) <= 8192
    assert int(flags["port"]) == c["ports"][0]["containerPort"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert pod["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    hf_home = next(e["value"] for e in c["env"] if e["name"] == "HF_HOME")
    cache = next(m for m in c["volumeMounts"] if hf_home.startswith(m["mountPath"]))
    volume = next(v for v in pod["volumes"] if v["name"] == cache["name"])
    assert volume["persistentVolumeClaim"]["claimName"] in r.names("PersistentVolumeClaim")


def test_gpu_overlay_serves_the_tuned_adapter_as_a_lora_module(rendered: dict[str, Any]) -> None:
    r = rendered["gpu"]
    env = env_config(r)
    url = urlparse(env["CARE_LLM__BACKEND__TUNED_BASE_URL"])
    svc = r.get("Service", url.hostname or "")
    assert url.path == "/v1" and url.port in {p["port"] for p in svc["spec"]["ports"]}
    tuned = r.get("Deployment", "vllm-tuned")
    labels = tuned["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    main = r.get("Service", urlparse(env["CARE_LLM__BACKEND__BASE_URL"]).hostname or "")
    assert not main["spec"]["selector"].items() <= labels.items()  # the base model's Service skips it
    pod = tuned["spec"]["template"]["spec"]
    c = container(pod, "vllm")
    args = c["args"]
    flags = dict(a.removeprefix("--").split("=", 1) for a in args if a.startswith("--") and "=" in a)
    assert args[0] == "HuggingFaceTB/SmolLM2-135M-Instruct"  # the base care tune trains on
    assert "--enable-lora" in args
    module, path = flags["lora-modules"].split("=", 1)
    assert module == env["CARE_LLM__BACKEND__TUNED_MODEL"]
    assert int(flags["max-lora-rank"]) >= 8 and int(flags["max-logprobs"]) >= 20
    # the adapter folder care tune writes under $CARE_HOME, on the care-home volume, read-only
    assert path == f"{env['CARE_HOME']}/models/care-tuned/adapter"
    mount = next(m for m in c["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert mount["readOnly"] and volume["persistentVolumeClaim"]["claimName"] == "care-home"


def test_gpu_overlay_runs_retrieval_on_faiss_gpu(rendered: dict[str, Any]) -> None:
    r = rendered["gpu"]
    assert env_config(r)["CARE_FAISS_GPU"] == "1"
    pod = r.get("Deployment", "care")["spec"]["template"]["spec"]
    care = container(pod, "care")
    assert care["image"].endswith("-gpu")
    assert care["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])


@pytest.mark.parametrize("overlay", ["cpu", "cpu-dask-training"])
def test_cpu_overlay_has_no_gpu_anywhere(
    rendered: dict[str, Any], overlay: str, workloads_of: Workloads
) -> None:
    r = rendered[overlay]
    env = env_config(r)
    assert env["CARE_LLM__BACKEND__KIND"] == "inprocess"
    assert env["CARE_FAISS_GPU"] == "0"
    assert "vllm" not in r.names("Deployment")
    assert "nvidia.com/gpu" not in r.path.read_text()
    for _wl, pod in workloads_of(r):
        for c in pod.get("initContainers", []) + pod["containers"]:
            if c["image"].startswith("care-service"):
                assert c["image"].endswith("-cpu")


def test_external_redis_replaces_the_statefulset(rendered: dict[str, Any]) -> None:
    r = rendered["gpu-external-redis"]
    assert not r.names("StatefulSet")
    assert not {"redis", "redis-headless"} & r.names("Service")
    assert "redis-from-care" not in r.names("NetworkPolicy")
    care = container(r.get("Deployment", "care")["spec"]["template"]["spec"], "care")
    url = next(e for e in care["env"] if e["name"] == "CARE_REDIS_URL")
    assert url["valueFrom"]["secretKeyRef"] == {"name": "care-redis", "key": "url"}


def test_redis_cluster_overlay_is_external_and_in_cluster_mode(rendered: dict[str, Any]) -> None:
    r = rendered["gpu-redis-cluster"]
    assert not r.names("StatefulSet")
    care = container(r.get("Deployment", "care")["spec"]["template"]["spec"], "care")
    env = {e["name"]: e for e in care["env"]}
    assert env["CARE_REDIS_CLUSTER"]["value"] == "true"
    assert env["CARE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "care-redis", "key": "url"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prompt_configmaps_mount_where_the_settings_point(
    rendered: dict[str, Any], overlay: str, fixture_prompts: Path
) -> None:
    r = rendered[overlay]
    prompts = r.get("ConfigMap", "care-prompts")
    experiments = r.get("ConfigMap", "care-experiments")
    # Fixed names: an update edits the mounted files in place (the service reloads them).
    assert prompts["metadata"]["name"] == "care-prompts"
    assert experiments["metadata"]["name"] == "care-experiments"
    files = {p.name: p.read_text() for p in fixture_prompts.iterdir()}
    assert set(prompts["data"]) == set(files) - {"experiments.yaml"}
    for name, text in prompts["data"].items():
        assert text == files[name]
    assert set(experiments["data"]) == {"experiments.yaml"}
    pod = r.get("Deployment", "care")["spec"]["template"]["spec"]
    care = container(pod, "care")
    env = env_config(r)
    by_volume = {v["name"]: v for v in pod["volumes"]}
    mounts = {by_volume[m["name"]].get("configMap", {}).get("name"): m for m in care["volumeMounts"]}
    assert mounts["care-prompts"]["mountPath"] == env["CARE_PROMPTS_DIR"]
    exp_dir, exp_file = env["CARE_EXPERIMENTS_FILE"].rsplit("/", 1)
    assert mounts["care-experiments"]["mountPath"] == exp_dir and exp_file in experiments["data"]
    # subPath mounts never see ConfigMap updates.
    assert "subPath" not in mounts["care-prompts"] and "subPath" not in mounts["care-experiments"]


def test_render_refuses_a_prompts_dir_without_experiments(
    render: Callable[[str, Path], subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    (tmp_path / "listwise.yaml").write_text("strategy: listwise\n")
    proc = render("cpu", tmp_path)
    assert proc.returncode != 0
    assert "experiments.yaml is missing" in proc.stderr
    assert proc.stdout == ""


def test_render_refuses_an_unknown_overlay(
    render: Callable[[str, Path], subprocess.CompletedProcess[str]], fixture_prompts: Path
) -> None:
    proc = render("tpu", fixture_prompts)
    assert proc.returncode != 0 and "no overlay 'tpu'" in proc.stderr


def test_the_repository_prompts_render(
    render: Callable[[str, Path], subprocess.CompletedProcess[str]],
) -> None:
    """With the real prompts/, care-prompts carries every template and care-experiments the arms."""
    prompts = REPO / "prompts"
    if not (prompts / "experiments.yaml").is_file():
        pytest.skip("prompts/experiments.yaml is not in the tree yet")

    proc = render("gpu", prompts)
    assert proc.returncode == 0, proc.stderr
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(proc.stdout) if d}
    templates = {p.name for p in prompts.glob("*.y*ml")} - {"experiments.yaml"}
    data = docs[("ConfigMap", "care-prompts")]["data"]
    assert set(data) == templates
    for name in templates:
        assert data[name] == (prompts / name).read_text()
    exp = docs[("ConfigMap", "care-experiments")]["data"]["experiments.yaml"]
    assert exp == (prompts / "experiments.yaml").read_text()


@pytest.mark.parametrize(("overlay", "kind"), [("cpu", "inprocess"), ("gpu", "http")])
def test_overlay_settings_validate_as_the_service_reads_them(
    rendered: dict[str, Any], overlay: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.settings import Settings

    for name, value in env_config(rendered[overlay]).items():
        if name.startswith("CARE_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.llm.backend.kind == kind
