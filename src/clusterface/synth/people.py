"""Drawing the population: look-alike families, identities and per-image random streams.

Every random draw comes from its own generator keyed by integers through numpy's
``SeedSequence`` (``default_rng([seed, stream, ...])``), never from global state, so the
same (seed, identity, image index) gives the same pixels in any process and any order.
Streams: 0 identity genes, 1 image nuisance, 2 families, 3 occluders, 4 backgrounds,
5 camera noise, 6 image counts and splits, 7 identity textures, 8 label noise, 9 pairs.
"""

from __future__ import annotations

import numpy as np

from clusterface.synth.identity import (
    FIRST_GENES,
    GENE_NAMES,
    Identity,
    draw_genes,
    identity_from_genes,
    sibling_genes,
)
from clusterface.synth.nuisance import PRESETS, Nuisance, sample_difficulty, sample_nuisance

# A look-alike keeps its family root's genes moved 30 % of the way to its own draw, and a
# quarter of its genes entirely its own: clearly a relative, yet a different person to dlib's
# face model (benchmarks/synth_realism.py: look-alike impostors sit between genuine pairs and
# random impostors).
SIBLING_CLOSENESS = 0.7
SIBLING_OWN_FRACTION = 0.25


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


def _own_draw(seed: int, index: int, preset: str) -> tuple[np.ndarray, float, np.random.Generator]:
    """Identity ``index``'s own genes and difficulty, and its generator for further draws.

    Genes appended after the first version are drawn after the difficulty, so that the earlier
    genes and every difficulty keep their values when genes are added.
    """
    rng = np.random.default_rng([seed, 0, index])
    first = draw_genes(rng, FIRST_GENES)
    difficulty = sample_difficulty(rng, PRESETS[preset])
    genes = np.concatenate([first, draw_genes(rng, len(GENE_NAMES) - FIRST_GENES)])
    return genes, difficulty, rng


def make_identity(seed: int, index: int, parent: int, preset: str) -> Identity:
    """Identity ``index`` (a sibling of ``parent`` when parent != index)."""
    genes, difficulty, rng = _own_draw(seed, index, preset)
    if parent != index:
        parent_genes = _own_draw(seed, parent, preset)[0]
        genes = sibling_genes(parent_genes, genes, rng, SIBLING_CLOSENESS, SIBLING_OWN_FRACTION)
    return identity_from_genes(index, parent, genes, difficulty)


def image_nuisance(seed: int, identity: Identity, image_index: int, preset: str) -> Nuisance:
    """The nuisance of image ``image_index`` of ``identity``."""
    rng = np.random.default_rng([seed, 1, identity.index, image_index])
    return sample_nuisance(rng, identity.difficulty, PRESETS[preset])
