"""Within one seed every ablation row starts from the same weights and sees the same batches and flips."""

from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from clusterface.training import Trainer
from clusterface.training.trainer import flip_mask
from clusterface.workflows.ablation import load_rows, parse_dataset, plan_study

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


class Faces(Dataset):
    """96 fixed random uint8 faces of 6 classes."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(123)
        self.images = torch.randint(0, 256, (96, 3, 112, 112), dtype=torch.uint8, generator=g)
        self.labels = [(i * 7) % 6 for i in range(96)]
        self.num_classes = 6

    def __len__(self) -> int:
        return 96

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], self.labels[i]


def _trainers(seeds):
    rows = load_rows([ROOT / "configs" / "ablations"])
    assert len(rows) == 7
    cells = plan_study(
        rows,
        seeds,
        [parse_dataset("default")],
        quick=True,
        overrides=["model.embedding_dim=32", "data.workers=0", "schedule.batch_size=16"],
        study_dir="unused",
    )
    data = Faces()
    return [(c, Trainer(c.config, data, out_dir=None, progress=False)) for c in cells]


def _first_batch_labels(trainer):
    trainer.sampler.set_epoch(0)
    trainer.loader_generator.manual_seed(trainer.cfg.runtime.seed * 7919)
    _, labels = next(iter(trainer.loader))
    return labels


def test_rows_of_a_seed_share_initial_weights_and_batches():
    built = _trainers([0, 1])
    by_seed = {}
    for cell, trainer in built:
        by_seed.setdefault(cell.seed, []).append((cell, trainer))
    for seed, group in by_seed.items():
        assert len(group) == 7
        ref_cell, ref = group[0]
        ref_w = ref.objective.classifier.weight.detach()
        ref_labels = _first_batch_labels(ref)
        for cell, tr in group[1:]:
            for (name, a), b in zip(ref.model.state_dict().items(), tr.model.state_dict().values(), strict=True):
                assert torch.equal(a, b), f"{cell.label}: backbone {name} differs from {ref_cell.label}"
            assert torch.equal(tr.objective.classifier.weight.detach(), ref_w), f"{cell.label}: classifier W"
            assert torch.equal(_first_batch_labels(tr), ref_labels), f"{cell.label}: first batch"
            assert list(tr.sampler.permutation()) == list(ref.sampler.permutation())
        assert torch.equal(flip_mask(seed, 0, 16, ref.ctx), flip_mask(seed, 0, 16, group[-1][1].ctx))
    # and the seed matters (otherwise the test above would pass trivially)
    a, b = by_seed[0][0][1], by_seed[1][0][1]
    first = next(iter(a.model.state_dict()))
    assert not torch.equal(a.model.state_dict()[first], b.model.state_dict()[first])
    assert not torch.equal(_first_batch_labels(a), _first_batch_labels(b))


def test_rows_differ_only_in_their_method_sections():
    cells = plan_study(load_rows([ROOT / "configs" / "ablations"]), [3], [parse_dataset("default")], study_dir="s")
    trees = [c.config.model_dump(mode="json") for c in cells]
    for t in trees[1:]:
        differing = {k for k in t if t[k] != trees[0][k]}
        assert differing <= {"margin", "objective", "runtime"}
        assert {k for k in t["runtime"] if t["runtime"][k] != trees[0]["runtime"][k]} <= {"out_dir"}
    assert all(c.config.runtime.seed == 3 for c in cells)
    assert len({c.key for c in cells}) == 7


@pytest.mark.parametrize("spec", ["nope", "default:identities", "default:name=a/b"])
def test_bad_dataset_specs_are_clear_errors(spec):
    from clusterface.config import ConfigError

    with pytest.raises(ConfigError, match="dataset"):
        parse_dataset(spec)


def test_dataset_spec_parameters_reach_the_config():
    ds = parse_dataset("hard:label_noise=0.05,identities=600,name=hard-noise5")
    assert ds.name == "hard-noise5"
    rows = load_rows([ROOT / "configs" / "ablations" / "1_arcface.yaml"])
    (cell,) = plan_study(rows, [0], [ds], data_root="d", study_dir="s")
    assert cell.config.synth.preset == "hard" and cell.config.synth.label_noise == 0.05
    assert cell.config.synth.identities == 600
    assert Path(cell.config.synth.root).parent == Path("d")
    assert cell.config.runtime.out_dir == Path("s") / "cells" / cell.key / "run"
    # where it runs and how many workers it uses do not change the cell
    (moved,) = plan_study(rows, [0], [ds], data_root="elsewhere", study_dir="t", overrides=["data.workers=0"])
    assert moved.key == cell.key
    (other,) = plan_study(rows, [0], [ds], data_root="d", study_dir="s", overrides=["optim.lr=0.05"])
    assert other.key != cell.key
