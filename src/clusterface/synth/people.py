"""Drawing the population: look-alike families, identities and per-image random streams.

Every random draw comes from its own generator keyed by integers through numpy's
``SeedSequence`` (``default_rng([seed, stream, ...])``), never from global state, so the
same (seed, identity, image index) gives the same pixels in any process and any order.
Streams: 0 identity genes, 1 image nuisance, 2 families, 3 occluders, 4 backgrounds,
5 camera noise, 6 image counts and splits, 7 identity textures, 8 label noise, 9 pairs.
"""

from __future__ import annotations

import numpy as np

from clusterface.synth.identity import Identity, draw_genes, identity_from_genes, sibling_genes
from clusterface.synth.nuisance import PRESETS, Nuisance, sample_difficulty, sample_nuisance

SIBLING_CLOSENESS = 0.75


def family_parents(seed: int, identities: int, lookalike_fraction: float) -> np.ndarray:
    """parent[i] = the family root whose look-alike identity i is (i itself for a root); (N,) int."""
    rng = np.random.default_rng([seed, 2])
    u = rng.random(identities)
    pick = rng.random(identities)
    parents = np.arange(identities)
    roots: list[int] = []
    for i in range(identities):
        if roots and u[i] < lookalike_fraction:
            parents[i] = roots[int(pick[i] * len(roots))]
        else:
            roots.append(i)
    return parents


def make_identity(seed: int, index: int, parent: int, preset: str) -> Identity:
    """Identity ``index`` (a sibling of ``parent`` when parent != index)."""
    rng = np.random.default_rng([seed, 0, index])
    genes = draw_genes(rng)
    difficulty = sample_difficulty(rng, PRESETS[preset])
    if parent != index:
        parent_genes = draw_genes(np.random.default_rng([seed, 0, parent]))
        genes = sibling_genes(parent_genes, genes, rng, SIBLING_CLOSENESS)
    return identity_from_genes(index, parent, genes, difficulty)


def image_nuisance(seed: int, identity: Identity, image_index: int, preset: str) -> Nuisance:
    """The nuisance of image ``image_index`` of ``identity``."""
    rng = np.random.default_rng([seed, 1, identity.index, image_index])
    return sample_nuisance(rng, identity.difficulty, PRESETS[preset])
