"""MomentumEncoder: the EMA formula exactly, buffers included; no gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from clusterface.memory import MomentumEncoder


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ema_equals_formula_for_parameters_and_buffers(dtype):
    """Agreement to the last bit but one (fused multiply-add vs two roundings), buffers included."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.PReLU(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    model = model.to(dtype)
    ema = MomentumEncoder(model, momentum=0.9)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    expected = {k: v.clone() for k, v in ema.encoder.state_dict().items()}
    for _ in range(3):
        model(torch.randn(4, 3, 8, 8, dtype=dtype)).square().mean().backward()  # train mode: BN running stats move
        opt.step()
        opt.zero_grad()
        ema.update(model)
        online = model.state_dict()
        for k, v in online.items():
            if v.is_floating_point():
                expected[k] = 0.9 * expected[k] + (1 - 0.9) * v
            else:
                expected[k] = v.clone()
    got = ema.encoder.state_dict()
    assert set(got) == set(expected)
    for k in expected:
        tol = 1e-6 if dtype == torch.float32 else 1e-14
        torch.testing.assert_close(got[k], expected[k], rtol=tol, atol=tol * 0.1, msg=k)
    # the BN running stats really moved (a params-only EMA would fail here)
    assert not torch.allclose(got["1.running_mean"], torch.zeros(4, dtype=dtype))
    assert int(got["1.num_batches_tracked"]) == 3


def test_momentum_zero_copies_and_encoder_gets_no_gradients():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    ema = MomentumEncoder(model, momentum=0.0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)
    for (k, a), b in zip(ema.encoder.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert all(not p.requires_grad for p in ema.encoder.parameters())
    ema.train()
    assert not ema.encoder.training  # BN uses the averaged running stats
    x = torch.randn(4, 3, requires_grad=True)
    out = ema(x)
    assert not out.requires_grad
    # BN of the copy did not update its own stats in forward
    before = ema.encoder[1].running_mean.clone()
    ema(torch.randn(4, 3) * 10)
    assert torch.equal(before, ema.encoder[1].running_mean)
