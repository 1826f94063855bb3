"""The spms command line: help, command modules that fail to import, logging options."""

from __future__ import annotations

import sys
import types

import pytest

from tagdb.cli import main as cli


@pytest.fixture(autouse=True)
def levels(monkeypatch):
    """Keep the test process's logging alone (setup_logging would point it at captured stderr)."""
    seen: list[str] = []
    monkeypatch.setattr(cli, "setup_logging", seen.append)
    return seen


def test_help_lists_run_and_demo(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out and "demo" in out


@pytest.mark.parametrize("command", ["run", "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "--data-dir" in capsys.readouterr().out


def test_broken_command_module_does_not_break_the_others(monkeypatch, capsys):
    broken = types.ModuleType("spms_test_broken_cli")

    def register(subparsers):
        raise ImportError("No module named 'opcua_extra'")

    broken.register = register
    monkeypatch.setitem(sys.modules, "spms_test_broken_cli", broken)
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "spms_test_broken_cli",
                                                 "spms_test_missing_cli"])
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "SITE" in capsys.readouterr().out
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "spms_test_broken_cli: ImportError: No module named 'opcua_extra'" in err
    assert "spms_test_missing_cli: ModuleNotFoundError" in err


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "usage: spms" in capsys.readouterr().out


def test_run_with_missing_site_reports_and_exits_1(tmp_path, capsys, levels):
    assert cli.main(["-v", "run", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml" in capsys.readouterr().err
    assert levels == ["DEBUG"]
    assert cli.main(["--log-level", "WARNING", "run", str(tmp_path / "nope.yaml")]) == 1
    assert levels == ["DEBUG", "WARNING"]


def test_the_log_handler_follows_stderr_when_it_is_swapped_and_closed(monkeypatch):
    import io
    import logging
    handler = cli.StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "after the swap", None, None)
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    handler.emit(record)
    first.close()      # what a test harness does with its captured stream
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    handler.emit(record)
    assert second.getvalue() == "after the swap\n"
