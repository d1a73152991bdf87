"""SCC and cluster-aligning losses against naive loops; gradients go where docs/method.md says."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from clusterface.losses import ClusterAlignLoss, SCCLoss, sample_classes


def naive_scc(x, labels, centres, temps, known):
    total, kept = 0.0, 0
    for i in range(x.shape[0]):
        y = int(labels[i])
        if not known[y]:
            continue
        xi = x[i] / math.sqrt(sum(float(v) ** 2 for v in x[i]))
        terms = {}
        for k in range(centres.shape[0]):
            if known[k]:
                terms[k] = sum(float(a) * float(b) for a, b in zip(xi, centres[k], strict=True)) / float(temps[k])
        top = max(terms.values())
        lse = top + math.log(sum(math.exp(v - top) for v in terms.values()))
        total += lse - terms[y]
        kept += 1
    return total / kept


def make_state(c=6, d=4, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(c, d, generator=g, dtype=dtype), dim=1)
    temps = (0.05 + 0.2 * torch.rand(c, generator=g)).to(dtype)
    known = torch.tensor([True, True, True, False, True, True][:c])
    return centres, temps, known


@pytest.mark.parametrize("adaptive", [True, False])
def test_scc_matches_naive_loop_forward_and_backward(adaptive):
    centres, temps, known = make_state()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 2, 3, 5, 2])  # class 3 unknown: that sample is left out
    loss_fn = SCCLoss(temperature=0.1, adaptive=adaptive)
    loss = loss_fn(x, labels, centres, temps, known)
    used = temps if adaptive else torch.full_like(temps, 0.1)
    assert float(loss.detach()) == pytest.approx(naive_scc(x.detach(), labels, centres, used, known), rel=1e-10)
    loss.backward()
    eps = 1e-6
    for i in range(5):
        for j in range(4):
            xp, xm = x.detach().clone(), x.detach().clone()
            xp[i, j] += eps
            xm[i, j] -= eps
            num = naive_scc(xp, labels, centres, used, known) - naive_scc(xm, labels, centres, used, known)
            num /= 2 * eps
            assert float(x.grad[i, j]) == pytest.approx(num, rel=1e-4, abs=1e-7)
    assert torch.all(x.grad[2] == 0)


def test_scc_closed_form_two_centres():
    # x on c0, c1 orthogonal: loss = log(1 + exp(0/tau1 - 1/tau0))
    centres = torch.eye(2, dtype=torch.float64)
    temps = torch.tensor([0.1, 0.2], dtype=torch.float64)
    x = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    loss = SCCLoss()(x, torch.tensor([0]), centres, temps, torch.tensor([True, True]))
    assert float(loss) == pytest.approx(math.log(1 + math.exp(-1 / 0.1)), rel=1e-5)


def test_scc_gradcheck_and_centres_are_constants():
    centres, temps, known = make_state()
    centres.requires_grad_(True)
    temps.requires_grad_(True)
    labels = torch.tensor([0, 4, 1])
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    loss_fn = SCCLoss()
    assert torch.autograd.gradcheck(lambda x_: loss_fn(x_, labels, centres, temps, known), (x,))
    loss_fn(x, labels, centres, temps, known).backward()
    assert centres.grad is None and temps.grad is None  # stop-gradient


def test_scc_sampled_negatives_equal_full_loss_over_those_columns():
    centres, temps, known = make_state(c=6, dtype=torch.float32)
    x, labels = torch.randn(4, 4), torch.tensor([0, 5, 5, 2])
    columns = torch.tensor([0, 2, 4, 5])
    sub_known = torch.zeros(6, dtype=torch.bool)
    sub_known[columns] = known[columns]
    full = SCCLoss()(x, labels, centres, temps, sub_known)
    sampled = SCCLoss()(x, labels, centres, temps, known, columns)
    torch.testing.assert_close(sampled, full)


def test_sample_classes_always_contains_positives():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([3, 97, 3, 50, 12])
    for n in (2, 10, 50):
        cols = sample_classes(labels, 100, n, generator=g)
        assert set(labels.tolist()) <= set(cols.tolist())
        assert cols.numel() == max(n, 4) and torch.all(cols[1:] > cols[:-1])
    assert torch.equal(sample_classes(labels, 100, 200), torch.arange(100))


def test_scc_no_known_positive_is_zero_and_finite():
    centres, temps, _ = make_state(dtype=torch.float32)
    x = torch.randn(2, 4, requires_grad=True)
    loss = SCCLoss()(x, torch.tensor([0, 1]), centres, temps, torch.zeros(6, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.all(x.grad == 0)


def naive_align(w, labels, centres, known):
    classes = sorted({int(k) for k in labels if known[int(k)]})
    total = 0.0
    for k in classes:
        wk = w[k] / math.sqrt(sum(float(v) ** 2 for v in w[k]))
        total += 1.0 - sum(float(a) * float(b) for a, b in zip(wk, centres[k], strict=True))
    return total / len(classes)


def test_align_matches_naive_loop_and_only_w_gets_gradient():
    centres, _, known = make_state()
    centres.requires_grad_(True)
    w = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 3, 4, 1])
    loss = ClusterAlignLoss()(w, labels, centres, known)
    assert float(loss.detach()) == pytest.approx(naive_align(w.detach(), labels, centres.detach(), known), rel=1e-12)
    loss.backward()
    assert centres.grad is None
    assert torch.all(w.grad[[2, 3, 5]] == 0)  # not in the batch or unknown
    assert torch.autograd.gradcheck(lambda w_: ClusterAlignLoss()(w_, labels, centres.detach(), known), (w,))


def test_align_closed_form():
    w = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    centres = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    loss = ClusterAlignLoss()(w, torch.tensor([0, 1]), centres, torch.tensor([True, True]))
    assert float(loss) == pytest.approx(((1 - 1) + (1 - 1 / math.sqrt(2))) / 2, rel=1e-6)
