from clusterface.cli import main


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("synth", "models", "train", "demo", "evaluate", "cluster", "data"):
        assert name in out


def test_unknown_command_is_usage_error():
    assert main(["no-such-command"]) == 2
