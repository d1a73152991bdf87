"""`clusterface synth` end to end on a tiny set."""

from __future__ import annotations

import json

from clusterface.cli import main


def test_synth_help(capsys):
    assert main(["synth", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--identities" in out and "--preset" in out


def test_synth_command_writes_and_reuses(tmp_path, capsys):
    out = tmp_path / "set"

    def argv_for(seed: int) -> list[str]:
        return ["synth", "--out", str(out), "--identities", "12", "--seed", str(seed), "--preset", "easy",
                "--images-median", "3", "--images-max", "5", "--workers", "1", "--no-progress"]  # fmt: skip

    argv = argv_for(1)
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["params"]["preset"] == "easy" and manifest["identities"] == 12
    assert (out / "test" / "verification.bin").is_file() and (out / "test" / "pairs.txt").is_file()
    assert "SynthFaces in" in capsys.readouterr().out
    assert main(argv) == 0  # cached
    assert main(argv_for(2)) == 1  # other parameters, same directory: refused
    assert main(["synth", "--out", str(out), "--preset", "nope"]) != 0
