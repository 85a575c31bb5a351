"""Training threads: the cascade's single-threaded faiss searches must not leave training on one core."""

from __future__ import annotations

import faiss
import torch

from cascade.cores import usable_cores
from cascade.tune.model import use_every_core


def test_training_takes_every_core_back_from_faiss() -> None:
    before = torch.get_num_threads()
    try:
        faiss.omp_set_num_threads(1)  # what building the examples through the cascade does
        assert torch.get_num_threads() == 1  # one OpenMP runtime: torch followed faiss down
        cores = usable_cores()
        assert use_every_core(torch.device("cpu")) == cores
        assert torch.get_num_threads() == cores
        faiss.omp_set_num_threads(1)
        assert use_every_core(torch.device("cuda")) == 0  # a GPU run leaves the CPU threads alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
        faiss.omp_set_num_threads(1)
