"""JointObjective / build_objective: the interface the trainer uses, warm-up and every ablation row."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from clusterface.config import Config, load_config
from clusterface.heads import ArcFaceMargin, ClusterGuidedMargin, CosFaceMargin, CosineClassifier
from clusterface.losses import build_objective
from clusterface.memory import MomentumEncoder
from clusterface.models import create_backbone

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
YAMLS = sorted(CONFIGS.glob("ablations/*.yaml")) + sorted(CONFIGS.glob("*.yaml"))


def tiny_cfg(path: Path | None = None, *overrides: str) -> Config:
    return load_config(path, ["model.embedding_dim=16", "objective.warmup_epochs=1", *overrides])


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.stem)
def test_every_config_builds_and_runs_steps(path):
    torch.manual_seed(0)
    cfg = tiny_cfg(path)
    num_classes = 12
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 16), torch.nn.BatchNorm1d(16))
    objective = build_objective(cfg, num_classes)
    encoder = MomentumEncoder(model, 0.9) if cfg.objective.use_momentum_encoder else None  # mu: the trainer's job
    opt = torch.optim.SGD([*model.parameters(), *objective.parameters()], lr=0.1)
    x = torch.randn(24, 3, 4, 4)
    y = torch.arange(24) % num_classes
    for epoch in (0.0, 0.5, 1.0, 1.5):  # warm-up, then the cluster terms
        objective.set_progress(epoch)
        emb = model(x)
        mom = encoder(x) if encoder is not None else None
        parts = objective(emb, y, mom)
        assert set(parts) >= {"loss", "cls", "scc", "align"}
        assert parts["loss"].requires_grad and not parts["cls"].requires_grad
        assert all(torch.isfinite(v) for v in parts.values())
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
        if encoder is not None:
            encoder.update(model)
        objective.update_memory(mom if mom is not None else emb.detach(), y)
        if epoch in (0.5, 1.5):
            objective.refresh_concentration()
    obj = cfg.objective
    assert (float(parts["scc"]) > 0) == obj.use_scc
    assert (float(parts["align"]) > 0) == obj.use_align
    total = parts["cls"] + obj.lambda_scc * parts["scc"] + obj.lambda_align * parts["align"]
    torch.testing.assert_close(parts["loss"].detach(), total)
    stats = objective.stats()
    for key in ("margin_mean", "margin_min", "margin_max"):
        assert math.isfinite(stats[key])
    if cfg.margin.kind == "cluster_guided" and cfg.margin.delta > 0:
        assert stats["margin_max"] > stats["margin_min"]
        assert "concentration_mean" in stats and "temperature_mean" in stats


def test_ablation_rows_select_the_right_parts():
    rows = {p.stem: build_objective(tiny_cfg(p), 5) for p in sorted(CONFIGS.glob("ablations/*.yaml"))}
    assert isinstance(rows["1_arcface"].classifier.margin, ArcFaceMargin) and rows["1_arcface"].memory is None
    assert isinstance(rows["2_cg_margin"].classifier.margin, ClusterGuidedMargin)
    assert rows["3_scc_fixed_tau"].scc is not None and not rows["3_scc_fixed_tau"].scc.adaptive
    assert rows["4_scc_adaptive_tau"].scc.adaptive and rows["4_scc_adaptive_tau"].align is None
    assert rows["5_align"].align is not None and rows["5_align"].scc is None
    full = rows["6_full"]
    assert isinstance(full.classifier.margin, ClusterGuidedMargin) and full.scc.adaptive and full.align is not None
    assert full.use_momentum_encoder and not rows["7_full_no_momentum"].use_momentum_encoder
    cos = build_objective(tiny_cfg(None, "margin.kind=cosface", "margin.m=0.35"), 5)
    assert isinstance(cos.classifier.margin, CosFaceMargin)


def test_warmup_is_plain_arcface_exactly():
    torch.manual_seed(1)
    cfg = tiny_cfg(CONFIGS / "full.yaml")
    objective = build_objective(cfg, 7)
    # give the memory some state so that the cluster terms would differ if they were on
    feats, labels = torch.randn(30, 16), torch.arange(30) % 7
    objective.update_memory(feats, labels)
    objective.refresh_concentration()
    assert float(objective.memory.margins.max()) > 0.5
    objective.set_progress(0.5)
    arc = CosineClassifier(7, 16, ArcFaceMargin(cfg.margin.m0), cfg.margin.scale)
    arc.weight.data = objective.classifier.weight.data.clone()
    x = torch.randn(8, 16)
    y = torch.randint(0, 7, (8,))
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    parts = objective(x1, y, None)
    parts["loss"].backward()
    ref = F.cross_entropy(arc(x2, y), y)
    ref.backward()
    assert torch.equal(parts["loss"].detach(), ref.detach())
    assert torch.equal(x1.grad, x2.grad) and torch.equal(objective.classifier.weight.grad, arc.weight.grad)
    assert float(parts["scc"]) == 0.0 and float(parts["align"]) == 0.0
    assert objective.stats()["warmup"] == 1.0
    objective.set_progress(1.0)
    parts = objective(x, y, None)
    assert float(parts["scc"]) > 0 and float(parts["loss"].detach()) != float(ref.detach())


def test_sampled_negatives_run_and_include_positives():
    cfg = tiny_cfg(CONFIGS / "full.yaml", "objective.num_negatives=4", "objective.warmup_epochs=0")
    objective = build_objective(cfg, 50)
    x, y = torch.randn(10, 16, requires_grad=True), torch.arange(10) * 5
    objective.update_memory(torch.randn(10, 16), y)
    parts = objective(x, y, None)
    parts["loss"].backward()
    assert torch.isfinite(parts["loss"]) and float(parts["scc"]) > 0
    grads = objective.classifier.weight.grad.abs().sum(1) > 0
    assert int(grads.sum()) == 10  # only the sampled columns (here: just the positives) get gradient


def test_wants_momentum_every_k_steps():
    objective = build_objective(tiny_cfg(CONFIGS / "full.yaml", "objective.momentum_every_steps=3"), 5)
    assert [objective.wants_momentum(s) for s in range(6)] == [True, False, False, True, False, False]
    assert not build_objective(tiny_cfg(CONFIGS / "ablations/7_full_no_momentum.yaml"), 5).wants_momentum(0)


def test_bf16_autocast_objective_is_finite_and_close():
    torch.manual_seed(2)
    cfg = tiny_cfg(CONFIGS / "full.yaml", "objective.warmup_epochs=0")
    objective = build_objective(cfg, 9)
    objective.update_memory(torch.randn(40, 16), torch.arange(40) % 9)
    objective.refresh_concentration()
    objective.update_memory(torch.randn(40, 16), torch.arange(40) % 9)
    x, y = torch.randn(12, 16), torch.arange(12) % 9
    ref = objective(x, y, None)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = objective(x.bfloat16(), y, None)
    for key in ("loss", "cls", "scc", "align"):
        assert out[key].dtype == torch.float32 and torch.isfinite(out[key])
        torch.testing.assert_close(out[key], ref[key].detach(), rtol=0.03, atol=0.05)


def test_with_a_real_backbone_one_step():
    torch.manual_seed(3)
    cfg = tiny_cfg(CONFIGS / "full.yaml", "objective.warmup_epochs=0")
    model = create_backbone("cfnet_s", embedding_dim=16)
    objective = build_objective(cfg, 4)
    encoder = MomentumEncoder(model, 0.999)
    x, y = torch.rand(4, 3, 112, 112) * 2 - 1, torch.tensor([0, 1, 2, 3])
    objective.update_memory(encoder(x), y)
    parts = objective(model(x), y, encoder(x))
    parts["loss"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert all(p.grad is None for p in encoder.parameters())


def test_stats_report_what_is_in_use():
    objective = build_objective(tiny_cfg(CONFIGS / "ablations/3_scc_fixed_tau.yaml", "objective.warmup_epochs=0"), 6)
    objective.update_memory(torch.randn(30, 16), torch.arange(30) % 6)
    objective.refresh_concentration()
    stats = objective.stats()
    assert stats["margin_min"] == stats["margin_max"] == 0.5  # plain ArcFace margin
    assert stats["temperature_min"] == stats["temperature_max"] == pytest.approx(0.1)  # fixed tau
    full = build_objective(tiny_cfg(CONFIGS / "full.yaml", "objective.warmup_epochs=0"), 6)
    full.update_memory(torch.randn(30, 16), torch.arange(30) % 6)
    full.refresh_concentration()
    stats = full.stats()
    assert stats["margin_max"] > stats["margin_min"] and stats["temperature_max"] > stats["temperature_min"]
    assert stats["known_classes"] == 6.0
