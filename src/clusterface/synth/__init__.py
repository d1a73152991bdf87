"""SynthFaces: procedural synthetic face identities, the built-in data of clusterface.

``SynthFacesDataset`` is imported lazily: the generator's worker processes import this
package and must not pay for importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clusterface.synth.nuisance import PRESETS
from clusterface.synth.pairs import parse_pairs_text
from clusterface.synth.plan import build_plan, folder_name
from clusterface.synth.writer import SynthPaths, generate_dataset, params_hash, synth_paths

if TYPE_CHECKING:
    from clusterface.synth.dataset import SynthFacesDataset

__all__ = [
    "PRESETS",
    "SynthFacesDataset",
    "SynthPaths",
    "build_plan",
    "folder_name",
    "generate_dataset",
    "params_hash",
    "parse_pairs_text",
    "synth_paths",
]


def __getattr__(name: str) -> Any:
    if name == "SynthFacesDataset":
        from clusterface.synth.dataset import SynthFacesDataset

        return SynthFacesDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
