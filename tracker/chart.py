"""`tracker chart -o FILE.png|.svg`: the situation over time, for a report, drawn with matplotlib
(the optional `chart` extra: pip install 'tracker[chart]').

Top: places held per actor (a step line each). Middle: facts known only within a window, one
bar per fact over its window (pending somewhere inside it). Bottom: facts known to the day,
per day.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from .core.errors import InputError

FORMATS = (".png", ".svg")


def draw(data: dict[str, Any], path: str, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise InputError("tracker chart needs matplotlib, which is not installed: "
                         "pip install 'tracker[chart]' (or pip install matplotlib)") from None
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"-o {path}: tracker chart writes .png or .svg files")
    days = [date.fromisoformat(d) for d in data["days"]]
    ranges = data["ranges"]
    heights = (3, max(1.2, min(6, 0.25 * len(ranges) + 0.6)), 2)
    fig, (top, middle, bottom) = plt.subplots(3, 1, sharex=True, figsize=(11, sum(heights) + 1.2),
                                              gridspec_kw={"height_ratios": heights})
    try:
        fig.suptitle(title)
        for name, counts in data["held"].items():
            top.step(days, counts, where="post", label=name)
        top.set_ylabel("places held")
        top.yaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
        if data["held"]:
            top.legend(loc="upper left", fontsize="small")
        else:
            top.text(0.5, 0.5, "no place held in this range", ha="center", va="center", transform=top.transAxes)
        for i, r in enumerate(ranges):
            start, end = date.fromisoformat(r["from"]), date.fromisoformat(r["to"])
            middle.barh(i, (end - start).days + 1, left=start, height=0.6, alpha=0.35, hatch="//",
                        edgecolor="white")
            middle.text(start, i, " " + r["label"], va="center", fontsize="x-small")
        middle.set_yticks([])
        middle.set_ylabel("windows")
        middle.invert_yaxis()
        if not ranges:
            middle.text(0.5, 0.5, "no fact known only within a window", ha="center", va="center",
                        transform=middle.transAxes)
        per_day = data["per_day"]
        bottom.bar([date.fromisoformat(d) for d, _ in per_day], [n for _, n in per_day], width=0.8)
        bottom.set_ylabel("facts per day")
        bottom.set_xlim(days[0], days[-1])
        bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(bottom.xaxis.get_major_locator()))
        fig.tight_layout()
        partial = Path(path).with_name(Path(path).name + ".partial")
        try:
            fig.savefig(partial, format=suffix[1:])
            partial.replace(path)
        except OSError as e:
            partial.unlink(missing_ok=True)
            raise InputError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)
