"""The ``spms`` command line: ``main`` plus one module per group of subcommands."""
