import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A replicated-objective checkpoint of cfnet_s (64-d) with non-trivial BatchNorm statistics."""
    from export_helpers import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "last.pt", sharded=False)


@pytest.fixture(scope="session")
def exported(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``clusterface export`` of ``checkpoint`` (no calibration), as a folder."""
    from clusterface.export import export_checkpoint

    out = tmp_path_factory.mktemp("export")
    export_checkpoint(checkpoint, out)
    return out
