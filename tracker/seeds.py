"""Where the shipped seed reports are: inside the installed package, or the source checkout."""

from __future__ import annotations

from pathlib import Path

SUFFIXES = (".yaml", ".yml", ".json", ".jsonl")


def seed_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_seeds", here.parent / "seeds"):  # wheel, then checkout
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no seeds found beside {here}: reinstall tracker")


def seed_files() -> list[Path]:
    """Seed reports in name order: registrations come in the files that use them first."""
    return sorted(p for p in seed_dir().iterdir() if p.suffix in SUFFIXES)
