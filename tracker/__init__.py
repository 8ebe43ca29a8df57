"""tracker: an event-sourced situation tracker with streaming updates."""

__version__ = "0.1.0"
