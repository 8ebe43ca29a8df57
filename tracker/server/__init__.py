"""The live server: websocket API, dashboard and JSON reads on one port (`tracker serve`)."""

from .app import Settings, run

__all__ = ["Settings", "run"]
