"""Contract test over every registered backbone, and the `clusterface models` command."""

from __future__ import annotations

import pytest
import torch

from clusterface.cli import main
from clusterface.models import count_flops, count_parameters, create_backbone, list_backbones

BIG = {"iresnet34", "iresnet50", "iresnet100", "iresnet200"}


def params(name: str):
    return pytest.param(name, marks=pytest.mark.slow) if name in BIG else name


def test_registry_lists_the_expected_backbones():
    expected = {"iresnet18", "iresnet34", "iresnet50", "iresnet100", "iresnet200", "mobilefacenet", "cfnet_s"}
    assert expected <= set(list_backbones())
    with pytest.raises(KeyError):
        create_backbone("no-such-net")


@pytest.mark.parametrize("name", [params(n) for n in list_backbones()])
def test_backbone_contract(name):
    torch.manual_seed(0)
    model = create_backbone(name, embedding_dim=64, dropout=0.1)
    model.train()
    x = torch.rand(2, 3, 112, 112) * 2 - 1
    out = model(x)
    assert out.shape == (2, 64)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    missing = [
        n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert not missing, f"parameters without gradient: {missing}"
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert all(n.endswith("features.weight") for n in frozen), frozen  # only insightface's frozen BN1d scale
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 64)


def test_channels_last_gives_the_same_embeddings():
    torch.manual_seed(0)
    model = create_backbone("cfnet_s").eval()
    x = torch.rand(2, 3, 112, 112) * 2 - 1
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_published_sizes():
    """IResNet-50/100 as insightface: 43.6 M / 65.2 M parameters, 6.3 / 12.1 G multiply-adds."""
    for name, p_m, gmacs in (("iresnet50", 43.59, 6.31), ("iresnet100", 65.16, 12.09)):
        with torch.device("meta"):
            model = create_backbone(name)
        assert count_parameters(model) / 1e6 == pytest.approx(p_m, abs=0.01)
        assert count_flops(model) / 2e9 == pytest.approx(gmacs, abs=0.01)


def test_models_command_lists_params_and_flops(capsys):
    assert main(["models", "cfnet_s", "mobilefacenet"]) == 0
    out = capsys.readouterr().out
    assert "GFLOPs" in out and "mobilefacenet" in out and "iresnet" not in out
    line = next(ln for ln in out.splitlines() if ln.startswith("cfnet_s"))
    assert float(line.split()[1]) == pytest.approx(2.59, abs=0.01)
    assert float(line.split()[2]) == pytest.approx(0.079, abs=0.001)
    assert main(["models", "no-such-net"]) != 0


@pytest.mark.slow
def test_models_command_lists_every_backbone(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in list_backbones():
        assert name in out
