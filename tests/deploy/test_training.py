"""The Dask training overlay: care-train runs `care train` on the scheduler Service, the workers are as
documented, every training pod runs the service's image, and only the Dask pods reach the scheduler."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAY = "cpu-dask-training"
COMPONENT = DEPLOY / "k8s" / "components" / "dask-training"

Doc = dict[str, Any]
Workloads = Callable[[Any], Iterator[tuple[Doc, Doc]]]
UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def container(pod: Doc, name: str) -> Doc:
    return next(c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == name)


def pod_of(wl: Doc) -> Doc:
    pod: Doc = wl["spec"]["template"]["spec"]
    return pod


def flags(args: list[str]) -> dict[str, str]:
    """`--flag value` pairs of an argument list (the manifests never use `--flag=value` here)."""
    return {
        a: args[i + 1]
        for i, a in enumerate(args[:-1])
        if a.startswith("--") and not args[i + 1].startswith("--")
    }


def env_of(c: Doc) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def quantity_bytes(q: str) -> int:
    m = re.fullmatch(r"(\d+)([A-Za-z]*)", q)
    assert m and m.group(2) in UNITS, q
    return int(m.group(1)) * UNITS[m.group(2)]


def port_number(c: Doc, port: int | str) -> int:
    """A probe's or Service's port (a number, or the name of one of the container's ports)."""
    if isinstance(port, int):
        return port
    return next(int(p["containerPort"]) for p in c["ports"] if p["name"] == port)


@pytest.fixture(scope="module")
def r(rendered: dict[str, Any]) -> Any:
    return rendered[OVERLAY]


@pytest.fixture(scope="module")
def readme_row() -> Callable[[str], str]:
    text = (DEPLOY / "README.md").read_text()

    def _row(first_cell: str) -> str:
        rows = [ln for ln in text.splitlines() if ln.startswith(f"| {first_cell} ")]
        assert len(rows) == 1, f"deploy/README.md: expected one table row for {first_cell}, found {len(rows)}"
        return rows[0]

    return _row


def scheduler_address(r: Any) -> tuple[str, int]:
    """Where care-train's --engine points: (host, port), checked to be the scheduler Service."""
    job = r.get("Job", "care-train")
    train = container(pod_of(job), "train")
    engine = flags(train["args"])["--engine"]
    assert engine.startswith("dask:tcp://"), engine
    url = urlparse(engine.removeprefix("dask:"))
    assert url.hostname and url.port and url.path == ""
    return url.hostname, url.port


def test_the_job_trains_on_the_scheduler_service(r: Any) -> None:
    host, port = scheduler_address(r)
    # the Service of that name, in the Job's namespace (a bare name resolves there), on that port
    svc = r.get("Service", host)
    svc_port = next(p for p in svc["spec"]["ports"] if p["port"] == port)
    sched = r.get("Deployment", "dask-scheduler")
    assert svc["spec"]["selector"].items() <= sched["spec"]["template"]["metadata"]["labels"].items()
    assert sched["spec"]["replicas"] == 1
    c = container(pod_of(sched), "scheduler")
    assert c["command"] == ["dask"] and c["args"][0] == "scheduler"
    # the Service's targetPort is the port the scheduler listens on
    listen = int(flags(c["args"])["--port"])
    assert port_number(c, svc_port["targetPort"]) == listen
    for probe in ("readinessProbe", "livenessProbe"):
        assert port_number(c, c[probe]["tcpSocket"]["port"]) == listen, probe
    # the Job's command: `care train --engine dask:tcp://SCHEDULER:PORT --out ...` (the image's
    # entrypoint is `care`)
    train = container(pod_of(r.get("Job", "care-train")), "train")
    assert "command" not in train and train["args"][0] == "train"
    assert "--if-missing" not in train["args"]  # the Job exists to (re)train
    # the workers and the Job's wait for them name the same scheduler
    worker = container(pod_of(r.get("Deployment", "dask-worker")), "worker")
    assert worker["args"][:2] == ["worker", f"tcp://{host}:{port}"]
    wait = container(pod_of(r.get("Job", "care-train")), "wait-workers")
    assert env_of(wait)["CARE_DASK_SCHEDULER"] == f"tcp://{host}:{port}"
    compile(wait["args"][0], "wait-workers", "exec")  # the inline script is valid Python


def test_the_arguments_parse_as_the_installed_clis_read_them(r: Any) -> None:
    """care train, dask scheduler and dask worker accept every flag the manifests pass."""
    click = pytest.importorskip("click")
    typer_main = pytest.importorskip("typer.main")
    dask_cli = pytest.importorskip("distributed.cli.dask_worker")
    sched_cli = pytest.importorskip("distributed.cli.dask_scheduler")
    from cascade.engine import check_engine
    from service.cli import app

    train = container(pod_of(r.get("Job", "care-train")), "train")
    group = typer_main.get_command(app)
    parent = click.Context(group)
    params = group.get_command(parent, "train").make_context("train", train["args"][1:], parent=parent).params
    assert check_engine(params["engine"]) == params["engine"]
    worker = container(pod_of(r.get("Deployment", "dask-worker")), "worker")
    dask_cli.main.make_context("dask worker", worker["args"][1:])
    sched = container(pod_of(r.get("Deployment", "dask-scheduler")), "scheduler")
    sched_cli.main.make_context("dask scheduler", sched["args"][1:])


def test_workers_are_as_documented(r: Any, readme_row: Callable[[str], str]) -> None:
    dep = r.get("Deployment", "dask-worker")
    replicas = dep["spec"]["replicas"]
    assert replicas == 2
    c = container(pod_of(dep), "worker")
    f = flags(c["args"])
    assert f["--nworkers"] == "1" and f["--nthreads"] == "1"
    limits, requests = c["resources"]["limits"], c["resources"]["requests"]
    # one thread, one CPU, and the thread pools of the native libraries held to it
    assert int(limits["cpu"]) == int(f["--nthreads"]) and env_of(c)["OMP_NUM_THREADS"] == f["--nthreads"]
    # Dask plans with exactly the memory the container may use, and is guaranteed it
    assert quantity_bytes(f["--memory-limit"]) == quantity_bytes(limits["memory"])
    assert requests == limits
    dask_utils = pytest.importorskip("dask.utils")
    assert dask_utils.parse_bytes(f["--memory-limit"]) == quantity_bytes(limits["memory"])
    # the worker and nanny ports are fixed, and the probes use them
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"worker": int(f["--worker-port"]), "nanny": int(f["--nanny-port"])}
    assert c["readinessProbe"]["tcpSocket"]["port"] == "worker"
    assert c["livenessProbe"]["tcpSocket"]["port"] == "nanny"  # up while the nanny restarts a worker
    # spill space on the writable /tmp volume
    assert f["--local-directory"].startswith("/tmp/")
    assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])
    # the Job waits for that many workers before it splits the work
    wait = container(pod_of(r.get("Job", "care-train")), "wait-workers")
    assert int(env_of(wait)["CARE_DASK_WORKERS"]) == replicas
    # deploy/README.md states the same numbers
    row = readme_row("`dask-worker`")
    assert f"{replicas} replicas" in row
    for flag in ("--nworkers", "--nthreads", "--memory-limit"):
        assert f"{flag} {f[flag]}" in row, flag


def test_training_pods_run_the_service_image(r: Any) -> None:
    service_image = container(pod_of(r.get("Deployment", "care")), "care")["image"]
    assert service_image == "care-service:0.1.0-cpu"
    for kind, name in (
        ("Deployment", "dask-scheduler"),
        ("Deployment", "dask-worker"),
        ("Job", "care-train"),
    ):
        pod = pod_of(r.get(kind, name))
        for c in pod.get("initContainers", []) + pod["containers"]:
            assert c["image"] == service_image, (name, c["name"])
        # Kubernetes' DASK_SCHEDULER_* Service variables would be read as Dask settings
        assert pod["enableServiceLinks"] is False, name
    # the workers and the training step load the text embedder from the image, as the service does
    for c in (
        container(pod_of(r.get("Deployment", "dask-worker")), "worker"),
        container(pod_of(r.get("Job", "care-train")), "train"),
    ):
        assert env_of(c)["HF_HUB_OFFLINE"] == env_of(c)["TRANSFORMERS_OFFLINE"] == "1", c["name"]


def test_the_job_writes_where_the_service_reads(r: Any) -> None:
    env = r.get("ConfigMap", "care-env")["data"]
    job = r.get("Job", "care-train")
    pod = pod_of(job)
    train = container(pod, "train")
    out = flags(train["args"])["--out"]
    assert out == env["CARE_ARTIFACTS"] == env_of(train)["CARE_ARTIFACTS"]
    # on the care-home claim, mounted read-write here and read-only by the service
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount = next(m for m in train["volumeMounts"] if out.startswith(m["mountPath"] + "/"))
    assert not mount.get("readOnly", False)
    claim = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
    service = pod_of(r.get("Deployment", "care"))
    service_claims = {
        v["persistentVolumeClaim"]["claimName"] for v in service["volumes"] if "persistentVolumeClaim" in v
    }
    assert claim in service_claims and claim in r.names("PersistentVolumeClaim")
    # the Job fetches what care-prepare fetched, into the same CARE_HOME, before it trains
    prepare = container(pod, "prepare")
    assert [c["name"] for c in pod["initContainers"]] == ["prepare", "wait-workers"]
    assert "care data fetch" in prepare["args"][0] and "care models pull" in prepare["args"][0]
    assert env_of(prepare)["CARE_HOME"] == env_of(train)["CARE_HOME"] == env["CARE_HOME"]
    # one writer: care-prepare (which would train into the same folder) is gone
    assert r.names("Job") == {"care-train"}
    # the torch thread pool of the two-tower fit matches the Job's CPU limit
    assert env_of(train)["OMP_NUM_THREADS"] == str(int(train["resources"]["limits"]["cpu"]))
    # the scheduler and the workers read nothing from disk: the Job sends them the data
    for name in ("dask-scheduler", "dask-worker"):
        assert not any("persistentVolumeClaim" in v for v in pod_of(r.get("Deployment", name))["volumes"])


def _selected(selector: Doc, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector  # the policies here use matchLabels only
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def _peers(r: Any, pod_labels: dict[str, str]) -> list[tuple[Doc, list[Doc]]]:
    """(peer, ports) of every ingress rule of every NetworkPolicy that selects these pods."""
    out = []
    for pol in (d for d in r.docs if d["kind"] == "NetworkPolicy"):
        if not pol["spec"]["podSelector"] or not _selected(pol["spec"]["podSelector"], pod_labels):
            continue
        for rule in pol["spec"].get("ingress", []):
            assert rule.get("from"), f"{pol['metadata']['name']}: a rule without `from` admits everyone"
            out += [(peer, rule.get("ports", [])) for peer in rule["from"]]
    return out


def test_only_the_dask_pods_reach_the_scheduler_and_the_workers(r: Any) -> None:
    labels = {
        name: r.get(kind, name)["spec"]["template"]["metadata"]["labels"]
        for kind, name in (
            ("Deployment", "dask-scheduler"),
            ("Deployment", "dask-worker"),
            ("Job", "care-train"),
            ("Deployment", "care"),
            ("StatefulSet", "redis"),
        )
    }
    deny = r.get("NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny

    def admitted(target: str) -> dict[str, list[Doc]]:
        seen: dict[str, list[Doc]] = {}
        for peer, ports in _peers(r, labels[target]):
            assert set(peer) == {"podSelector"}, peer  # this namespace's pods only
            for name, pod_labels in labels.items():
                if _selected(peer["podSelector"], pod_labels):
                    seen.setdefault(name, []).extend(ports or [{"all": True}])
        return seen

    _host, port = scheduler_address(r)
    sched = admitted("dask-scheduler")
    assert set(sched) == {"dask-worker", "care-train"}
    assert sched["care-train"] == [{"port": port, "protocol": "TCP"}]  # the Job is only a client
    assert set(admitted("dask-worker")) == {"dask-scheduler", "dask-worker"}


def test_the_component_is_only_in_its_overlay(rendered: dict[str, Any]) -> None:
    """The other overlays are unchanged: care-prepare trains, no Dask pods."""
    assert (COMPONENT / "kustomization.yaml").is_file()
    for name, r in rendered.items():
        if name != OVERLAY:
            assert "care-prepare" in r.names("Job") and "dask-worker" not in r.names("Deployment"), name
