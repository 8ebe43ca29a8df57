"""Event type names that code routing by type needs without the models (core/events.py):
building the pydantic models costs a one-shot `tracker state` a sixth of a second."""

from __future__ import annotations

REGISTRATIONS = frozenset({"ActorRegistered", "PlaceRegistered"})
