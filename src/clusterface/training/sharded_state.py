"""World-size-independent training state: a class-sharded objective's rows gathered to full tensors.

A checkpoint always holds the objective's per-class state (W, centres, window, phi, m, tau, known)
and the optimiser's per-row state of W (SGD momentum, Adam moments) as full (C, ...) tensors
under the replicated layout's keys, gathered to rank 0 at checkpoint time only. Loading keeps
each rank's rows, so a run saved at N ranks (sharded or replicated) resumes at M ranks, and a
checkpoint written before class sharding existed loads unchanged.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from clusterface.losses.class_objective import is_sharded
from clusterface.losses.joint_objective import SHARDED_ONLY_KEYS


def objective_full_state(objective: nn.Module) -> dict[str, torch.Tensor]:
    """The objective's full state (a collective for a sharded objective; rank 0 gets the tensors)."""
    full = getattr(objective, "full_state_dict", None)
    return full() if callable(full) else objective.state_dict()


def load_objective_full_state(objective: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a full objective state (this rank keeps its rows when sharded)."""
    load = getattr(objective, "load_full_state_dict", None)
    if callable(load):
        load(state)
    else:
        objective.load_state_dict(state)


def objective_state_to_check(objective: nn.Module, saved: dict[str, Any]) -> dict[str, Any]:
    """The part of a saved full objective state that this objective will load, as it will see it.

    For ``check_state_fits``: keys only a sharded run writes are dropped, and for a sharded
    objective the per-class tensors are cut (as views) to this rank's rows, so the check compares
    like with like. A checkpoint with another number of classes still fails the check.
    """
    state = {k: v for k, v in saved.items() if k not in SHARDED_ONLY_KEYS}
    partition = getattr(objective, "partition", None)
    if not is_sharded(objective) or partition is None:
        return state
    rows = slice(partition.start, partition.stop)
    return {
        k: v[rows] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == partition.num_classes else v
        for k, v in state.items()
    }


def _indices(optimizer: torch.optim.Optimizer) -> dict[int, int]:
    """id(parameter) -> its index in ``optimizer.state_dict()`` (parameters numbered across groups)."""
    params = itertools.chain.from_iterable(group["params"] for group in optimizer.param_groups)
    return {id(p): i for i, p in enumerate(params)}


def _per_row(value: Any, param: torch.Tensor) -> bool:
    return torch.is_tensor(value) and value.dim() == param.dim() and value.shape[1:] == param.shape[1:]


def optimizer_full_state(optimizer: torch.optim.Optimizer, objective: nn.Module) -> dict[str, Any]:
    """``optimizer.state_dict()`` with a sharded objective's per-row state gathered to full (C, ...) on rank 0.

    A collective when the objective is sharded (every rank calls it, in the same order).
    """
    state = optimizer.state_dict()
    if not is_sharded(objective):
        return state
    index = _indices(optimizer)
    per_param = dict(state["state"])
    for p in objective.parameters():
        i = index[id(p)]
        entry = per_param.get(i)
        if entry is None:
            continue
        out: dict[str, Any] = {}
        for key in sorted(entry):
            value = entry[key]
            if _per_row(value, p):
                full = objective.gather_rows(value)  # type: ignore[operator]
                if full is not None:
                    out[key] = full
            else:
                out[key] = value
        per_param[i] = out
    return {**state, "state": per_param}


def load_optimizer_full_state(optimizer: torch.optim.Optimizer, objective: nn.Module, state: dict[str, Any]) -> None:
    """Load an optimiser state whose objective rows are full (C, ...): a sharded objective keeps its rows."""
    if is_sharded(objective):
        index = _indices(optimizer)
        per_param = dict(state["state"])
        for p in objective.parameters():
            i = index[id(p)]
            entry = per_param.get(i)
            if entry is not None:
                per_param[i] = {
                    k: objective.shard_rows(v) if _per_row(v, p) else v  # type: ignore[operator]
                    for k, v in entry.items()
                }
        state = {**state, "state": per_param}
    optimizer.load_state_dict(state)
