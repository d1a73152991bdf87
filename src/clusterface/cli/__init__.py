"""Command-line interface: parses arguments, loads config, calls library functions.

``main(argv)`` is callable from tests and returns the exit code; ``run()`` is the
console-script entry point.
"""

from __future__ import annotations

import sys

import typer

from clusterface.cli import ablate, align, data, demo, evaluate, export, models, synth, train

app = typer.Typer(
    name="clusterface",
    help=(
        "Face-recognition embeddings by joint label classification and supervised contrastive "
        "clustering: generate data, train, evaluate, cluster."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("synth")(synth.synth_command)
app.command("models")(models.models_command)
app.command("train")(train.train_command)
app.command("demo")(demo.demo_command)
app.command("ablate")(ablate.ablate_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("cluster")(evaluate.cluster_command)
app.command("export")(export.export_command)
app.command("calibrate")(export.calibrate_command)
app.command("align")(align.align_command)
app.add_typer(data.app, name="data")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (without the program name); return the exit code."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="clusterface", standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.TyperException as err:
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {err}", err=True)
        return int(getattr(err, "exit_code", 1))
    return int(result) if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        # file names that are not UTF-8 (surrogate escapes) are printed escaped instead of raising
        # UnicodeEncodeError in the middle of a report
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            reconfigure(errors="backslashreplace")
    sys.exit(main(sys.argv[1:]))
