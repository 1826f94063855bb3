"""``spms``: the command line. Each subcommand lives in a module of COMMAND_MODULES.

A command module exposes ``register(subparsers)``; it adds its parser(s) with
``subparsers.add_parser(...)`` and sets ``func`` with
``parser.set_defaults(func=handler)``, where ``handler(args) -> int | None``
returns the exit status. A module that fails to import does not take the other
commands down: ``spms --help`` lists it as unavailable, and using one of its
commands prints why.

The asyncio reactor is installed before any command module is imported,
because modules such as treq and klein import the reactor at import time.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

#: Subcommand modules, in the order their commands appear in ``--help``.
COMMAND_MODULES: list[str] = [
    "tagdb.cli.run",
    "tagdb.cli.site",
    "tagdb.cli.tags",
    "tagdb.historian.cli",
    "business.cli",
    "business.finance.cli",
    "alarms.cli",
    "collectors.cli",
]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

#: Third-party loggers whose INFO lines are start-up chatter; shown only at DEBUG.
QUIET_LOGGERS = ("alembic.runtime.plugins",)


class StderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is at the moment of each record.

    Binding the stream once breaks when the CLI runs in-process under a harness that swaps
    and later closes stderr (pytest's capture): every later record would hit a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: str) -> None:
    """Log to stderr at ``level``; Twisted's own log goes to the same place."""
    logging.basicConfig(handlers=[StderrHandler()], level=getattr(logging, level),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True)
    if level != "DEBUG":
        for noisy in QUIET_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False,
                                     discardBuffer=True)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, str]]:
    """The parser with every loadable command, and {module: error} for those that failed."""
    parser = argparse.ArgumentParser(
        prog="spms",
        description="spms: smart property management system (SCADA tag server + business layer).",
        epilog="Run `spms COMMAND --help` for a command's options.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG (same as --log-level DEBUG)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO", help="log level (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    broken: dict[str, str] = {}
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
            module.register(sub)
        except Exception as exc:  # one broken package must not break every command
            broken[name] = f"{type(exc).__name__}: {exc}"
            logging.getLogger("spms.cli").debug("command module %s failed:\n%s", name, traceback.format_exc())
    if broken:
        parser.epilog += "\n\nUnavailable command modules: " + "; ".join(f"{m} ({e})" for m, e in broken.items())
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser, broken


def _first_command(argv: list[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--log-level":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spms`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from ..server.reactor import ReactorError, install_asyncio_reactor

    try:
        install_asyncio_reactor()
    except ReactorError as exc:
        print(f"spms: {exc}", file=sys.stderr)
        return 2
    parser, broken = build_parser()
    command = _first_command(argv)
    choices = parser._subparsers._group_actions[0].choices if parser._subparsers else {}
    if command is not None and command not in choices and broken:
        print(f"spms: unknown command {command!r}. These command modules failed to load, "
              "the command may be in one of them:", file=sys.stderr)
        for module, error in broken.items():
            print(f"  {module}: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    setup_logging("DEBUG" if args.verbose else args.log_level)
    for module, error in broken.items():
        logging.getLogger("spms.cli").warning("command module %s is unavailable: %s", module, error)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        status = func(args)
    except KeyboardInterrupt:
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
