"""MkDocs hooks: pages generated from the code, so they cannot drift from it.

- ``reference/config.md`` from the config schema (every key, type, default and meaning);
- ``reference/cli.md`` from the command line's argument parser.
"""

from __future__ import annotations

import argparse
from typing import Any

from mkdocs.structure.files import File, Files

from ticketlab.cli import build_parser
from ticketlab.config.reference import reference_markdown


def _parsers(
    parser: argparse.ArgumentParser, prefix: str
) -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(prefix, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.extend(_parsers(sub, f"{prefix} {name}"))
    return out


def cli_markdown() -> str:
    """Every command's help, as ``ticketlab CMD --help`` prints it."""
    lines = [
        "# Command line",
        "",
        "Generated from the `ticketlab` argument parser: each command's `--help`.",
        "",
    ]
    for name, parser in _parsers(build_parser(), "ticketlab"):
        parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=90)
        lines += [f"## `{name}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    for uri, content in (
        ("reference/config.md", reference_markdown()),
        ("reference/cli.md", cli_markdown()),
    ):
        files.append(File.generated(config, uri, content=content))
    return files
