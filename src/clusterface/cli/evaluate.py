"""`clusterface evaluate` and `clusterface cluster`: argument parsing only; the work is in clusterface.analysis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

# Names and defaults come from the config schema (light to import: `clusterface --help` must not
# load faiss, scipy, sklearn and torch through clusterface.clustering).
from clusterface.config.schema import CLUSTER_METHODS, KNN_METHODS, EvalConfig

CLUSTERING_METHODS = CLUSTER_METHODS
EVAL = EvalConfig()

ModelArg = Annotated[
    Path, typer.Argument(help="clusterface checkpoint (.pt), export folder, or ONNX model (.onnx).", exists=True)
]
ThresholdOpt = Annotated[
    Optional[float],  # noqa: UP045 (typer needs Optional on 3.11)
    typer.Option(
        help="Cosine threshold of the graph methods (components, DBSCAN eps = 1 − t, agglomerative, Infomap); "
        "default: the .bin's best verification threshold, else 0.5."
    ),
]
KOpt = Annotated[int, typer.Option("--k", help=EvalConfig.model_fields["knn_k"].description)]
KnnOpt = Annotated[str, typer.Option("--knn", help=f"{EvalConfig.model_fields['knn_method'].description}.")]
BatchOpt = Annotated[int, typer.Option(help=EvalConfig.model_fields["batch_size"].description)]
FlipOpt = Annotated[
    Optional[bool],  # noqa: UP045
    typer.Option(
        "--flip/--no-flip",
        help=f"{EvalConfig.model_fields['flip'].description} (default: the model's metadata, else on).",
    ),
]
InputSizeOpt = Annotated[Optional[int], typer.Option(help="ONNX: input size (else from the model).")]  # noqa: UP045
MeanOpt = Annotated[Optional[str], typer.Option(help="ONNX: pixel mean, '127.5' or 'r,g,b'.")]  # noqa: UP045
StdOpt = Annotated[Optional[str], typer.Option(help="ONNX: pixel std, '127.5' or 'r,g,b'.")]  # noqa: UP045
ColorOpt = Annotated[Optional[str], typer.Option(help="ONNX: channel order the model expects, RGB or BGR.")]  # noqa: UP045


def _check_choice(value: str, choices: Any, what: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _floats(text: str | None) -> float | tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as err:
        raise typer.BadParameter(f"expected a number or 'a,b,c', got {text!r}") from err
    return values[0] if len(values) == 1 else values


def _embedder(
    model: Path, input_size: int | None, mean: str | None, std: str | None, color: str | None, flip: bool | None
) -> Any:
    """The model as ``clusterface.load`` gives it: preprocessing and the flip test from its metadata."""
    from clusterface.inference import load

    onnx_opts: dict[str, Any] = {}
    if model.suffix.lower() == ".onnx" or model.is_dir():
        if color is not None:
            onnx_opts["color_order"] = _check_choice(color.upper(), ("RGB", "BGR"), "--color-order")
        onnx_opts.update(input_size=input_size, mean=_floats(mean), std=_floats(std))
    elif any(v is not None for v in (input_size, mean, std, color)):
        raise typer.BadParameter("--input-size/--mean/--std/--color-order apply to ONNX models only")
    onnx_opts = {k: v for k, v in onnx_opts.items() if v is not None}
    try:
        return load(model, flip=flip, **onnx_opts)
    except (ValueError, KeyError, FileNotFoundError) as err:
        raise typer.BadParameter(f"cannot load model {model}: {err}") from err


def evaluate_command(
    model: ModelArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (metrics.json, report.md/.html, PNGs).")],
    bins: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option("--bin", help="insightface .bin verification set; repeat for several.", exists=True),
    ] = None,
    ijb: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="IJB-B/C root (meta files in ROOT/meta or ROOT, crops in ROOT/loose_crop).", exists=True),
    ] = None,
    ijb_name: Annotated[Optional[str], typer.Option(help="IJB set name: ijbb or ijbc (default: detected).")] = None,  # noqa: UP045
    ijb_images: Annotated[Optional[Path], typer.Option(help="IJB crops directory (default ROOT/loose_crop).")] = None,  # noqa: UP045
    cluster: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Face set to cluster: ROOT/<identity>/<img> (scored), flat folder, or .npy/.npz features."),
    ] = None,
    methods: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--method", help=f"Clustering method(s) (default: {', '.join(EVAL.cluster_methods)})."),
    ] = None,
    threshold: ThresholdOpt = EVAL.cluster_threshold,
    k: KOpt = EVAL.knn_k,
    knn: KnnOpt = EVAL.knn_method,
    batch_size: BatchOpt = EVAL.batch_size,
    flip: FlipOpt = None,
    name: Annotated[Optional[str], typer.Option(help="Model name in the report.")] = None,  # noqa: UP045
    input_size: InputSizeOpt = None,
    mean: MeanOpt = None,
    std: StdOpt = None,
    color_order: ColorOpt = None,
) -> None:
    """Evaluate a model: 10-fold verification and TAR@FAR on .bin sets, IJB-B/C templates, face clustering."""
    from clusterface.analysis import write_evaluation_report
    from clusterface.evaluation import DegenerateEmbeddingError, IJBFormatError
    from clusterface.workflows import evaluate_model

    if not (bins or ijb or cluster):
        raise typer.BadParameter("nothing to evaluate: give --bin, --ijb and/or --cluster")
    for m in methods or []:
        _check_choice(m, CLUSTERING_METHODS, "--method")
    _check_choice(knn, KNN_METHODS, "--knn")
    embedder = _embedder(model, input_size, mean, std, color_order, flip)
    try:
        ev = evaluate_model(
            embedder,
            bins=bins or [],
            ijb=ijb,
            ijb_name=ijb_name,
            ijb_image_dir=ijb_images,
            cluster=cluster,
            cluster_methods=methods or EVAL.cluster_methods,
            threshold=threshold,
            k=k,
            knn_method=knn,  # type: ignore[arg-type]
            batch_size=batch_size,
            flip=embedder.metadata.flip,
            fars=EVAL.fars,
            name=name or model.stem,
        )
    except (DegenerateEmbeddingError, IJBFormatError, ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    if model.is_file() and model.suffix.lower() != ".onnx":
        from clusterface.workflows import memory_arrays_from_checkpoint

        arrays = memory_arrays_from_checkpoint(model)
        if arrays is not None:
            ev.memory_phi, ev.memory_margins = arrays
    try:
        files = write_evaluation_report(ev, out)
    except OSError as err:  # a full disk: report files are written atomically, none is left truncated
        typer.echo(f"error: cannot write the report to {out}: {err}", err=True)
        raise typer.Exit(1) from err
    summary = ev.metrics()
    for set_name, d in summary["verification"].items():
        typer.echo(f"{set_name}: accuracy {100 * d['accuracy']:.2f} ± {100 * d['accuracy_std']:.2f} %")
    if "ijb" in summary:
        typer.echo(f"{summary['ijb']['name']}: TAR@FAR {json.dumps(summary['ijb']['tar_at_far'])}")
    for m, d in summary.get("clustering", {}).get("methods", {}).items():
        if "scores" in d:
            s = d["scores"]
            typer.echo(f"cluster {m}: pairwise F {s['pairwise_fscore']:.4f}, BCubed F {s['bcubed_fscore']:.4f}")
    typer.echo(f"report: {files['report']}  ({files['html'].name}, {files['metrics'].name})")


def cluster_command(
    source: Annotated[
        Path,
        typer.Argument(
            help="Face crops ROOT/<identity>/<img> (labelled) or ROOT/<img>, or .npy/.npz features.", exists=True
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (assignments.csv, clustering.json).")],
    model: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Checkpoint or ONNX model (needed for images).", exists=True),
    ] = None,
    method: Annotated[str, typer.Option(help=f"One of {', '.join(CLUSTERING_METHODS)}.")] = EVAL.cluster_methods[0],
    threshold: ThresholdOpt = EVAL.cluster_threshold,
    num_clusters: Annotated[
        int | None, typer.Option(help="K for k-means (default: number of labelled identities).")
    ] = None,
    k: KOpt = EVAL.knn_k,
    knn: KnnOpt = EVAL.knn_method,
    batch_size: BatchOpt = EVAL.batch_size,
    flip: FlipOpt = None,
    input_size: InputSizeOpt = None,
    mean: MeanOpt = None,
    std: StdOpt = None,
    color_order: ColorOpt = None,
    detect: Annotated[
        bool,
        typer.Option(
            "--detect", help="SOURCE is a folder of ordinary photos: detect and align faces first ([detect] extra)."
        ),
    ] = False,
    copy: Annotated[
        bool, typer.Option("--copy", help="--detect: copy photos into people/ instead of linking.")
    ] = False,
) -> None:
    """Cluster faces; writes the assignment (CSV) and, when the set has labels, the clustering scores.

    With --detect: photos -> faces -> clusters, a folder per person (links to the photos) and
    index.html; rerunning reuses the faces and embeddings of photos seen before.
    """
    from clusterface.evaluation import DegenerateEmbeddingError
    from clusterface.workflows import cluster_face_set

    _check_choice(method, CLUSTERING_METHODS, "--method")
    _check_choice(knn, KNN_METHODS, "--knn")
    embedder = _embedder(model, input_size, mean, std, color_order, flip) if model is not None else None
    if detect:
        _cluster_photos(source, out, embedder, method, threshold, num_clusters, k, copy)
        return
    try:
        result = cluster_face_set(
            source,
            embedder,
            methods=[method],
            threshold=threshold,
            num_clusters=num_clusters,
            k=k,
            knn_method=knn,  # type: ignore[arg-type]
            batch_size=batch_size,
            flip=embedder.metadata.flip if embedder is not None else True,
        )
    except (DegenerateEmbeddingError, ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    if method not in result.assignments:
        typer.echo("error: k-means needs --num-clusters for an unlabelled set", err=True)
        raise typer.Exit(1)
    out.mkdir(parents=True, exist_ok=True)
    csv = result.write_assignments(out / "assignments.csv")
    (out / "clustering.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    n_clusters = len(set(result.assignments[method].tolist()))
    typer.echo(f"{len(result.item_names)} faces -> {n_clusters} clusters ({method}); assignment: {csv}")
    if method in result.scores:
        s = result.scores[method]
        typer.echo(
            f"pairwise P/R/F {s['pairwise_precision']:.4f}/{s['pairwise_recall']:.4f}/{s['pairwise_fscore']:.4f}  "
            f"BCubed P/R/F {s['bcubed_precision']:.4f}/{s['bcubed_recall']:.4f}/{s['bcubed_fscore']:.4f}  "
            f"NMI {s['nmi']:.4f}"
        )


def _cluster_photos(
    source: Path,
    out: Path,
    embedder: Any,
    method: str,
    threshold: float | None,
    num_clusters: int | None,
    k: int,
    copy: bool,
) -> None:
    from clusterface.align import DetectorUnavailableError, DlibDetector
    from clusterface.photos import cluster_photos, write_outputs

    if embedder is None:
        raise typer.BadParameter("--detect needs --model (a checkpoint, an export folder or an ONNX face model)")
    try:
        detector = DlibDetector()
    except DetectorUnavailableError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    result = cluster_photos(source, out, embedder, detector, method, threshold, k=k, num_clusters=num_clusters)
    files = write_outputs(result, out, link="copy" if copy else "symlink")
    people = (
        len({p.name for p in files["people"].iterdir() if p.name.startswith("person_")})
        if files["people"].exists()
        else 0
    )
    typer.echo(
        f"{result.photos} photos ({result.reused_photos} reused, {result.detected_photos} detected): "
        f"{len(result.faces)} faces -> {people} people with 2+ faces ({method}, threshold "
        f"{result.threshold:.3f}, {result.threshold_source}); {len(result.no_face)} photos without a face"
    )
    typer.echo(f"folders: {files['people']}  gallery: {files['html']}  table: {files['csv']}")
