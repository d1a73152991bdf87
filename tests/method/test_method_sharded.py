"""Class-sharded objective vs the replicated one: partition, initialisation, distributed softmax, gloo ranks."""

from __future__ import annotations

import itertools
import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from clusterface.config import Config, load_config
from clusterface.losses import ClassObjective, ShardedJointObjective, build_objective, sharded_cross_entropy
from clusterface.memory import ClassPartition, class_range, init_rows_like_full

# The full method with every per-class term on; C = 7 does not divide by 2 or 3.
FULL = ["model.embedding_dim=16", "objective.warmup_epochs=1", "margin.kind=cluster_guided", "margin.scale=16"]
NUM_CLASSES = 7
# labels of a global batch of 12: classes 5 and 6 are absent (the last rank owns none of them at 3 ranks)
LABELS = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 0])


def cfg_of(*overrides: str) -> Config:
    return load_config(None, [*FULL, *overrides])


@pytest.mark.parametrize(("c", "w"), [(7, 1), (7, 2), (7, 3), (10, 4), (3, 3)])
def test_class_ranges_are_contiguous_uneven_and_cover_all(c, w):
    ranges = [class_range(c, w, r) for r in range(w)]
    assert ranges[0][0] == 0 and ranges[-1][1] == c
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    sizes = [b - a for a, b in ranges]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    with pytest.raises(ValueError, match="every rank needs a class"):
        class_range(2, 3, 0)


@pytest.mark.parametrize(("c", "d"), [(7, 16), (13, 8), (7, 4), (5, 3), (1000, 3), (2, 1)])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shard_initialisation_equals_rows_of_the_replicated_draw(c, d, world):
    if c < world:
        pytest.skip("fewer classes than ranks")
    torch.manual_seed(5)
    full = torch.empty(c, d).normal_(0.0, 0.01)
    after = torch.rand(3)
    for rank in range(world):
        torch.manual_seed(5)
        p = ClassPartition(c, rank, world)
        rows = init_rows_like_full(p, d, 0.01, chunk_elements=32)  # many small chunks
        assert torch.equal(rows, full[p.start : p.stop])
        assert torch.equal(torch.rand(3), after)  # the global RNG ends where the full draw leaves it


def test_sharded_cross_entropy_equals_cross_entropy_in_one_process():
    torch.manual_seed(0)
    logits = (torch.randn(6, 5, dtype=torch.float64) * 4).requires_grad_(True)
    target = torch.tensor([0, 4, 2, 2, 1, 3])
    ref_logits = logits.detach().clone().requires_grad_(True)
    loss = sharded_cross_entropy(logits, target, torch.ones(6, dtype=torch.bool), ClassPartition(5))
    ref = F.cross_entropy(ref_logits, target, reduction="none")
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    weights = torch.arange(6, dtype=torch.float64)
    (loss * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad, rtol=1e-12, atol=1e-12)


def run_steps(objective, embeddings_seq, labels, epochs):
    """Forward/backward/memory steps; returns per-step (parts, embedding grad, W grad)."""
    out = []
    for emb, epoch in zip(embeddings_seq, epochs, strict=True):
        objective.set_progress(epoch)
        x = emb.clone().requires_grad_(True)
        objective.classifier.weight.grad = None
        parts = objective(x, labels)
        parts["loss"].backward()
        out.append(({k: float(v.detach()) for k, v in parts.items()}, x.grad, objective.classifier.weight.grad.clone()))
        objective.update_memory(emb.detach() + 0.1, labels)
        if epoch in (0.5, 1.5):
            objective.refresh_concentration()
    return out


def batches(n=4, b=12, d=16):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, d, generator=g) for _ in range(n)]


def test_sharded_objective_at_world_size_one_equals_replicated():
    torch.manual_seed(0)
    replicated = build_objective(cfg_of(), NUM_CLASSES)
    torch.manual_seed(0)
    sharded = build_objective(cfg_of("objective.sharding=classes"), NUM_CLASSES)
    assert isinstance(sharded, ShardedJointObjective)
    assert sharded.full_state_dict().keys() - {"sampling_step"} == replicated.state_dict().keys()
    epochs = [0.0, 0.5, 1.0, 1.5]
    for (pa, ga, wa), (pb, gb, wb) in zip(
        run_steps(replicated, batches(), LABELS, epochs), run_steps(sharded, batches(), LABELS, epochs), strict=True
    ):
        for key in pa:
            assert pb[key] == pytest.approx(pa[key], rel=1e-5, abs=1e-6), key
        torch.testing.assert_close(gb, ga, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(wb, wa, rtol=1e-4, atol=1e-6)
    assert pa["scc"] > 0 and pa["align"] > 0  # the cluster terms were on in the last step
    for key, value in replicated.state_dict().items():
        torch.testing.assert_close(sharded.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert replicated.stats() == pytest.approx(sharded.stats(), rel=1e-5)


@pytest.mark.parametrize("sharding", ["replicated", "classes"])
def test_both_implementations_follow_the_trainer_contract(sharding):
    objective = build_objective(cfg_of(f"objective.sharding={sharding}"), NUM_CLASSES)
    assert isinstance(objective, ClassObjective)
    assert objective.sharded == (sharding == "classes")


MARGIN_ONLY = ["objective.use_scc=false", "objective.use_align=false"]


@pytest.mark.parametrize(
    "margin",
    [
        ["margin.kind=arcface", *MARGIN_ONLY],
        ["margin.kind=cosface", *MARGIN_ONLY],
        ["margin.kind=combined", "margin.multiplicative_angular=1.1", "margin.additive_cosine=0.1", *MARGIN_ONLY],
    ],
    ids=["arcface", "cosface", "combined"],
)
def test_sharded_baseline_margins_at_world_size_one_equal_replicated(margin):
    """The baselines without a memory: the sharded head applies each margin kind like the replicated one."""
    overrides = [o for o in FULL if not o.startswith("margin.kind")] + margin
    torch.manual_seed(0)
    replicated = build_objective(load_config(None, overrides), NUM_CLASSES)
    torch.manual_seed(0)
    sharded = build_objective(load_config(None, [*overrides, "objective.sharding=classes"]), NUM_CLASSES)
    assert replicated.memory is None and sharded.memory is None
    for (pa, ga, wa), (pb, gb, wb) in zip(
        run_steps(replicated, batches(2), LABELS, [0.0, 2.0]),
        run_steps(sharded, batches(2), LABELS, [0.0, 2.0]),
        strict=True,
    ):
        assert pb["loss"] == pytest.approx(pa["loss"], rel=1e-6)
        torch.testing.assert_close(gb, ga, rtol=1e-4, atol=1e-6)  # float32 softmax, summed in another order
        torch.testing.assert_close(wb, wa, rtol=1e-4, atol=1e-6)


def test_partial_fc_sampling_keeps_every_positive_and_is_reproducible():
    torch.manual_seed(0)
    c = 50
    sharded = build_objective(cfg_of("objective.sharding=classes", "objective.sample_rate=0.1"), c)
    labels = torch.tensor([3, 3, 17, 41, 8, 9, 10, 11, 12, 13, 14, 15])
    owned, local = sharded._owned(labels)
    columns = sharded._columns(local, owned)
    assert set(labels.tolist()) <= set(columns.tolist())
    assert columns.numel() == max(math.ceil(0.1 * c), labels.unique().numel())
    assert torch.equal(columns, columns.sort().values)
    again = sharded._columns(local, owned)
    assert torch.equal(columns, again)  # same step counter, same draw
    sharded.sampling_step += 1
    few = torch.tensor([1, 2])
    owned, local = sharded._owned(few)
    drawn = sharded._columns(local, owned)
    assert drawn.numel() == 5 and {1, 2} <= set(drawn.tolist())
    x = torch.randn(12, 16, requires_grad=True)
    parts = sharded(x, labels)
    parts["loss"].backward()
    assert torch.isfinite(parts["loss"]) and x.grad is not None


# ----------------------------------------------------------------- several gloo ranks
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gloo_worker(rank: int, world: int, port: int, overrides: list[str]) -> None:
    """Each rank: the replicated objective (reference, no communication) and its shard, same steps."""
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        replicated = build_objective(cfg_of(*overrides), NUM_CLASSES)
        torch.manual_seed(0)
        sharded = build_objective(cfg_of("objective.sharding=classes", *overrides), NUM_CLASSES)
        p = sharded.partition
        epochs = [0.0, 0.5, 1.0, 1.5, 2.0]
        ref = run_steps(replicated, batches(5), LABELS, epochs)
        mine = run_steps(sharded, batches(5), LABELS, epochs)
        for step, ((pa, ga, wa), (pb, gb, wb)) in enumerate(zip(ref, mine, strict=True)):
            for key in pa:
                assert pb[key] == pytest.approx(pa[key], rel=1e-5, abs=1e-6), (rank, step, key)
            dist.all_reduce(gb)  # each rank's embedding gradient is its classes' share
            torch.testing.assert_close(gb, ga, rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(wb, wa[p.start : p.stop], rtol=1e-4, atol=1e-6)
        full = sharded.full_state_dict()
        if rank == 0:
            for key, value in replicated.state_dict().items():
                torch.testing.assert_close(full[key], value, rtol=1e-5, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}")
        assert sharded.stats() == pytest.approx(replicated.stats(), rel=1e-5, abs=1e-7)
        # a full state loads back into the shards (resharding to this world size)
        state = {k: v.clone() for k, v in replicated.state_dict().items()}
        sharded.load_full_state_dict(state)
        torch.testing.assert_close(sharded.memory.centres, replicated.memory.centres[p.start : p.stop])
    finally:
        dist.destroy_process_group()


def sampling_worker(rank: int, world: int, port: int) -> None:
    """Partial FC at 2 ranks: each rank's drawn columns hold its positives, and the sharded loss
    equals the replicated objective's restricted to the union of all ranks' columns."""
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        c = 40
        labels = torch.tensor([0, 1, 1, 7, 19, 20, 21, 33, 39, 39, 5, 25])
        torch.manual_seed(0)
        replicated = build_objective(cfg_of(), c)
        torch.manual_seed(0)
        sharded = build_objective(cfg_of("objective.sharding=classes", "objective.sample_rate=0.5"), c)
        feats = torch.randn(c * 2, 16, generator=torch.Generator().manual_seed(2))
        for objective in (replicated, sharded):
            objective.update_memory(feats, torch.arange(c * 2) % c)
            objective.refresh_concentration()
            objective.set_progress(2.0)
        p = sharded.partition
        owned, local = sharded._owned(labels)
        mine = sharded._columns(local, owned)
        assert set(local[owned].tolist()) <= set(mine.tolist())  # every positive this rank owns
        assert mine.numel() == max(math.ceil(0.5 * p.size), local[owned].unique().numel()) > 5  # random others too
        parts = [None] * world
        dist.all_gather_object(parts, (mine + p.start).tolist())
        union = torch.tensor(sorted(k for part in parts for k in part))
        x = torch.randn(12, 16, generator=torch.Generator().manual_seed(4))
        got = sharded(x, labels)
        target = torch.searchsorted(union, labels)
        cls = F.cross_entropy(replicated.classifier(x, labels, union), target)
        mem = replicated.memory
        scc = replicated.scc(x, labels, mem.centres, mem.temperatures, mem.known, union)
        align = replicated.align(replicated.classifier.weight, labels, mem.centres, mem.known)
        for key, value in {"cls": cls, "scc": scc, "align": align, "loss": cls + scc + align}.items():
            assert float(got[key]) == pytest.approx(float(value), rel=1e-5), (rank, key)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_gloo_partial_fc_keeps_positives_and_equals_the_union_of_columns():
    mp.spawn(sampling_worker, args=(2, free_port()), nprocs=2, join=True)


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 3])
def test_gloo_ranks_sharded_equal_one_process_replicated(world):
    mp.spawn(gloo_worker, args=(world, free_port(), []), nprocs=world, join=True)


@pytest.mark.slow
def test_gloo_sharded_fixed_temperature_and_mean_distance_concentration():
    overrides = ["objective.adaptive_temperature=false", "memory.concentration=mean_distance"]
    mp.spawn(gloo_worker, args=(2, free_port(), overrides), nprocs=2, join=True)


def test_config_rejects_num_negatives_with_class_sharding_or_with_sample_rate():
    with pytest.raises(Exception, match="sample_rate, not num_negatives"):
        cfg_of("objective.sharding=classes", "objective.num_negatives=3")
    with pytest.raises(Exception, match="not both"):
        cfg_of("objective.sample_rate=0.5", "objective.num_negatives=3")


def test_replicated_sample_rate_draws_ceil_rate_times_c_columns():
    torch.manual_seed(0)
    objective = build_objective(cfg_of("objective.sample_rate=0.25"), 50)
    assert objective.num_negatives == math.ceil(0.25 * 50)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sharded_objective_on_cuda_under_bf16_matches_replicated():
    """bf16 autocast around the backbone, the objective in float32 (as TrainStep runs it), world size 1."""
    results = []
    for sharding in ("replicated", "classes"):
        torch.manual_seed(0)
        objective = build_objective(cfg_of(f"objective.sharding={sharding}"), NUM_CLASSES).cuda()
        backbone = torch.nn.Linear(16, 16).cuda()
        objective.update_memory(torch.randn(12, 16).cuda(), LABELS.cuda())
        objective.refresh_concentration()
        objective.set_progress(2.0)
        x = torch.randn(12, 16, generator=torch.Generator().manual_seed(3)).cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            emb = backbone(x)
        with torch.autocast("cuda", enabled=False):
            parts = objective(emb.float(), LABELS.cuda())
        parts["loss"].backward()
        results.append((parts, backbone.weight.grad.clone(), objective.classifier.weight.grad.clone()))
    (pa, ga, wa), (pb, gb, wb) = results
    for key in pa:
        torch.testing.assert_close(pb[key], pa[key], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gb, ga, rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(wb, wa, rtol=1e-3, atol=1e-5)
