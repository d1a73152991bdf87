"""Cosine head + margins against naive per-sample references (plain Python loops)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from clusterface.heads import (
    ArcFaceMargin,
    ClusterGuidedMargin,
    CombinedMargin,
    CosFaceMargin,
    CosineClassifier,
    cos_plus_margin,
)
from clusterface.memory import ClassCentreMemory


def naive_target(c: float, kind: str, m: float, m1: float = 1.0, m3: float = 0.0) -> float:
    """Per-sample target cosine as pytorch-metric-learning / insightface write it (acos + fallback)."""
    c = min(1.0, max(-1.0, c))
    if kind == "cosface":
        return c - m
    theta = math.acos(c)
    if kind == "combined" and m1 != 1.0:
        return (math.cos(m1 * theta + m) if m1 * theta + m < math.pi else c - m * math.sin(m)) - m3
    if c > math.cos(math.pi - m):  # theta + m < pi
        return math.cos(theta + m) - m3
    return c - m * math.sin(m) - m3


def naive_loss(x, w, labels, kind, margins, scale, m1=1.0, m3=0.0):
    """Cross-entropy of the margin logits, written as loops over samples and classes."""
    total = 0.0
    for i in range(x.shape[0]):
        xi = x[i] / max(math.sqrt(sum(float(v) ** 2 for v in x[i])), 1e-6)
        logits = []
        for k in range(w.shape[0]):
            wk = w[k] / max(math.sqrt(sum(float(v) ** 2 for v in w[k])), 1e-6)
            c = float(sum(float(a) * float(b) for a, b in zip(xi, wk, strict=True)))
            if k == int(labels[i]):
                c = naive_target(c, kind, margins[int(labels[i])], m1, m3)
            logits.append(scale * c)
        top = max(logits)
        lse = top + math.log(sum(math.exp(v - top) for v in logits))
        total += lse - logits[int(labels[i])]
    return total / x.shape[0]


def make_head(kind: str, num_classes: int, dim: int, margins: torch.Tensor | None = None, dtype=torch.float32):
    if kind == "arcface":
        margin = ArcFaceMargin(0.5)
    elif kind == "cosface":
        margin = CosFaceMargin(0.35)
    elif kind == "combined":
        margin = CombinedMargin(multiplicative_angular=1.2, additive_angular=0.3, additive_cosine=0.1)
    else:
        memory = ClassCentreMemory(num_classes, dim)
        if margins is not None:
            memory.margins.copy_(margins)
        margin = ClusterGuidedMargin(memory, 0.5)
    head = CosineClassifier(num_classes, dim, margin, scale=8.0).to(dtype)
    if kind == "cluster_guided":
        head._keep_memory = margin.memory  # keep it alive in the test
    return head


def per_class_margins(kind: str, num_classes: int) -> list[float]:
    return {
        "arcface": [0.5] * num_classes,
        "cosface": [0.35] * num_classes,
        "combined": [0.3] * num_classes,
        # the memory stores margins in float32: round the reference's through float32 too
        "cluster_guided": torch.tensor([0.4 + 0.2 * k / (num_classes - 1) for k in range(num_classes)]).tolist(),
    }[kind]


@pytest.mark.parametrize("kind", ["arcface", "cosface", "combined", "cluster_guided"])
def test_head_matches_naive_loops_forward_and_backward(kind):
    torch.manual_seed(0)
    b, c, d = 6, 5, 4
    margins = per_class_margins(kind, c)
    head = make_head(kind, c, d, torch.tensor(margins), dtype=torch.float64)
    x = torch.randn(b, d, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 4, 1])
    loss = F.cross_entropy(head(x, labels), labels)
    kw = {"m1": 1.2, "m3": 0.1} if kind == "combined" else {}
    ref = naive_loss(x.detach(), head.weight.detach(), labels, kind, margins, head.scale, **kw)
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-9, abs=1e-9)
    loss.backward()
    # backward against a central finite difference of the naive loop
    eps = 1e-6
    for i in range(b):
        for j in range(d):
            xp, xm = x.detach().clone(), x.detach().clone()
            xp[i, j] += eps
            xm[i, j] -= eps
            wt = head.weight.detach()
            num = (
                naive_loss(xp, wt, labels, kind, margins, head.scale, **kw)
                - naive_loss(xm, wt, labels, kind, margins, head.scale, **kw)
            ) / (2 * eps)
            assert float(x.grad[i, j]) == pytest.approx(num, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("kind", ["arcface", "cosface", "combined", "cluster_guided"])
def test_head_gradcheck_float64(kind):
    torch.manual_seed(1)
    head = make_head(kind, 4, 3, torch.tensor(per_class_margins(kind, 4)), dtype=torch.float64)
    labels = torch.tensor([0, 3, 1])
    x = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    w = head.weight.detach().clone().requires_grad_(True)

    def fn(x_, w_):
        # through the whole head (normalisation, cosine, margin, scale), with W as an input
        logits = torch.func.functional_call(head, {"weight": w_}, (x_, labels))
        return F.cross_entropy(logits, labels)

    assert torch.autograd.gradcheck(fn, (x, w))


def test_arcface_closed_form_target_logit():
    # embedding at angle theta from its class weight: target logit s cos(theta + m)
    theta, m, s = 0.7, 0.5, 64.0
    head = CosineClassifier(2, 2, ArcFaceMargin(m), scale=s)
    head.weight.data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x = torch.tensor([[math.cos(theta), math.sin(theta)]]) * 3.0  # norm does not matter
    logits = head(x, torch.tensor([0])).detach()
    assert float(logits[0, 0]) == pytest.approx(s * math.cos(theta + m), rel=1e-5)
    assert float(logits[0, 1]) == pytest.approx(s * math.sin(theta), rel=1e-5)  # non-target: s cos
    # past pi - m the fallback cos(theta) - m sin(m) applies
    theta = math.pi - 0.2
    x = torch.tensor([[math.cos(theta), math.sin(theta)]])
    fallback = s * (math.cos(theta) - m * math.sin(m))
    assert float(head(x, torch.tensor([0])).detach()[0, 0]) == pytest.approx(fallback, rel=1e-5)


def test_cosface_closed_form():
    head = CosineClassifier(2, 2, CosFaceMargin(0.35), scale=30.0)
    head.weight.data = torch.eye(2)
    x = torch.tensor([[0.6, 0.8]])
    logits = head(x, torch.tensor([1]))
    torch.testing.assert_close(logits, torch.tensor([[30 * 0.6, 30 * (0.8 - 0.35)]]))


def test_combined_margin_special_cases_equal_arcface_and_cosface():
    torch.manual_seed(2)
    cos = torch.rand(7, 5) * 2 - 1
    target = torch.randint(0, 5, (7,))
    torch.testing.assert_close(CombinedMargin(1.0, 0.5, 0.0)(cos, target), ArcFaceMargin(0.5)(cos, target))
    torch.testing.assert_close(CombinedMargin(1.0, 0.0, 0.35)(cos, target), CosFaceMargin(0.35)(cos, target))


def test_cluster_guided_with_delta_zero_is_arcface_exactly():
    """Delta = 0 (all margins m0) gives bitwise the same loss and gradients as ArcFace."""
    torch.manual_seed(3)
    c, d = 11, 8
    arc = CosineClassifier(c, d, ArcFaceMargin(0.5))
    memory = ClassCentreMemory(c, d, base_margin=0.5, margin_delta=0.0)
    # a refresh with Delta = 0 must leave every margin at m0
    memory.update(torch.randn(40, d), torch.randint(0, c, (40,)))
    memory.refresh()
    assert torch.equal(memory.margins, torch.full((c,), 0.5))
    cg = CosineClassifier(c, d, ClusterGuidedMargin(memory, 0.5))
    cg.weight.data = arc.weight.data.clone()
    x = torch.randn(16, d)
    labels = torch.randint(0, c, (16,))
    outs = []
    for head in (arc, cg):
        xi = x.clone().requires_grad_(True)
        head.weight.grad = None
        loss = F.cross_entropy(head(xi, labels), labels)
        loss.backward()
        outs.append((loss.detach(), xi.grad, head.weight.grad))
    for a, b in zip(*outs, strict=True):
        assert torch.equal(a, b)


def test_larger_margin_for_looser_class_lowers_target_logit():
    memory = ClassCentreMemory(2, 2)
    memory.margins.copy_(torch.tensor([0.4, 0.6]))
    margin = ClusterGuidedMargin(memory, 0.5)
    cos = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    out = margin(cos, torch.tensor([0, 1]))
    assert float(out[1, 1]) < float(out[0, 0]) < 0.5
    margin.enabled = False  # warm-up: m0 for everyone
    out = margin(cos, torch.tensor([0, 1]))
    assert float(out[0, 0]) == float(out[1, 1]) == pytest.approx(math.cos(math.acos(0.5) + 0.5), rel=1e-6)


def test_safe_at_cos_plus_minus_one_and_zero_norm_embeddings():
    c = torch.tensor([1.0, -1.0, 1.0 - 1e-9, -1.0 + 1e-9, 0.0], requires_grad=True)
    out = cos_plus_margin(c, 0.5)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(c.grad).all()
    assert float(out[0].detach()) == pytest.approx(math.cos(0.5), rel=1e-6)
    head = CosineClassifier(4, 3, ArcFaceMargin(0.5))
    x = torch.zeros(2, 3, requires_grad=True)
    loss = F.cross_entropy(head(x, torch.tensor([0, 1])), torch.tensor([0, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and torch.isfinite(head.weight.grad).all()
    # an embedding exactly on its class weight: cos = 1 in floating point
    head.weight.data[0] = torch.tensor([1.0, 0.0, 0.0])
    x = torch.tensor([[5.0, 0.0, 0.0]], requires_grad=True)
    F.cross_entropy(head(x, torch.tensor([0])), torch.tensor([0])).backward()
    assert torch.isfinite(x.grad).all()


def test_margin_is_visible_to_autograd():
    """d target/d cos = cos m + sin m cos/sin theta != 1: the margin shapes the gradient."""
    c = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    cos_plus_margin(c, 0.5).backward()
    theta = math.acos(0.3)
    expected = math.cos(0.5) + math.sin(0.5) * 0.3 / math.sin(theta)
    assert float(c.grad) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kind", ["arcface", "cluster_guided"])
def test_bf16_autocast_is_float32_and_close(kind):
    torch.manual_seed(4)
    head = make_head(kind, 50, 16, torch.linspace(0.4, 0.6, 50))
    x = torch.randn(8, 16)
    labels = torch.randint(0, 50, (8,))
    ref = head(x, labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = head(x.bfloat16(), labels)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(out, ref, atol=0.5, rtol=0.02)  # embeddings rounded to bf16, logits scaled by 64


def test_sampled_columns_match_full_head_on_those_columns():
    torch.manual_seed(5)
    head = CosineClassifier(20, 6, ArcFaceMargin(0.5))
    x, labels = torch.randn(5, 6), torch.tensor([3, 7, 7, 12, 19])
    columns = torch.tensor([0, 3, 7, 9, 12, 19])
    full = head(x, labels)
    part = head(x, labels, columns)
    torch.testing.assert_close(part, full[:, columns])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dividing_by_row_norms_equals_normalising_w_forward_and_backward(dtype):
    """The head divides x̂ W^T by ||w_k|| instead of normalising W: same loss, same gradients (x and W)."""
    torch.manual_seed(3)
    b, c, d = 16, 300, 32
    head = make_head("arcface", c, d, dtype=dtype)
    with torch.no_grad():  # rows of very different norms, one of them zero (the eps floor)
        head.weight.mul_(torch.logspace(-3, 2, c, dtype=dtype).unsqueeze(1))
        head.weight[7].zero_()
    labels = torch.randint(0, c, (b,))
    x = torch.randn(b, d, dtype=dtype, requires_grad=True)
    w_ref = head.weight.detach().clone().requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(head(x, labels), labels)
    loss.backward()
    cos_ref = F.normalize(x_ref, dim=1, eps=1e-6) @ F.normalize(w_ref, dim=1, eps=1e-6).t()
    loss_ref = F.cross_entropy(head.margin(cos_ref, labels) * head.scale, labels)
    loss_ref.backward()
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(loss, loss_ref, **tol)
    torch.testing.assert_close(x.grad, x_ref.grad, **tol)
    # W's rows span five decades of norm (gradient ~ 1/||w_k||): compare each row on its own scale
    row_scale = w_ref.grad.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
    rel = 1e-12 if dtype == torch.float64 else 1e-5
    assert float(((head.weight.grad - w_ref.grad).abs() / row_scale).max()) <= rel
    assert float(head.weight.grad[7].abs().max()) > 0  # the zero row still learns (as with normalise)
