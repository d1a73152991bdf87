"""10-fold verification and TAR@FAR against loop references and hand-computed answers."""

import numpy as np
import pytest
from scipy import interpolate
from sklearn.model_selection import KFold

from clusterface.evaluation import (
    DEFAULT_THRESHOLDS,
    DegenerateEmbeddingError,
    check_embeddings,
    kfold_slices,
    pair_distances,
    tar_at_far,
    verification_10fold,
)


def _reference_10fold(dist, issame, thresholds, far_target=1e-3):
    """insightface eval/verification.py calculate_roc + calculate_val, as plain loops."""
    k_fold = KFold(n_splits=10, shuffle=False)
    indices = np.arange(len(dist))
    accuracy, best_thr, val, far = [], [], [], []

    def acc_at(t, d, s):
        pred = np.less(d, t)
        tp = np.sum(pred & s)
        tn = np.sum(~pred & ~s)
        return (tp + tn) / d.size

    def val_far(t, d, s):
        pred = np.less(d, t)
        return np.sum(pred & s) / np.sum(s), np.sum(pred & ~s) / np.sum(~s)

    for train, test in k_fold.split(indices):
        acc_train = np.array([acc_at(t, dist[train], issame[train]) for t in thresholds])
        b = int(np.argmax(acc_train))
        best_thr.append(thresholds[b])
        accuracy.append(acc_at(thresholds[b], dist[test], issame[test]))
        far_train = np.array([val_far(t, dist[train], issame[train])[1] for t in thresholds])
        if np.max(far_train) >= far_target:
            # interp1d(far_train, thresholds, kind="slinear") of old scipy (stable sort, duplicates
            # allowed): the segment from the last threshold with FAR <= target to the next one.
            # Current scipy refuses the duplicate FAR values, so it is written out here.
            i = 0
            while i < len(far_train) and far_train[i] <= far_target:
                i += 1
            if i == 0:
                thr = thresholds[0]
            elif i == len(far_train) or far_train[i - 1] == far_target:
                thr = thresholds[i - 1]
            else:
                f = interpolate.interp1d(far_train[i - 1 : i + 1], thresholds[i - 1 : i + 1], kind="slinear")
                thr = float(f(far_target))
        else:
            thr = 0.0
        v, f = val_far(thr, dist[test], issame[test])
        val.append(v)
        far.append(f)
    return np.array(accuracy), np.array(best_thr), np.array(val), np.array(far)


def _random_pairs(rng, n=6000, grid=False):
    issame = np.zeros(n, dtype=bool)
    issame[rng.permutation(n)[: n // 2]] = True
    dist = np.where(issame, rng.normal(0.9, 0.3, n), rng.normal(1.6, 0.3, n)).clip(0, 4)
    if grid:  # distances exactly on the threshold grid: checks the strict `dist < t` rule
        dist = DEFAULT_THRESHOLDS[np.clip(np.round(dist * 100).astype(int), 0, 399)]
    return dist, issame


@pytest.mark.parametrize("seed,grid", [(0, False), (1, False), (2, True), (3, True)])
def test_10fold_matches_loop_reference(seed, grid):
    dist, issame = _random_pairs(np.random.default_rng(seed), grid=grid)
    res = verification_10fold(dist, issame)
    acc, thr, val, far = _reference_10fold(dist, issame, DEFAULT_THRESHOLDS)
    np.testing.assert_allclose(res.fold_accuracies, acc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.fold_thresholds, thr, rtol=0, atol=0)
    assert res.accuracy_mean == pytest.approx(acc.mean(), abs=1e-12)
    assert res.accuracy_std == pytest.approx(acc.std(), abs=1e-12)
    np.testing.assert_allclose(val.mean(), res.val, atol=1e-12)
    np.testing.assert_allclose(far.mean(), res.far, atol=1e-12)


def test_10fold_uneven_fold_sizes_match_reference():
    dist, issame = _random_pairs(np.random.default_rng(5), n=1237)
    res = verification_10fold(dist, issame)
    acc, thr, _, _ = _reference_10fold(dist, issame, DEFAULT_THRESHOLDS)
    np.testing.assert_allclose(res.fold_accuracies, acc, atol=1e-12)
    np.testing.assert_allclose(res.fold_thresholds, thr)


def test_kfold_slices_are_sklearn_kfold():
    for n in (10, 17, 6000, 1237):
        ours = [np.arange(n)[s] for s in kfold_slices(n)]
        theirs = [test for _, test in KFold(10, shuffle=False).split(np.arange(n))]
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_separable_pairs_give_100_percent_and_first_best_threshold():
    issame = np.tile([True, False], 300)
    dist = np.where(issame, 0.5, 1.5)
    res = verification_10fold(dist, issame)
    assert res.accuracy_mean == 1.0 and res.accuracy_std == 0.0
    # first threshold with dist < t for every genuine pair: 0.51 (0.50 is not > 0.5)
    assert res.fold_thresholds == pytest.approx([0.51] * 10)
    assert res.best_threshold == pytest.approx(0.51)


def test_one_error_in_one_fold_known_answer():
    issame = np.tile([True, False], 50)  # 100 pairs, folds of 10
    dist = np.where(issame, 0.5, 1.5)
    dist[32] = 3.0  # a genuine pair in fold 3 that no sensible threshold accepts
    res = verification_10fold(dist, issame)
    expected = [1.0] * 10
    expected[3] = 0.9
    assert res.fold_accuracies == pytest.approx(expected)
    assert res.accuracy_mean == pytest.approx(0.99)
    assert res.accuracy_std == pytest.approx(np.std(expected))


def test_pairs_are_not_shuffled():
    # all errors packed into the first tenth: only fold 0 loses accuracy
    issame = np.tile([True, False], 50)
    dist = np.where(issame, 0.5, 1.5)
    dist[:10] = np.where(issame[:10], 1.5, 0.5)
    res = verification_10fold(dist, issame)
    assert res.fold_accuracies[0] == 0.0
    assert res.fold_accuracies[1:] == [1.0] * 9


def test_degenerate_inputs_raise():
    issame = np.tile([True, False], 50)
    with pytest.raises(DegenerateEmbeddingError):
        verification_10fold(np.full(100, 0.0), issame)
    d = np.linspace(0, 2, 100)
    d[7] = np.nan
    with pytest.raises(DegenerateEmbeddingError):
        verification_10fold(d, issame)
    with pytest.raises(DegenerateEmbeddingError, match="identical"):
        check_embeddings(np.ones((20, 8)))
    emb = np.random.default_rng(0).normal(size=(20, 8))
    emb[3, 2] = np.inf
    with pytest.raises(DegenerateEmbeddingError, match="NaN or inf"):
        pair_distances(emb)


def test_pair_distances_are_squared_l2_of_consecutive_rows():
    emb = np.array([[1, 0], [0, 1], [1, 0], [1, 0], [0.6, 0.8], [-0.6, -0.8]], dtype=np.float32)
    np.testing.assert_allclose(pair_distances(emb), [2.0, 0.0, 4.0], atol=1e-6)


def test_tar_at_far_hand_computed():
    genuine = [0.9, 0.8, 0.7, 0.4]
    impostor = [0.85, 0.6, 0.5, 0.3, 0.2, 0.1, 0.05, 0.0, -0.1, -0.2]
    scores = np.array(genuine + impostor)
    same = np.array([True] * 4 + [False] * 10)
    res = {r.far: r for r in tar_at_far(scores, same, fars=(0.5, 0.1, 0.01))}
    # FAR <= 0.1 allows one false accept (0.85): accepted genuine 0.9, 0.8, 0.7 -> 3/4 at threshold 0.7
    assert res[0.1].tar == pytest.approx(0.75)
    assert res[0.1].threshold == pytest.approx(0.7)
    assert res[0.1].achieved_far == pytest.approx(0.1)
    # FAR <= 0.5: five false accepts (down to 0.2) -> all four genuine accepted
    assert res[0.5].tar == pytest.approx(1.0)
    # FAR 0.01 needs 100 impostor pairs; there are 10
    assert res[0.01].tar is None
    assert res[0.01].reason is not None and "10 impostor" in res[0.01].reason


def test_tar_at_far_matches_brute_force():
    rng = np.random.default_rng(0)
    same = rng.random(3000) < 0.3
    scores = np.round(np.where(same, rng.normal(0.6, 0.2, 3000), rng.normal(0.1, 0.2, 3000)), 2)  # with ties
    for r in tar_at_far(scores, same, fars=(1e-1, 1e-2, 1e-3)):
        best = 0.0
        for t in np.unique(scores):
            acc = scores >= t
            if (acc & ~same).sum() / (~same).sum() <= r.far:
                best = max(best, (acc & same).sum() / same.sum())
        assert r.tar == pytest.approx(best)


def test_tar_at_far_rejects_nan_and_one_sided_labels():
    with pytest.raises(DegenerateEmbeddingError):
        tar_at_far(np.array([0.1, np.nan]), np.array([True, False]))
    with pytest.raises(ValueError, match="genuine and impostor"):
        tar_at_far(np.array([0.1, 0.2]), np.array([True, True]))


def test_cosine_scores_give_the_same_result_as_distances():
    dist, issame = _random_pairs(np.random.default_rng(9), n=600)
    a = verification_10fold(dist, issame)
    b = verification_10fold(1.0 - dist / 2.0, issame, kind="cosine")
    assert a.fold_accuracies == pytest.approx(b.fold_accuracies)


def test_threshold_grid_is_method_md():
    """docs/method.md, Evaluation protocols: 0.00..4.00 step 0.01; the first 400 are np.arange(0, 4, 0.01)."""
    assert len(DEFAULT_THRESHOLDS) == 401
    assert DEFAULT_THRESHOLDS[0] == 0.0 and abs(DEFAULT_THRESHOLDS[-1] - 4.0) < 1e-12
    assert np.array_equal(DEFAULT_THRESHOLDS[:400], np.arange(0, 4, 0.01))
