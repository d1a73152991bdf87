"""Typed configuration schema: every choice of the method (docs/method.md) is a field here.

One ``Config`` holds the whole run, in sections of one concern each (data, model, margin,
memory, objective, optim, schedule, runtime, checkpoint, logging, eval, synth). It is
validated by pydantic (unknown keys are errors, so a typo in YAML or in a
``section.field=value`` override fails loudly), written into every run directory and stored
inside every checkpoint, so that a checkpoint can rebuild its model alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationInfo, field_validator, model_validator


class Section(BaseModel):
    """Base for config sections: strict (no unknown keys) and validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: object, info: ValidationInfo) -> object:
        # pydantic reads True/False as 1/0 for int and float fields: `seed: true` or `epochs: yes`
        # would start a run silently; only fields that accept a bool take one.
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if bool not in (annotation, *get_args(annotation)) and (
                annotation in (int, float) or int in get_args(annotation) or float in get_args(annotation)
            ):
                raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
        return value


class SynthConfig(Section):
    """Procedural synthetic identities (SynthFaces), the built-in default data."""

    root: Path = Field(Path("data/synthfaces"), description="output directory")
    identities: int = Field(360, ge=4, description="total identities, split into train and test")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="fraction of identities held out for test")
    val_fraction: float = Field(
        0.0, ge=0, lt=1, description="fraction of identities held out for validation (disjoint from train and test)"
    )
    seed: int = Field(0, description="random seed (the same seed gives the same bytes)")
    preset: Literal["easy", "default", "hard"] = Field("default", description="difficulty: easy, default or hard")
    images_min: int = Field(2, ge=1, description="fewest images of an identity")
    images_median: int = Field(20, ge=1, description="median images per identity")
    images_max: int = Field(200, ge=1, description="most images of an identity")
    images_spread: float = Field(0.7, ge=0, description="log-normal sigma of images per identity (long tail)")
    lookalike_fraction: float = Field(0.15, ge=0, le=1, description="identities drawn as siblings of another")
    label_noise: float = Field(0.0, ge=0, lt=1, description="fraction of train images filed under a wrong identity")
    impostor_lookalike_fraction: float = Field(0.3, ge=0, le=1, description="impostor pairs from look-alike families")
    workers: int = Field(2, ge=0, description="worker processes (0/1: in-process)")

    @model_validator(mode="after")
    def _ordered_counts(self) -> SynthConfig:
        if not self.images_min <= self.images_median <= self.images_max:
            raise ValueError(
                f"images per identity must satisfy images_min <= images_median <= images_max, got "
                f"{self.images_min} / {self.images_median} / {self.images_max}"
            )
        return self


#: Training data sources: name -> one-line description. ``training.register_train_source`` adds to it,
#: so ``data.source`` accepts every registered source (tests check it matches the factories).
DATA_SOURCES: dict[str, str] = {
    "synth-disk": "generate SynthFaces once, then decode its JPEGs",
    "synth": "render SynthFaces on the fly in the loader workers",
    "folder": "an image folder ROOT/<identity>/<image> (data.path)",
    "recordio": "an insightface / im2rec .rec file (data.path)",
}

#: Clustering methods, in report order (clustering.CLUSTERING_METHODS implements exactly these).
ClusterMethod = Literal["infomap", "components", "dbscan", "agglomerative", "kmeans"]
CLUSTER_METHODS: tuple[ClusterMethod, ...] = get_args(ClusterMethod)
#: faiss kNN search used by the clustering graph.
KnnMethod = Literal["exact", "hnsw", "ivf"]
KNN_METHODS: tuple[str, ...] = get_args(KnnMethod)


def _check_registered(value: str, registry: dict[str, Any], what: str) -> str:
    if value not in registry:
        raise ValueError(f"unknown {what} {value!r}; accepted: {', '.join(registry)}")
    return value


class DataConfig(Section):
    """Training data: where it comes from, how it is read, and its augmentation."""

    # synth-disk is the default: rendering on the fly ("synth") costs ~4-6 ms of CPU per image in
    # the loader workers, on the cores training needs.
    source: str = Field("synth-disk", description="one of DATA_SOURCES: synth-disk | synth | folder | recordio")
    path: Path | None = Field(None, description="image folder or .rec file (source folder/recordio)")
    label_map: Path | None = Field(
        None, description="source folder: JSON identity->label map to read (written when missing); None: sorted names"
    )
    workers: int = Field(2, ge=0)
    bad_file_policy: Literal["raise", "skip"] = Field("skip", description="bad image: skip (replace) or raise")
    max_bad_fraction: float = Field(0.01, ge=0, le=1, description="skip policy: abort above this bad fraction")
    hflip: bool = Field(True, description="random horizontal flip, drawn per step from the seed (resumable)")

    @field_validator("source")
    @classmethod
    def _registered_source(cls, value: str) -> str:
        return _check_registered(value, DATA_SOURCES, "data.source")


class ModelConfig(Section):
    """Backbone (see ``clusterface models``)."""

    backbone: str = "cfnet_s"
    embedding_dim: int = Field(512, ge=2)
    dropout: float = Field(0.0, ge=0, lt=1)
    channels_last: bool = True


class MarginConfig(Section):
    """Base of the margin sections: the classifier's scale and which margin (``kind``).

    Each kind has its own section class with only its own fields (``MARGIN_CONFIGS``); the
    ``margin`` section of a config is validated by the class its ``kind`` names.
    """

    kind: str
    scale: float = Field(64.0, gt=0, description="s, the logit scale")


class ArcFaceMarginConfig(MarginConfig):
    """ArcFace: cos(theta + m) on the target logit."""

    kind: Literal["arcface"] = "arcface"
    m: float = Field(0.5, ge=0, description="additive angular margin (radians)")


class CosFaceMarginConfig(MarginConfig):
    """CosFace: cos(theta) - m on the target logit."""

    kind: Literal["cosface"] = "cosface"
    m: float = Field(0.5, ge=0, description="additive cosine margin")


class CombinedMarginConfig(MarginConfig):
    """insightface's combined margin cos(multiplicative_angular theta + additive_angular) - additive_cosine."""

    kind: Literal["combined"] = "combined"
    multiplicative_angular: float = 1.0
    additive_angular: float = 0.5
    additive_cosine: float = 0.0


class ClusterGuidedMarginConfig(MarginConfig):
    """Cluster-guided ArcFace: a per-class margin m_k in [m0 - delta, m0 + delta]; delta=0 is ArcFace."""

    kind: Literal["cluster_guided"] = "cluster_guided"
    m0: float = Field(0.5, ge=0, description="base margin m0 (radians)")
    delta: float = Field(0.1, ge=0, description="m_k in [m0-delta, m0+delta]")
    beta: float = Field(1.0, ge=0, description="slope on the standardised concentration")
    smoothing: float = Field(0.0, ge=0, lt=1, description="m <- rho m + (1-rho) m_new")


#: margin.kind -> its section class. ``losses.register_margin`` adds a kind here and its factory to
#: ``losses.MARGIN_FACTORIES`` (tests check the two agree).
MARGIN_CONFIGS: dict[str, type[MarginConfig]] = {
    "arcface": ArcFaceMarginConfig,
    "cosface": CosFaceMarginConfig,
    "combined": CombinedMarginConfig,
    "cluster_guided": ClusterGuidedMarginConfig,
}
DEFAULT_MARGIN_KIND = "cluster_guided"


def margin_config_from(value: object) -> object:
    """Validate a margin section (a mapping) by the class of its ``kind`` (default cluster_guided)."""
    if isinstance(value, MarginConfig) or not isinstance(value, dict):
        return value
    kind = _check_registered(str(value.get("kind", DEFAULT_MARGIN_KIND)), MARGIN_CONFIGS, "margin.kind")
    return MARGIN_CONFIGS[kind].model_validate({**value, "kind": kind})


class MemoryConfig(Section):
    """Class-centre memory and concentration (docs/method.md, Class-centre memory / Concentration)."""

    centre_momentum: float = Field(0.9, ge=0, lt=1, description="gamma")
    alpha: float = Field(10.0, gt=0, description="PCL's smoothing in log(n_k + alpha)")
    concentration: Literal["rms", "mean_distance"] = "rms"
    clip_percentiles: tuple[float, float] = (10.0, 90.0)
    update_every_steps: int | None = Field(None, ge=1, description="None: recompute once per epoch")


class ObjectiveConfig(Section):
    """Joint objective and ablation switches (docs/method.md, Total loss and Ablation rows)."""

    lambda_scc: float = Field(1.0, ge=0)
    lambda_align: float = Field(1.0, ge=0)
    use_scc: bool = True
    adaptive_temperature: bool = True
    temperature: float = Field(0.1, gt=0, description="tau0")
    use_align: bool = True
    use_momentum_encoder: bool = True
    encoder_momentum: float | None = Field(
        None, ge=0, lt=1, description="mu; None: from momentum_horizon_epochs and the run's steps per epoch"
    )
    momentum_horizon_epochs: float = Field(
        0.1, gt=0, description="EMA horizon h in epochs: mu = 1 - 1/(h * steps per epoch) (docs/method.md)"
    )
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
            "run the momentum encoder (and the memory update) every k steps; 1 = every step as the method, "
            "k > 1 trades centre freshness for speed (benchmarks/README.md, Method)"
        ),
    )

    @model_validator(mode="after")
    def _one_sampling_rule(self) -> ObjectiveConfig:
        if self.num_negatives is not None and self.sample_rate < 1.0:
            raise ValueError("set objective.num_negatives or objective.sample_rate < 1, not both")
        if self.num_negatives is not None and self.sharding == "classes":
            raise ValueError("objective.sharding=classes samples classes with objective.sample_rate, not num_negatives")
        return self


class OptimConfig(Section):
    """Optimiser: which one, its step size, weight decay and gradient clipping."""

    kind: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0, description="peak learning rate (after warm-up)")
    momentum: float = Field(0.9, description="SGD momentum")
    weight_decay: float = 5e-4
    no_decay_norm_bias: bool = Field(True, description="no weight decay on 1-D parameters (norm layers, biases)")
    grad_clip: float | None = Field(5.0, gt=0, description="global gradient-norm clip; None: off")


class ScheduleConfig(Section):
    """How long the run is and how the learning rate moves over its steps."""

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=2, description="global batch, split evenly across ranks")
    max_steps: int | None = Field(None, ge=1, description="stop early after this many steps (smoke runs)")
    warmup_epochs: float = Field(0.5, ge=0, description="linear learning-rate warm-up")
    decay: Literal["cosine", "poly"] = Field("cosine", description="learning-rate decay after the warm-up")
    poly_power: float = Field(2.0, gt=0, description="exponent of the polynomial decay (decay=poly)")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="final lr as a fraction of optim.lr")


class RuntimeConfig(Section):
    """Where and how the run executes: run directory, device, precision, seed, process group, abort policy."""

    out_dir: Path = Field(Path("runs/train"), description="run directory (config, checkpoints, logs)")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    amp: Literal["off", "bf16", "fp16"] = "off"
    seed: int = 0
    dist_timeout_s: int = Field(120, ge=1, description="process-group timeout under torchrun")
    max_consecutive_nonfinite: int = Field(5, ge=1, description="abort after this many non-finite steps in a row")
    sync_bn: bool = Field(
        False, description="GPU DDP: BatchNorm statistics over the global batch (SyncBatchNorm); refused on CPU"
    )

    @field_validator("amp", mode="before")
    @classmethod
    def _amp_off_from_yaml_bool(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as False: accept it as "off".
        return "off" if value is False else value


class CheckpointConfig(Section):
    """Training checkpoints in the run directory."""

    every_steps: int | None = Field(None, ge=1, description="None: at each epoch end")
    keep: int = Field(2, ge=1, description="newest checkpoints kept")


class LoggingConfig(Section):
    """Log lines and TensorBoard scalars."""

    every_steps: int = Field(20, ge=1, description="plain log lines / TensorBoard scalars every N steps")


class EvalConfig(Section):
    """Evaluation: periodic verification during training and the defaults of ``clusterface evaluate``."""

    every_epochs: int = Field(1, ge=0, description="periodic verification during training; 0 disables it")
    periodic_split: Literal["auto", "val", "test"] = Field(
        "auto",
        description="SynthFaces .bin of the periodic verification: auto = val when synth.val_fraction > 0, else test",
    )
    batch_size: int = Field(128, ge=1, description="images per forward pass")
    flip: bool = Field(True, description="flip test: emb(img) + emb(hflip(img))")
    fars: tuple[float, ...] = Field((1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6), description="FARs of the TAR@FAR tables")
    cluster_methods: tuple[ClusterMethod, ...] = Field(CLUSTER_METHODS, description="clustering methods to run")
    cluster_threshold: float | None = Field(
        None, ge=-1, le=1, description="cosine threshold of the graph methods; None: from the .bin's best threshold"
    )
    knn_k: int = Field(20, ge=1, description="neighbours per face in the clustering kNN graph")
    knn_method: KnnMethod = Field("exact", description="faiss kNN search: exact, hnsw or ivf")


class Config(BaseModel):
    """A whole run."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    synth: SynthConfig = SynthConfig()
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    margin: SerializeAsAny[MarginConfig] = ClusterGuidedMarginConfig()
    memory: MemoryConfig = MemoryConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    logging: LoggingConfig = LoggingConfig()
    eval: EvalConfig = EvalConfig()

    @field_validator("margin", mode="before")
    @classmethod
    def _margin_by_kind(cls, value: object) -> object:
        return margin_config_from(value)
