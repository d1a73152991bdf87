"""MomentumEncoder: the EMA formula exactly, buffers included; no gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from clusterface.memory import MomentumEncoder, horizon_momentum, warmup_end_step


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


@pytest.mark.parametrize(
    ("horizon", "steps", "expected"),
    [(0.1, 52, 1 - 1 / 5.2), (0.1, 11_373, 1 - 1 / 1137.3), (1.0, 1000, 0.999), (0.1, 8, 0.0), (0.5, 2, 0.0)],
)
def test_horizon_momentum_is_one_minus_inverse_horizon_in_steps(horizon, steps, expected):
    assert horizon_momentum(horizon, steps) == pytest.approx(expected, abs=1e-12)


def test_horizon_momentum_rejects_nonsense():
    with pytest.raises(ValueError, match="horizon_epochs"):
        horizon_momentum(0.0, 10)


@pytest.mark.parametrize("steps_per_epoch", [1, 3, 7, 52])
@pytest.mark.parametrize("warmup", [0.1, 0.5, 1.0, 1.3, 2.0, 1 / 3])
def test_warmup_end_step_matches_the_objectives_switch(steps_per_epoch, warmup):
    """The restart step is the first step whose progress (as the trainer computes it) leaves warm-up."""
    t = warmup_end_step(warmup, steps_per_epoch)

    def in_warmup(step: int) -> bool:
        return step // steps_per_epoch + (step % steps_per_epoch) / steps_per_epoch < warmup

    assert t >= 1 and in_warmup(t - 1) and not in_warmup(t)


def test_restart_copies_parameters_and_all_buffers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = MomentumEncoder(model, momentum=0.99)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(3):
        model(torch.randn(8, 3)).square().mean().backward()
        opt.step()
        opt.zero_grad()
        ema.update(model)
    assert not torch.equal(ema.encoder[1].running_mean, model[1].running_mean)
    ema.restart(model)
    for (k, a), b in zip(ema.encoder.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    # a copy, not an alias: the online model moving leaves the restarted copy where it was
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(ema.encoder[0].weight, model[0].weight)
