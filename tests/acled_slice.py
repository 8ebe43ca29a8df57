"""A realistic slice of an ACLED export, made by the tests: every event type and sub-event type,
every time and geo precision, fatalities zero and not, in ACLED's current columns."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

from tracker.core.acled import COLUMNS, EVENT_TYPES

IRAQ = "Military Forces of Iraq (2014-2018)"
ISIS = "Islamic State (Iraq)"
PLACES = [  # location, admin1, lat, lon, geo_precision
    ("Mosul", "Ninewa", 36.335, 43.1189, 1),
    ("Tikrit", "Salah al-Din", 34.6071, 43.6782, 1),
    ("Baiji", "Salah al-Din", 34.9311, 43.487, 2),
    ("Tal Afar", "Ninewa", 36.3792, 42.4497, 3),
    ("Fallujah", "Al Anbar", 33.3558, 43.7861, 1),
]


def stamp(day: str) -> str:
    return str(int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp()))


def row(n: int, day: str, kind: str, sub: str, where: int = 0, actor1: str = ISIS, actor2: str = IRAQ,
        tp: int = 1, deaths: int = 0, published: str = "2014-07-01", **extra: Any) -> dict[str, str]:
    location, admin1, lat, lon, geo = PLACES[where]
    cells = {"event_id_cnty": f"IRQ{n}", "event_date": day, "year": day[:4], "time_precision": str(tp),
             "disorder_type": "Political violence", "event_type": kind, "sub_event_type": sub, "actor1": actor1,
             "inter1": "2" if actor1 == ISIS else "1", "actor2": actor2,
             "inter2": "" if not actor2 else ("1" if actor2 == IRAQ else "7" if "Civilians" in actor2 else "2"),
             "interaction": "12",
             "civilian_targeting": "", "iso": "368", "region": "Middle East", "country": "Iraq", "admin1": admin1,
             "admin2": "", "admin3": "", "location": location, "latitude": str(lat), "longitude": str(lon),
             "geo_precision": str(geo), "source": "Reuters; Al Sumaria", "source_scale": "National",
             "notes": f"On {day}, event {n}, with a comma, and \"quotes\".", "fatalities": str(deaths), "tags": "",
             "timestamp": stamp(published)}
    cells.update({k: str(v) for k, v in extra.items()})
    return cells


def first_export() -> list[dict[str, str]]:
    rows = [
        row(1, "2014-06-10", "Battles", "Non-state actor overtakes territory", 0, deaths=12, tp=1),
        row(2, "2014-06-11", "Battles", "Non-state actor overtakes territory", 1, deaths=0, tp=2),
        row(3, "2014-06-26", "Battles", "Armed clash", 1, actor1=IRAQ, actor2=ISIS, deaths=30, tp=1),
        row(4, "2014-06-15", "Battles", "Government regains territory", 2, actor1=IRAQ, actor2=ISIS, tp=3),
        row(5, "2014-06-16", "Strategic developments", "Non-violent transfer of territory", 3, tp=1),
        row(6, "2014-06-20", "Explosions/Remote violence", "Air/drone strike", 4, actor1=IRAQ, actor2="", deaths=4),
        row(7, "2014-06-21", "Strategic developments", "Headquarters or base established", 0, actor2=""),
        row(8, "2014-06-22", "Strategic developments", "Disrupted weapons use", 4, actor1=IRAQ, actor2=ISIS),
        row(9, "2014-06-23", "Strategic developments", "Looting/property destruction", 0, actor2=""),
        row(10, "2014-06-24", "Violence against civilians", "Attack", 0, actor2="Civilians (Iraq)", deaths=7),
        row(11, "2014-06-25", "Protests", "Peaceful protest", 4, actor1="Protesters (Iraq)", actor2=""),
        row(12, "2014-06-25", "Riots", "Mob violence", 4, actor1="Rioters (Iraq)", actor2=""),
        row(13, "2014-06-25", "Strategic developments", "Arrests", 4, actor1=IRAQ, actor2=""),
        row(14, "2014-06-27", "Explosions/Remote violence", "Suicide bomb", 4, actor2="", deaths=0, tp=2),
    ]
    n = 15
    for kind, subs in EVENT_TYPES.items():  # every other sub-event type once, at Fallujah
        for sub in subs:
            if not any(r["sub_event_type"] == sub for r in rows):
                rows.append(row(n, "2014-06-28", kind, sub, 4, actor2=""))
                n += 1
    return rows


def second_export() -> list[dict[str, str]]:
    """A newer export of the same range: a row changed (more deaths, later timestamp), a row gone,
    a row added; the rest as they were."""
    rows = [r for r in first_export() if r["event_id_cnty"] != "IRQ5"]  # deleted by ACLED
    for r in rows:
        if r["event_id_cnty"] == "IRQ3":
            r.update(fatalities="45", timestamp=stamp("2014-07-10"))
        if r["event_id_cnty"] == "IRQ2":  # Tikrit's capture dated to the day
            r.update(time_precision="1", timestamp=stamp("2014-07-10"))
    rows.append(row(100, "2014-06-29", "Battles", "Armed clash", 2, deaths=3, published="2014-07-10"))
    return rows


def to_csv(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
