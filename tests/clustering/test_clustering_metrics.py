"""Clustering metrics: hand-made inputs with known answers, loop references, properties."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusterface.clustering import bcubed_fscore, clustering_scores, nmi, noise_to_singletons, pairwise_fscore


def _pairwise_loop(pred, truth):
    """Over ordered pairs of distinct items, as plain loops."""
    pred, truth = noise_to_singletons(pred), noise_to_singletons(truth)
    tp = pp = tt = 0
    for i, j in itertools.permutations(range(len(pred)), 2):
        same_p, same_t = pred[i] == pred[j], truth[i] == truth[j]
        tp += same_p and same_t
        pp += same_p
        tt += same_t
    return (tp / pp if pp else 1.0), (tp / tt if tt else 1.0)


def _bcubed_loop(pred, truth):
    pred, truth = noise_to_singletons(pred), noise_to_singletons(truth)
    n = len(pred)
    prec = rec = 0.0
    for i in range(n):
        both = sum(pred[j] == pred[i] and truth[j] == truth[i] for j in range(n))
        prec += both / sum(pred[j] == pred[i] for j in range(n))
        rec += both / sum(truth[j] == truth[i] for j in range(n))
    return prec / n, rec / n


def test_pairwise_known_answer():
    # truth {a,b,c},{d}; pred {a,b},{c,d}: pairs (ordered) TP 2, predicted 4, true 6
    r = pairwise_fscore([0, 0, 1, 1], [0, 0, 0, 1])
    assert r.precision == pytest.approx(0.5)
    assert r.recall == pytest.approx(1 / 3)
    assert r.fscore == pytest.approx(0.4)


def test_bcubed_known_answer():
    r = bcubed_fscore([0, 0, 1, 1], [0, 0, 0, 1])
    assert r.precision == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert r.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)


def test_nmi_known_answers():
    assert nmi([0, 0, 1, 1], [5, 5, 7, 7]) == pytest.approx(1.0)
    # independent partitions: MI = 0
    assert nmi([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(0.0, abs=1e-12)
    # arithmetic averaging: truth H = log 2, pred H = 0 (one cluster): MI = 0 -> 0
    assert nmi([0, 0, 0, 0], [0, 0, 1, 1]) == pytest.approx(0.0, abs=1e-12)


def test_noise_becomes_singletons():
    lab = noise_to_singletons([3, -1, 3, -1, 0])
    assert lab[0] == lab[2]
    assert len({lab[1], lab[3], lab[0], lab[4]}) == 4
    # noise never merges with anything: two noise points of the same class are a false split, not a merge
    r = pairwise_fscore([-1, -1, 0, 0], [0, 0, 1, 1])
    assert r.precision == pytest.approx(1.0)
    assert r.recall == pytest.approx(0.5)


labels = st.lists(st.integers(-1, 5), min_size=1, max_size=25)


@st.composite
def label_pairs(draw):
    n = draw(st.integers(1, 25))
    pred = draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n))
    truth = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    return np.array(pred), np.array(truth)


@settings(max_examples=60, deadline=None)
@given(label_pairs())
def test_match_loop_references(pt):
    pred, truth = pt
    p, r = _pairwise_loop(pred, truth)
    pw = pairwise_fscore(pred, truth)
    assert pw.precision == pytest.approx(p) and pw.recall == pytest.approx(r)
    p, r = _bcubed_loop(pred, truth)
    bc = bcubed_fscore(pred, truth)
    assert bc.precision == pytest.approx(p) and bc.recall == pytest.approx(r)


@settings(max_examples=60, deadline=None)
@given(label_pairs(), st.randoms(use_true_random=False), st.permutations(range(8)))
def test_permutation_invariance(pt, rnd, relabel):
    pred, truth = pt
    before = clustering_scores(pred, truth)
    # reorder items
    order = list(range(len(pred)))
    rnd.shuffle(order)
    after = clustering_scores(pred[order], truth[order])
    # rename cluster ids (noise stays noise)
    renamed = np.array([relabel[p] if p >= 0 else -1 for p in pred])
    renamed_scores = clustering_scores(renamed, truth)
    for key, value in before.items():
        assert after[key] == pytest.approx(value)
        assert renamed_scores[key] == pytest.approx(value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=2, max_size=25))
def test_identical_partitions_score_one(truth):
    s = clustering_scores(truth, truth)
    for key in ("pairwise_precision", "pairwise_recall", "pairwise_fscore", "bcubed_fscore"):
        assert s[key] == pytest.approx(1.0)
    if len(set(truth)) > 1:
        assert s["nmi"] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=2, max_size=25))
def test_singletons_precision_one_and_one_cluster_recall_one(truth):
    n = len(truth)
    singletons = np.arange(n)
    assert pairwise_fscore(singletons, truth).precision == pytest.approx(1.0)
    assert bcubed_fscore(singletons, truth).precision == pytest.approx(1.0)
    assert pairwise_fscore(np.full(n, -1), truth).precision == pytest.approx(1.0)  # all noise = all singletons
    one = np.zeros(n, dtype=int)
    assert pairwise_fscore(one, truth).recall == pytest.approx(1.0)
    assert bcubed_fscore(one, truth).recall == pytest.approx(1.0)


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        pairwise_fscore([0, 1], [0, 1, 2])
