"""Where the stages that grow with interactions run: this process (`LOCAL`) or a Dask cluster."""

from __future__ import annotations

from cascade.engine.base import LOCAL, Engine, Group, LocalEngine, chunks

__all__ = ["LOCAL", "Engine", "Group", "LocalEngine", "check_engine", "chunks", "open_engine"]


def check_engine(spec: str) -> str:
    """`spec` unchanged if it names an engine: 'local', 'dask:N' (N >= 1) or 'dask:tcp://host:port'."""
    where = spec.removeprefix("dask:")
    if spec == "local" or (
        spec.startswith("dask:") and ((where.isdigit() and int(where) >= 1) or "://" in where)
    ):
        return spec
    raise ValueError(f"engine {spec!r}: expected 'local', 'dask:N' (N >= 1) or 'dask:tcp://host:port'")


def open_engine(spec: str) -> Engine:
    """The engine `spec` names (see check_engine); a Dask one starts or joins its cluster here."""
    if check_engine(spec) == "local":
        return LOCAL
    from cascade.engine.dask import DaskEngine

    return DaskEngine.open(spec.removeprefix("dask:"))
