"""The projections, by name. Pure folds: no I/O, no asyncio, no database."""

from __future__ import annotations

from .arsenal import Arsenal
from .base import Pending, Projection, State
from .deployments import Deployments
from .territory import Territory

PROJECTIONS: dict[str, Projection] = {p.name: p for p in (Territory(), Arsenal(), Deployments())}

__all__ = ["PROJECTIONS", "Arsenal", "Deployments", "Pending", "Projection", "State", "Territory"]
