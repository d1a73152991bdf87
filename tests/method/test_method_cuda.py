"""The method on a GPU (skipped without CUDA): same numbers as on the CPU, bf16 autocast finite."""

from __future__ import annotations

import pytest
import torch

from clusterface.config import load_config
from clusterface.losses import build_objective
from clusterface.memory import MomentumEncoder
from clusterface.models import create_backbone

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def full_cfg():
    return load_config(None, ["model.embedding_dim=32", "objective.warmup_epochs=0"])


def run_objective(device: str, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, float]]:
    torch.manual_seed(seed)
    objective = build_objective(full_cfg(), 50)
    feats, labels = torch.randn(200, 32), torch.arange(200) % 50
    x, y = torch.randn(64, 32), torch.randint(0, 50, (64,))
    objective = objective.to(device)
    objective.update_memory(feats.to(device), labels.to(device))
    objective.refresh_concentration()
    objective.update_memory(feats.to(device) + 0.1, labels.to(device))
    xd = x.to(device).requires_grad_(True)
    parts = objective(xd, y.to(device), None)
    parts["loss"].backward()
    return {k: v.detach().cpu() for k, v in parts.items()}, xd.grad.cpu(), objective.stats()


def test_objective_on_cuda_matches_cpu():
    cpu_parts, cpu_grad, cpu_stats = run_objective("cpu")
    gpu_parts, gpu_grad, gpu_stats = run_objective("cuda")
    for key in cpu_parts:
        torch.testing.assert_close(gpu_parts[key], cpu_parts[key], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gpu_grad, cpu_grad, rtol=1e-3, atol=1e-5)
    for key in ("margin_mean", "margin_max", "temperature_mean", "concentration_mean"):
        assert gpu_stats[key] == pytest.approx(cpu_stats[key], rel=1e-4)


def test_backbone_bf16_step_with_momentum_encoder_on_cuda():
    torch.manual_seed(1)
    model = create_backbone("iresnet18", embedding_dim=32).cuda().to(memory_format=torch.channels_last)
    encoder = MomentumEncoder(model, 0.99)
    objective = build_objective(full_cfg(), 10).cuda()
    opt = torch.optim.SGD([*model.parameters(), *objective.parameters()], lr=0.01)
    x = (torch.rand(16, 3, 112, 112, device="cuda") * 2 - 1).contiguous(memory_format=torch.channels_last)
    y = torch.arange(16, device="cuda") % 10
    for _ in range(3):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            emb = model(x)
            mom = encoder(x)
        parts = objective(emb.float(), y, mom.float())
        assert all(torch.isfinite(v) for v in parts.values())
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
        encoder.update(model)
        objective.update_memory(mom.float(), y)
    objective.refresh_concentration()
    assert float(parts["scc"]) > 0 and float(parts["align"]) > 0
    assert all(torch.isfinite(b).all() for b in objective.buffers() if b.is_floating_point())
