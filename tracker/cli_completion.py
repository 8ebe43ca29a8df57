"""`tracker completion bash|zsh`: a shell completion script built from the command's own
argparse parser by shtab, so it always knows every command, option and choice of this
version (projections, roles, shells) and completes file names where a file is taken."""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh")
_FILES = {"files", "file", "path", "output", "token_file", "certfile", "keyfile"}  # dests that take a path


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    import shtab

    _mark_files(parser, shtab.FILE)
    return shtab.complete(parser, shell=shell)


def _mark_files(parser: argparse.ArgumentParser, complete: object) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_files(sub, complete)
        elif action.dest in _FILES:
            action.complete = complete  # type: ignore[attr-defined]  # shtab's documented hook
