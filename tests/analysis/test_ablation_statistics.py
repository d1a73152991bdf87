"""Interval and paired-difference arithmetic of the ablation report, against scipy.stats."""

import math

import numpy as np
import pytest
from scipy import stats

from clusterface.analysis.ablation_summary import METRICS_BY_KEY, difficulty_split, metric_value, summarize_study
from clusterface.analysis.cell_summary import angle_statistics, separation
from clusterface.analysis.intervals import NO_DIFFERENCE, paired_difference, t_interval, verdict


@pytest.mark.parametrize("values", [[90.1, 90.5, 89.8], [0.2, 0.4], [1.0, 2.0, 4.0, 8.0, 16.0]])
def test_t_interval_matches_scipy(values):
    iv = t_interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert iv.mean == pytest.approx(np.mean(values))
    assert (iv.low, iv.high) == (pytest.approx(low), pytest.approx(high))
    ci = stats.ttest_1samp(values, 0.0).confidence_interval(0.95)
    assert (iv.low, iv.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert iv.n == len(values)


def test_t_interval_other_confidence_and_degenerate_cases():
    x = [3.0, 5.0, 4.0, 7.0]
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.9)
    iv = t_interval(x, confidence=0.9)
    assert (iv.low, iv.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    one = t_interval([2.5])
    assert one.mean == 2.5 and math.isnan(one.low) and math.isnan(one.high) and one.n == 1
    assert t_interval([]).n == 0 and math.isnan(t_interval([]).mean)
    # non-finite values (a metric a cell could not measure) are left out
    assert t_interval([1.0, math.nan, 3.0]).n == 2


def test_paired_difference_matches_ttest_rel():
    row = {0: 90.9, 1: 91.4, 2: 90.2, 3: 91.0}
    base = {0: 90.5, 1: 91.5, 2: 89.9, 3: 90.4, 7: 99.0}  # seed 7 has no partner: left out
    d = paired_difference(row, base)
    seeds = [0, 1, 2, 3]
    ref = stats.ttest_rel([row[s] for s in seeds], [base[s] for s in seeds]).confidence_interval(0.95)
    assert d.seeds == (0, 1, 2, 3)
    assert d.interval.mean == pytest.approx(np.mean([row[s] - base[s] for s in seeds]))
    assert (d.interval.low, d.interval.high) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert (d.wins, d.losses) == (3, 1)
    assert d.verdict == NO_DIFFERENCE  # the interval contains 0
    assert d.to_dict()["verdict"] == NO_DIFFERENCE


def test_verdict_wording():
    assert verdict(t_interval([1.0, 1.1, 0.9])) == "wins"
    assert verdict(t_interval([-1.0, -1.1, -0.9])) == "loses"
    assert verdict(t_interval([-1.0, 1.1, 0.2])) == NO_DIFFERENCE
    assert verdict(t_interval([1.0])).startswith(NO_DIFFERENCE)  # one seed: never a win
    assert verdict(t_interval([])) == "not measured"


def test_separation_d_prime_formula():
    rng = np.random.default_rng(0)
    g, i = rng.normal(0.6, 0.1, 300), rng.normal(0.1, 0.2, 500)
    s = separation(np.concatenate([g, i]), np.r_[np.ones(300, bool), np.zeros(500, bool)])
    assert s["d_prime"] == pytest.approx((g.mean() - i.mean()) / math.sqrt((g.var() + i.var()) / 2), rel=1e-5)
    assert sum(s["genuine_counts"]) == 300 and sum(s["impostor_counts"]) == 500
    assert len(s["bins"]) == len(s["genuine_counts"]) + 1


def test_angle_statistics_on_constructed_features():
    # identity 0 along e0 (two faces at ±10° in the e0-e2 plane), identity 1 exactly along e1: centres 90° apart
    a = math.radians(10)
    x = np.array([[math.cos(a), 0, math.sin(a)], [math.cos(a), 0, -math.sin(a)], [0, 1, 0], [0, 1, 0]])
    summary, per_class = angle_statistics(x, np.array([0, 0, 1, 1]))
    assert summary["intra_mean_deg"] == pytest.approx(5.0)  # (10 + 10 + 0 + 0) / 4
    assert summary["inter_mean_deg"] == pytest.approx(90.0)
    assert summary["inter_nearest_mean_deg"] == pytest.approx(90.0)
    assert per_class["nn1_accuracy"] == [1.0, 1.0]
    assert per_class["intra_mean_deg"] == [pytest.approx(10.0), pytest.approx(0.0)]


def _record(row, seed, acc, per_class=None):
    return {
        "dataset": "d",
        "row": row,
        "seed": seed,
        "verification": {"accuracy": acc, "tar_at_far": {"1e-02": None}},
        "similarity": {"d_prime": 2.0 + acc},
        **({"per_class": per_class} if per_class else {}),
    }


def test_summarize_study_pairs_rows_with_the_arcface_row():
    accs = {"1_arcface": [0.90, 0.91, 0.92], "6_full": [0.905, 0.905, 0.93]}
    records = [_record(r, s, a) for r, v in accs.items() for s, a in enumerate(v)]
    out = summarize_study(records)["datasets"]["d"]
    assert out["baseline"] == "1_arcface"
    acc = out["rows"]["6_full"]["metrics"]["accuracy"]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(accs["6_full"]), scale=stats.sem(accs["6_full"]))
    assert (acc["low"], acc["high"]) == (pytest.approx(low), pytest.approx(high))
    paired = out["rows"]["6_full"]["paired"]["accuracy"]
    ref = stats.ttest_rel(accs["6_full"], accs["1_arcface"]).confidence_interval()
    assert (paired["low"], paired["high"]) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert (paired["wins"], paired["losses"]) == (2, 1)
    assert out["rows"]["6_full"]["metrics"]["tar_1e-02"]["n"] == 0  # not measurable: no number invented
    assert metric_value(records[0], METRICS_BY_KEY["tar_1e-02"]) != metric_value(
        records[0], METRICS_BY_KEY["tar_1e-02"]
    )


def test_difficulty_split_uses_the_baseline_quartiles():
    names = [f"id{i}" for i in range(8)]
    phi = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]  # quartiles: ids 0-1, 2-3, 4-5, 6-7
    base_acc = [1.0, 1.0, 0.9, 0.9, 0.8, 0.8, 0.5, 0.5]
    rows = {"base": {}, "other": {}}
    for seed, gain in enumerate([0.1, 0.2]):
        rows["base"][seed] = {"per_class": {"identity": names, "phi": phi, "nn1_accuracy": base_acc}}
        # the other row gains only on the loosest quartile; its own φ must not matter
        other = [a + (gain if i >= 6 else 0.0) for i, a in enumerate(base_acc)]
        rows["other"][seed] = {"per_class": {"identity": names, "phi": phi[::-1], "nn1_accuracy": other}}
    out = difficulty_split(rows, "base")
    assert [iv["mean"] for iv in out["rows"]["other"]] == [0.0, 0.0, 0.0, pytest.approx(0.15)]
    assert [iv["mean"] for iv in out["baseline_nn1"]] == [1.0, 0.9, 0.8, 0.5]
    ref = stats.ttest_1samp([0.1, 0.2], 0.0).confidence_interval()
    assert out["rows"]["other"][3]["low"] == pytest.approx(ref.low)
