"""Read configs stored in the layout before the ``train`` section was split (old checkpoints).

Until the clean-up, one ``train`` section held optimiser, schedule, runtime, checkpoint and
logging fields, and the margin section was one flat set of fields for every kind
(``margin.margin`` meant m or m0). Checkpoints store their resolved config, so those
written before the split carry the old layout; ``migrate_config_tree`` rewrites it.
"""

from __future__ import annotations

import copy
from typing import Any

from clusterface.config.schema import DEFAULT_MARGIN_KIND, MARGIN_CONFIGS

#: old ``train.<key>`` -> new ``(section, key)``.
TRAIN_KEYS: dict[str, tuple[str, str]] = {
    "optimizer": ("optim", "kind"),
    "lr": ("optim", "lr"),
    "momentum": ("optim", "momentum"),
    "weight_decay": ("optim", "weight_decay"),
    "no_decay_norm_bias": ("optim", "no_decay_norm_bias"),
    "grad_clip": ("optim", "grad_clip"),
    "epochs": ("schedule", "epochs"),
    "batch_size": ("schedule", "batch_size"),
    "max_steps": ("schedule", "max_steps"),
    "lr_schedule": ("schedule", "decay"),
    "lr_warmup_epochs": ("schedule", "warmup_epochs"),
    "poly_power": ("schedule", "poly_power"),
    "min_lr_ratio": ("schedule", "min_lr_ratio"),
    "out_dir": ("runtime", "out_dir"),
    "device": ("runtime", "device"),
    "amp": ("runtime", "amp"),
    "seed": ("runtime", "seed"),
    "dist_timeout_s": ("runtime", "dist_timeout_s"),
    "max_consecutive_nonfinite": ("runtime", "max_consecutive_nonfinite"),
    "checkpoint_every_steps": ("checkpoint", "every_steps"),
    "keep_checkpoints": ("checkpoint", "keep"),
    "log_every_steps": ("logging", "every_steps"),
    "eval_every_epochs": ("eval", "every_epochs"),
    "hflip": ("data", "hflip"),
}
#: the old flat margin field ``margin`` by kind.
MARGIN_VALUE_KEY: dict[str, str] = {"arcface": "m", "cosface": "m", "cluster_guided": "m0"}


def is_old_layout(tree: dict[str, Any]) -> bool:
    """True when ``tree`` has the old ``train`` section or the old flat margin field."""
    margin = tree.get("margin")
    return "train" in tree or (isinstance(margin, dict) and "margin" in margin)


def renamed_key(dotted: str) -> str | None:
    """The new name of an old dotted key (``train.lr`` -> ``optim.lr``), or None if it was not renamed."""
    parts = dotted.split(".")
    if len(parts) == 2 and parts[0] == "train" and parts[1] in TRAIN_KEYS:
        return ".".join(TRAIN_KEYS[parts[1]])
    if parts == ["margin", "margin"]:
        return "margin.m (arcface, cosface) or margin.m0 (cluster_guided)"
    return None


def migrate_config_tree(tree: dict[str, Any]) -> dict[str, Any]:
    """A stored config in the old layout -> the current layout (a new dict; the current layout passes unchanged).

    Old margin sections held every kind's fields; only those of the section's kind are kept
    (the others were never read). Unknown old ``train`` keys stay under ``train`` so that
    validation names them.
    """
    out = copy.deepcopy(tree)
    train = out.pop("train", None)
    if isinstance(train, dict):
        rest: dict[str, Any] = {}
        for key, value in train.items():
            if key in TRAIN_KEYS:
                section, new_key = TRAIN_KEYS[key]
                out.setdefault(section, {})[new_key] = value
            else:
                rest[key] = value
        if rest:
            out["train"] = rest
    margin = out.get("margin")
    if isinstance(margin, dict) and "margin" in margin:
        kind = str(margin.get("kind", DEFAULT_MARGIN_KIND))
        value = margin.pop("margin")
        if kind in MARGIN_VALUE_KEY:
            margin[MARGIN_VALUE_KEY[kind]] = value
        if kind in MARGIN_CONFIGS:
            fields = MARGIN_CONFIGS[kind].model_fields
            out["margin"] = {k: v for k, v in margin.items() if k in fields}
    return out
