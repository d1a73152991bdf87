"""Long tail, label noise and per-class concentration spread are as configured."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from clusterface.config.schema import SynthConfig
from clusterface.data.decode import decode_image
from clusterface.synth import SynthFacesDataset, build_plan
from clusterface.synth.plan import image_counts
from clusterface.synth.sampling import render_record


def test_long_tail_as_configured():
    cfg = SynthConfig(identities=3000, images_min=2, images_median=20, images_max=200, images_spread=0.8)
    counts = image_counts(cfg)
    assert counts.min() == 2 and counts.max() == 200
    assert 18 <= np.median(counts) <= 22
    assert (counts >= 100).mean() > 0.01  # a real tail, not a clipped blob
    small = image_counts(SynthConfig(identities=3000, images_min=5, images_median=10, images_max=30))
    assert small.min() == 5 and small.max() == 30 and 9 <= np.median(small) <= 11


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2])
def test_label_noise_fraction(fraction):
    cfg = SynthConfig(identities=60, images_median=8, label_noise=fraction)
    ds = SynthFacesDataset(cfg, split="train")
    wrong = float((ds.labels != ds.true_labels).mean())
    assert wrong == pytest.approx(fraction, abs=0.5 / len(ds))
    assert build_plan(cfg).noisy_images == round(fraction * len(ds))
    test = SynthFacesDataset(cfg, split="test")
    assert (test.labels == test.true_labels).all()  # the test split stays clean


def _dispersion(features: np.ndarray, alpha: float = 10.0) -> float:
    """PCL concentration phi = mean ||z - c|| / log(n + alpha) on unit features (docs/method.md, Concentration)."""
    z = features / np.linalg.norm(features, axis=1, keepdims=True)
    c = z.mean(0)
    c /= np.linalg.norm(c)
    return float(np.linalg.norm(z - c, axis=1).mean() / np.log(len(z) + alpha))


def test_per_class_concentration_varies():
    cfg = SynthConfig(identities=40, seed=5)
    plan = build_plan(cfg)
    phis, difficulty = [], []
    for ident in plan.train_ids[:16].tolist():
        feats = []
        for j in range(10):
            rec = plan.train[0].__class__("train", ident, j, ident, j)
            out = render_record(cfg, rec)
            grey = decode_image(out.jpeg).mean(2)  # type: ignore[arg-type]
            small = grey.reshape(28, 4, 28, 4).mean((1, 3)).ravel()
            feats.append((small - small.mean()) / (small.std() + 1e-6))
        phis.append(_dispersion(np.array(feats)))
        difficulty.append(out.identity.difficulty)
    phis_a = np.array(phis)
    assert phis_a.max() / phis_a.min() > 1.6
    assert phis_a.std() / phis_a.mean() > 0.12
    # the spread follows the identities' own nuisance spread
    assert np.corrcoef(phis_a, difficulty)[0, 1] > 0.3


def test_image_counts_out_of_order_are_refused():
    with pytest.raises(pydantic.ValidationError, match="images_min <= images_median <= images_max"):
        SynthConfig(images_min=5, images_median=3)
    with pytest.raises(pydantic.ValidationError, match="images_min <= images_median <= images_max"):
        SynthConfig(images_median=30, images_max=20)
