"""Typed configuration schema: every choice of METHOD.md is a field here.

One ``Config`` holds the whole run. It is validated by pydantic (unknown keys are
errors, so a typo in YAML or in a ``section.field=value`` override fails loudly), written
into every run directory and stored inside every checkpoint, so that a checkpoint can
rebuild its model alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    """Base for config sections: strict (no unknown keys) and validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SynthConfig(Section):
    """Procedural synthetic identities (SynthFaces), the built-in default data."""

    root: Path = Path("data/synthfaces")
    identities: int = Field(360, ge=4, description="total identities, split into train and test")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="fraction of identities held out for test")
    seed: int = 0
    preset: Literal["easy", "default", "hard"] = "default"
    images_min: int = Field(2, ge=1, description="fewest images of an identity")
    images_median: int = Field(20, ge=1, description="median images per identity")
    images_max: int = Field(200, ge=1, description="most images of an identity")
    images_spread: float = Field(0.7, ge=0, description="log-normal sigma of images per identity (long tail)")
    lookalike_fraction: float = Field(0.15, ge=0, le=1, description="identities drawn as siblings of another")
    label_noise: float = Field(0.0, ge=0, lt=1, description="fraction of train images filed under a wrong identity")
    impostor_lookalike_fraction: float = Field(0.3, ge=0, le=1, description="impostor pairs from look-alike families")
    workers: int = Field(2, ge=0)

    @model_validator(mode="after")
    def _ordered_counts(self) -> SynthConfig:
        if not self.images_min <= self.images_median <= self.images_max:
            raise ValueError(
                f"images per identity must satisfy images_min <= images_median <= images_max, got "
                f"{self.images_min} / {self.images_median} / {self.images_max}"
            )
        return self


class DataConfig(Section):
    """Training data source and loading."""

    # synth-disk (generate SynthFaces once, then decode JPEGs) is the default: rendering on the fly
    # ("synth") costs ~4-6 ms of CPU per image in the loader workers, on the cores training needs.
    source: Literal["synth", "synth-disk", "folder", "recordio"] = Field(
        "synth-disk", description="synth-disk | synth (render on the fly) | folder | recordio"
    )
    path: Path | None = Field(None, description="image folder or .rec file (source folder/recordio)")
    label_map: Path | None = Field(
        None, description="source folder: JSON identity->label map to read (written when missing); None: sorted names"
    )
    workers: int = Field(2, ge=0)
    bad_file_policy: Literal["raise", "skip"] = Field("skip", description="bad image: skip (replace) or raise")
    max_bad_fraction: float = Field(0.01, ge=0, le=1, description="skip policy: abort above this bad fraction")


class ModelConfig(Section):
    """Backbone (see ``clusterface models``)."""

    backbone: str = "cfnet_s"
    embedding_dim: int = Field(512, ge=2)
    dropout: float = Field(0.0, ge=0, lt=1)
    channels_last: bool = True


class MarginConfig(Section):
    """Classifier margin. ``cluster_guided`` with ``delta=0`` is exactly ArcFace (METHOD.md)."""

    kind: Literal["arcface", "cosface", "combined", "cluster_guided"] = "cluster_guided"
    scale: float = Field(64.0, gt=0, description="s")
    margin: float = Field(0.5, ge=0, description="m (ArcFace/CosFace) or m0 (cluster-guided)")
    delta: float = Field(0.1, ge=0, description="cluster-guided: m_k in [m0-delta, m0+delta]")
    beta: float = Field(1.0, ge=0, description="cluster-guided: slope on the standardised concentration")
    smoothing: float = Field(0.0, ge=0, lt=1, description="cluster-guided: m <- rho m + (1-rho) m_new")
    # combined margin cos(multiplicative*theta + additive_angular) - additive_cosine
    multiplicative_angular: float = 1.0
    additive_angular: float = 0.5
    additive_cosine: float = 0.0


class MemoryConfig(Section):
    """Class-centre memory and concentration (METHOD.md, Class-centre memory / Concentration)."""

    centre_momentum: float = Field(0.9, ge=0, lt=1, description="gamma")
    alpha: float = Field(10.0, gt=0, description="PCL's smoothing in log(n_k + alpha)")
    concentration: Literal["rms", "mean_distance"] = "rms"
    clip_percentiles: tuple[float, float] = (10.0, 90.0)
    update_every_steps: int | None = Field(None, ge=1, description="None: recompute once per epoch")


class ObjectiveConfig(Section):
    """Joint objective and ablation switches (METHOD.md, Total loss and Ablation rows)."""

    lambda_scc: float = Field(1.0, ge=0)
    lambda_align: float = Field(1.0, ge=0)
    use_scc: bool = True
    adaptive_temperature: bool = True
    temperature: float = Field(0.1, gt=0, description="tau0")
    use_align: bool = True
    use_momentum_encoder: bool = True
    encoder_momentum: float = Field(0.999, ge=0, lt=1, description="mu")
    warmup_epochs: float = Field(1.0, ge=0, description="plain ArcFace while the memory fills")
    num_negatives: int | None = Field(None, ge=1, description="sampled negative centres; None = all")
    sharding: Literal["replicated", "classes"] = Field(
        "replicated",
        description=(
            "per-class state (W, centres, phi, m, tau) on every rank (replicated) or split by class "
            "across the ranks of torchrun (classes: model-parallel head, Partial FC)"
        ),
    )
    sample_rate: float = Field(
        1.0,
        gt=0,
        le=1,
        description=(
            "Partial FC: fraction of classes whose logits (and SCC centres) a step uses, always "
            "with every positive of the batch; 1.0 = all classes"
        ),
    )
    momentum_every_steps: int = Field(
        1,
        ge=1,
        description=(
            "run the momentum encoder (and the memory update) every k steps; 1 = every step as METHOD.md, "
            "k > 1 trades centre freshness for speed (benchmarks/README.md, Method)"
        ),
    )

    @model_validator(mode="after")
    def _one_sampling_rule(self) -> ObjectiveConfig:
        if self.num_negatives is not None and self.sample_rate < 1.0:
            raise ValueError("set objective.num_negatives or objective.sample_rate < 1, not both")
        return self


class TrainConfig(Section):
    """Optimisation, schedule, checkpoints."""

    out_dir: Path = Path("runs/train")
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=2, description="global batch, split evenly across ranks")
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_schedule: Literal["cosine", "poly"] = "cosine"
    lr_warmup_epochs: float = Field(0.5, ge=0)
    grad_clip: float | None = Field(5.0, gt=0)
    amp: Literal["off", "bf16", "fp16"] = "off"
    device: str = "auto"
    seed: int = 0
    checkpoint_every_steps: int | None = Field(None, ge=1, description="None: at each epoch end")
    keep_checkpoints: int = Field(2, ge=1)
    eval_every_epochs: int = Field(1, ge=0, description="0 disables periodic verification")
    max_consecutive_nonfinite: int = Field(5, ge=1)
    max_steps: int | None = Field(None, ge=1, description="stop early after this many steps (smoke runs)")
    poly_power: float = Field(2.0, gt=0, description="exponent of the polynomial decay (lr_schedule=poly)")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="final lr as a fraction of lr")
    no_decay_norm_bias: bool = Field(True, description="no weight decay on 1-D parameters (norm layers, biases)")
    hflip: bool = Field(True, description="random horizontal flip, drawn per step from the seed (resumable)")
    log_every_steps: int = Field(20, ge=1, description="plain log lines / TensorBoard scalars every N steps")
    dist_timeout_s: int = Field(120, ge=1, description="process-group timeout under torchrun")
    sync_bn: bool = Field(
        False, description="GPU DDP: BatchNorm statistics over the global batch (SyncBatchNorm); refused on CPU"
    )

    @field_validator("amp", mode="before")
    @classmethod
    def _amp_off_from_yaml_bool(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as False: accept it as "off".
        return "off" if value is False else value


class EvalConfig(Section):
    """Evaluation defaults (periodic verification, the demo's evaluation; see clusterface.analysis)."""

    batch_size: int = Field(128, ge=1)
    flip: bool = True
    fars: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
    cluster_methods: tuple[Literal["infomap", "components", "dbscan", "agglomerative", "kmeans"], ...] = (
        "infomap",
        "components",
        "dbscan",
        "agglomerative",
        "kmeans",
    )
    cluster_threshold: float | None = Field(
        None, ge=-1, le=1, description="cosine threshold of the graph methods; None: from the .bin's best threshold"
    )
    knn_k: int = Field(20, ge=1, description="neighbours per face in the clustering kNN graph")
    knn_method: Literal["exact", "hnsw", "ivf"] = Field("exact", description="faiss kNN search")


class Config(BaseModel):
    """A whole run."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    synth: SynthConfig = SynthConfig()
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    margin: MarginConfig = MarginConfig()
    memory: MemoryConfig = MemoryConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
