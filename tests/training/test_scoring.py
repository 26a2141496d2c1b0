"""The per-epoch checks: chunking leaves every per-shot value unchanged, and bf16 autocast
(the training precision on CPUs with bf16 units) moves a mean NLL by far less than the
differences between epochs that select the kept model."""

from __future__ import annotations

import numpy as np
import torch

from qtomo.models.gru import GRUModel
from qtomo.training.distributed import DistInfo
from qtomo.training.scoring import SCORE_CHUNK, mean_nll, sum_nll


def _model_and_shots(n: int = 12, shots: int = 3 * SCORE_CHUNK + 17):
    torch.manual_seed(3)
    m = GRUModel(n, 4, hidden=32, layers=2).eval()
    a = np.random.default_rng(5).integers(0, 4, size=(shots, n)).astype(np.uint8)
    return m, a


def test_chunked_sum_equals_one_pass():
    m, a = _model_and_shots()
    with torch.no_grad():
        whole = float(m(torch.from_numpy(a).long()).double().sum())
    assert abs(sum_nll(m, a, torch.device("cpu")) - whole) <= 1e-9 * abs(whole)


def test_bf16_mean_nll_is_close_to_float32():
    m, a = _model_and_shots()
    cpu, one = torch.device("cpu"), DistInfo()
    exact = mean_nll(m, a, cpu, one)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = mean_nll(m, a, cpu, one)
    # bf16 rounds the logits (8 bits of mantissa); the errors average out over the strings,
    # so the mean moves by far less than 1e-3 nats, while it does move (bf16 is in use)
    assert low != exact
    assert abs(low - exact) < 1e-3
