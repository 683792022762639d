"""The console script: every subcommand is registered and explains itself in --help."""

import pytest

from skeletonllm.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: skeletonllm {command}")
    assert len(text.splitlines()) > 3


def test_top_level_help_lists_all_subcommands():
    text = build_parser().format_help()
    for command in COMMANDS:
        assert command in text


def test_missing_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "required" in capsys.readouterr().err
