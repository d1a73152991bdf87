"""ClassCentreMemory and the concentration functions against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from clusterface.memory import (
    ClassCentreMemory,
    adaptive_temperatures,
    cluster_guided_margins,
    concentration_rms,
    fill_and_clip,
)


def clustered_features(num_classes: int, per_class: list[int], spreads: list[float], dim: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    feats, labels = [], []
    for k in range(num_classes):
        centre = F.normalize(torch.randn(dim, generator=g), dim=0)
        n = per_class[k]
        feats.append(centre + spreads[k] * torch.randn(n, dim, generator=g))
        labels += [k] * n
    return torch.cat(feats), torch.tensor(labels)


def test_rms_concentration_equals_direct_computation_from_stored_features():
    per_class, spreads = [5, 9, 3, 12], [0.1, 0.5, 0.3, 1.0]
    x, y = clustered_features(4, per_class, spreads)
    memory = ClassCentreMemory(4, 8, alpha=10.0, clip_percentiles=(0.0, 100.0))
    for chunk in torch.arange(len(y)).split(7):  # several batches
        memory.update(x[chunk], y[chunk])
    z = F.normalize(x.double(), dim=1)
    for k in range(4):
        zk = z[y == k]
        c = zk.sum(0) / zk.sum(0).norm()
        rms = math.sqrt(sum(float((zi - c).norm()) ** 2 for zi in zk) / len(zk))
        expected = rms / math.log(len(zk) + 10.0)
        got = float(concentration_rms(memory.window_sums, memory.window_counts, 10.0)[k])
        assert got == pytest.approx(expected, rel=1e-4)
    memory.refresh()  # no clipping (0..100 percentiles): phi~ = phi
    assert float(memory.concentration[3]) == pytest.approx(
        float(concentration_rms(torch.stack([z[y == 3].sum(0)]).float(), torch.tensor([12]))[0]), rel=1e-4
    )
    assert int(memory.window_counts.sum()) == 0 and float(memory.window_sums.abs().sum()) == 0.0


def test_mean_distance_variant_matches_streaming_definition():
    x, y = clustered_features(2, [4, 6], [0.2, 0.6])
    memory = ClassCentreMemory(2, 8, concentration_kind="mean_distance", clip_percentiles=(0.0, 100.0))
    memory.accumulate_only = True
    z = F.normalize(x, dim=1)
    expected_sums = [0.0, 0.0]
    centres: dict[int, torch.Tensor] = {}
    sums = [torch.zeros(8), torch.zeros(8)]
    for i in range(len(y)):  # one sample per batch: loop reference of the streaming distance
        k = int(y[i])
        ref = centres.get(k, z[i])
        expected_sums[k] += float((z[i] - ref).norm())
        sums[k] = sums[k] + z[i]
        centres[k] = sums[k] / sums[k].norm()
        memory.update(x[i : i + 1], y[i : i + 1])
    for k in (0, 1):
        assert float(memory.window_distance_sums[k]) == pytest.approx(expected_sums[k], rel=1e-5)
    memory.refresh()
    assert float(memory.concentration[1]) == pytest.approx(expected_sums[1] / 6 / math.log(16.0), rel=1e-5)


def test_centre_update_is_the_ema_formula():
    torch.manual_seed(0)
    memory = ClassCentreMemory(5, 4, centre_momentum=0.9)
    first = torch.randn(6, 4)
    labels = torch.tensor([1, 1, 3, 3, 3, 0])
    memory.update(first, labels)
    z = F.normalize(first, dim=1)
    for k in (0, 1, 3):
        torch.testing.assert_close(memory.centres[k], F.normalize(z[labels == k].mean(0), dim=0))
    assert memory.known.tolist() == [True, True, False, True, False]
    old = memory.centres.clone()
    second = torch.randn(3, 4)
    labels2 = torch.tensor([1, 2, 1])
    memory.update(second, labels2)
    z2 = F.normalize(second, dim=1)
    expected1 = F.normalize(0.9 * old[1] + 0.1 * z2[[0, 2]].mean(0), dim=0)
    torch.testing.assert_close(memory.centres[1], expected1)
    torch.testing.assert_close(memory.centres[2], z2[1])  # first sighting: its batch mean
    torch.testing.assert_close(memory.centres[3], old[3])  # absent: untouched


def test_accumulate_only_centres_are_normalised_window_sums():
    memory = ClassCentreMemory(3, 4)
    memory.accumulate_only = True
    x = torch.randn(10, 4)
    y = torch.tensor([0, 1, 0, 2, 1, 0, 0, 2, 1, 1])
    memory.update(x[:5], y[:5])
    memory.update(x[5:], y[5:])
    z = F.normalize(x, dim=1)
    for k in range(3):
        torch.testing.assert_close(memory.centres[k], F.normalize(z[y == k].sum(0), dim=0))


def test_fill_and_clip_rule():
    phi = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 9.0, 0.0, 7.0])
    counts = torch.tensor([3, 3, 3, 3, 3, 3, 1, 0])
    valid = counts > 0
    out = fill_and_clip(phi, counts, valid, (10.0, 90.0))
    filled = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 9.0, 9.0])  # n <= 1 gets max phi of the reliable ones
    low, high = np.percentile(filled, [10, 90])
    np.testing.assert_allclose(out[:7].numpy(), np.clip(filled, low, high), rtol=1e-6)
    assert float(out[7]) == 7.0  # invalid: untouched


def test_larger_concentration_gives_larger_margin_within_bounds():
    phi = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5])
    valid = torch.ones(5, dtype=torch.bool)
    m = cluster_guided_margins(phi, valid, base=0.5, delta=0.1, beta=1.0)
    assert torch.all(m[1:] > m[:-1])
    assert float(m.min()) >= 0.4 - 1e-7 and float(m.max()) <= 0.6 + 1e-7
    u = (phi - phi.mean()) / (phi.std(unbiased=False) + 1e-6)
    torch.testing.assert_close(m, 0.5 + 0.1 * u.clamp(-1, 1))
    assert torch.equal(cluster_guided_margins(phi, valid, 0.5, 0.0), torch.full((5,), 0.5))


def test_adaptive_temperature_formula():
    phi = torch.tensor([0.1, 0.3, 0.2, 5.0])
    valid = torch.tensor([True, True, True, False])
    t = adaptive_temperatures(phi, valid, base=0.1)
    torch.testing.assert_close(t[:3], 0.1 * phi[:3] / phi[:3].mean())
    assert float(t[3]) == pytest.approx(0.1)


def test_loose_class_gets_larger_margin_and_temperature_after_refresh():
    x, y = clustered_features(6, [20] * 6, [0.05, 0.1, 0.2, 0.4, 0.8, 1.6], seed=1)
    memory = ClassCentreMemory(8, 8, clip_percentiles=(0.0, 100.0))
    memory.update(x, y)
    memory.refresh()
    m, t = memory.margins[:6], memory.temperatures[:6]
    assert torch.all(m[1:] >= m[:-1]) and float(m[5]) > float(m[0])
    assert torch.all(t[1:] > t[:-1])


def test_unseen_classes_are_masked_not_nan():
    memory = ClassCentreMemory(10, 4)
    memory.refresh()  # empty window: nothing changes, nothing NaN
    memory.update(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2]))
    memory.refresh()
    for buf in (memory.centres, memory.concentration, memory.margins, memory.temperatures):
        assert torch.isfinite(buf).all()
    assert memory.known.tolist() == [True] * 3 + [False] * 7
    assert torch.equal(memory.margins[3:], torch.full((7,), 0.5))
    assert torch.equal(memory.temperatures[3:], torch.full((7,), 0.1))
    stats = memory.stats()
    assert stats["known_classes"] == 3.0 and all(math.isfinite(v) for v in stats.values())


def test_classes_absent_from_window_keep_previous_values_and_singletons_get_max():
    x, y = clustered_features(4, [10, 10, 10, 10], [0.1, 0.2, 0.4, 0.8], seed=2)
    memory = ClassCentreMemory(5, 8, clip_percentiles=(0.0, 100.0))
    memory.update(x, y)
    memory.refresh()
    before = memory.concentration.clone()
    keep = y != 3
    memory.update(x[keep], y[keep])
    memory.update(torch.randn(1, 8), torch.tensor([4]))  # a singleton class
    memory.refresh()
    assert float(memory.concentration[3]) == pytest.approx(float(before[3]))
    assert float(memory.concentration[4]) == pytest.approx(float(memory.concentration[:4].max()))
