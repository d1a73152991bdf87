"""Verification pairs over the test (or validation) identities, in the LFW layout.

10 folds; each fold holds ``P`` genuine pairs then ``P`` impostor pairs (LFW: P = 300).
With at least 20 test identities the folds are identity-disjoint (whole look-alike families
go to one fold, so look-alike impostors stay inside a fold); smaller sets share identities
across folds. ``P`` is scaled down when the identities cannot supply 300 distinct pairs of
each kind per fold. ``impostor_lookalike_fraction`` of each fold's impostors pair two members
of one look-alike family (as many as the fold allows).

``pairs.txt`` follows LFW's ``pairs.txt``: a header ``10<TAB>P``, then per fold ``P`` lines
``name<TAB>n1<TAB>n2`` and ``P`` lines ``name1<TAB>n1<TAB>name2<TAB>n2``; image ``n`` of
``name`` is the file ``test/images/<name>/<n>.jpg`` (``val/images/...`` for the validation split).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clusterface.synth.plan import SynthPlan, folder_name

FOLDS = 10
PAIRS_PER_FOLD = 300
DISJOINT_MIN_IDENTITIES = 20


@dataclass(frozen=True)
class Pair:
    """Two test images (identity, image number each)."""

    a: tuple[int, int]
    b: tuple[int, int]

    @property
    def same(self) -> bool:
        return self.a[0] == self.b[0]


@dataclass
class PairSet:
    """Pairs in file order (fold by fold: genuine then impostor) plus what was done to make them."""

    pairs: list[Pair] = field(default_factory=list)
    pairs_per_fold: int = 0
    folds_identity_disjoint: bool = True
    lookalike_impostors: int = 0

    @property
    def issame(self) -> list[bool]:
        return [p.same for p in self.pairs]


def _assign_folds(plan: SynthPlan, ids: np.ndarray, rng: np.random.Generator) -> list[list[int]]:
    if len(ids) < DISJOINT_MIN_IDENTITIES:
        return [ids.tolist() for _ in range(FOLDS)]
    families: dict[int, list[int]] = {}
    for i in ids.tolist():
        families.setdefault(int(plan.parents[i]), []).append(i)
    groups = list(families.values())
    order = rng.permutation(len(groups))
    groups = [groups[k] for k in order]
    groups.sort(key=len, reverse=True)  # stable: big families first, random among equals
    folds: list[list[int]] = [[] for _ in range(FOLDS)]
    for g in groups:
        # balance identities per fold, ties broken by total images (genuine-pair supply)
        k = min(range(FOLDS), key=lambda f: (len(folds[f]), int(plan.counts[folds[f]].sum()) if folds[f] else 0))
        folds[k].extend(g)
    if min(len(f) for f in folds) < 2:
        # a fold of one identity (or one family) has no impostor pairs: share the identities instead
        return [ids.tolist() for _ in range(FOLDS)]
    return folds


def _capacity(plan: SynthPlan, members: list[int]) -> tuple[int, int]:
    n = plan.counts[members].astype(np.int64)
    genuine = int((n * (n - 1) // 2).sum())
    impostor = int((n.sum() ** 2 - (n**2).sum()) // 2)
    return genuine, impostor


def _two_of(rng: np.random.Generator, n: int) -> tuple[int, int]:
    """Two distinct indices in [0, n), uniformly (``rng.choice(n, 2, replace=False)`` costs ~20x more)."""
    u, v = rng.random(2).tolist()
    a, b = int(u * n), int(v * (n - 1))
    return a, b + (b >= a)


def build_pairs(plan: SynthPlan, seed: int, lookalike_fraction: float, split: str = "test") -> PairSet:
    """Draw the verification pairs of ``split`` ("test" or "val"; deterministic in ``plan`` and ``seed``)."""
    if split not in ("test", "val"):
        raise ValueError(f"verification pairs are drawn for 'test' or 'val', got {split!r}")
    # the test split keeps its original stream, so adding a validation split leaves its pairs as they were
    rng = np.random.default_rng([seed, 9] if split == "test" else [seed, 9, 1])
    folds = _assign_folds(plan, plan.split_ids(split), rng)
    disjoint = len({tuple(f) for f in folds}) > 1  # shared folds are all the same list
    per_fold = PAIRS_PER_FOLD
    for members in folds:
        genuine_supply, impostor_supply = _capacity(plan, members)
        # shared folds draw from one pool, so each fold gets a tenth of it
        share = 1 if disjoint else FOLDS
        per_fold = min(per_fold, genuine_supply // share, impostor_supply // share)
    if per_fold < 1:
        raise ValueError(f"too few {split} images for verification pairs: increase identities or images_min")
    out = PairSet(pairs_per_fold=per_fold, folds_identity_disjoint=disjoint)
    used: set[tuple[tuple[int, int], tuple[int, int]]] = set()

    def add(a: tuple[int, int], b: tuple[int, int], into: list[Pair]) -> bool:
        key = (min(a, b), max(a, b))
        if a == b or key in used:
            return False
        used.add(key)
        into.append(Pair(a, b))
        return True

    for members in folds:
        counts = {i: int(plan.counts[i]) for i in members}
        genuine: list[Pair] = []
        multi = [i for i in members if counts[i] >= 2]
        exhausted: set[int] = set()
        while len(genuine) < per_fold:
            live = [i for i in multi if i not in exhausted]
            ident = live[int(rng.integers(0, len(live)))]
            for _ in range(30):
                j1, j2 = _two_of(rng, counts[ident])
                if add((ident, j1), (ident, j2), genuine):
                    break
            else:  # random draws keep hitting used pairs: take any unused one or retire the identity
                for j1 in range(counts[ident]):
                    if any(add((ident, j1), (ident, j2), genuine) for j2 in range(j1 + 1, counts[ident])):
                        break
                else:
                    exhausted.add(ident)
        impostor: list[Pair] = []
        fams: dict[int, list[int]] = {}
        for i in members:
            fams.setdefault(int(plan.parents[i]), []).append(i)
        sib_fams = [f for f in fams.values() if len(f) >= 2]
        want_look = round(lookalike_fraction * per_fold) if sib_fams else 0
        tries = 0
        while len(impostor) < want_look and tries < 50 * per_fold:
            tries += 1
            fam = sib_fams[int(rng.integers(0, len(sib_fams)))]
            k1, k2 = _two_of(rng, len(fam))
            i1, i2 = fam[k1], fam[k2]
            add((i1, int(rng.integers(0, counts[i1]))), (i2, int(rng.integers(0, counts[i2]))), impostor)
        out.lookalike_impostors += len(impostor)
        tries = 0
        while len(impostor) < per_fold:
            tries += 1
            k1, k2 = _two_of(rng, len(members))
            i1, i2 = int(members[k1]), int(members[k2])
            if plan.parents[i1] == plan.parents[i2] and tries < 100 * per_fold:
                continue  # look-alike impostors are counted above; keep the fraction as configured
            if add((i1, int(rng.integers(0, counts[i1]))), (i2, int(rng.integers(0, counts[i2]))), impostor):
                if plan.parents[i1] == plan.parents[i2]:
                    out.lookalike_impostors += 1
        out.pairs.extend(genuine)
        out.pairs.extend(impostor)
    return out


def pairs_text(pairs: PairSet) -> str:
    """LFW-layout ``pairs.txt`` content."""
    lines = [f"{FOLDS}\t{pairs.pairs_per_fold}"]
    for p in pairs.pairs:
        if p.same:
            lines.append(f"{folder_name(p.a[0])}\t{p.a[1]}\t{p.b[1]}")
        else:
            lines.append(f"{folder_name(p.a[0])}\t{p.a[1]}\t{folder_name(p.b[0])}\t{p.b[1]}")
    return "\n".join(lines) + "\n"


def parse_pairs_text(text: str) -> tuple[int, int, list[tuple[str, int, str, int]]]:
    """Parse LFW-layout pairs: (folds, pairs_per_fold, [(name1, n1, name2, n2), ...])."""
    rows = [line.split() for line in text.strip().splitlines()]
    folds, per_fold = int(rows[0][0]), int(rows[0][1])
    out: list[tuple[str, int, str, int]] = []
    for r in rows[1:]:
        if len(r) == 3:
            out.append((r[0], int(r[1]), r[0], int(r[2])))
        elif len(r) == 4:
            out.append((r[0], int(r[1]), r[2], int(r[3])))
        else:
            raise ValueError(f"bad pairs line: {' '.join(r)}")
    if len(out) != 2 * folds * per_fold:
        raise ValueError(f"{len(out)} pairs, expected {2 * folds * per_fold}")
    return folds, per_fold, out
