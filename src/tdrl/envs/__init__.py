"""Environments for generalisation studies: GeneralPoints and text navigation.

Each environment is one file registered by name in :data:`ENVS`; see :mod:`tdrl.envs.base`
for the surface they share and :mod:`tdrl.envs.rollout` for playing them with a model.
"""

from tdrl.envs.base import SPLITS, Episode, Task, Verdict
from tdrl.envs.navigation import Navigation
from tdrl.envs.points import GeneralPoints
from tdrl.errors import ConfigError

ENVS = {"points": GeneralPoints, "navigation": Navigation}


def make_env(name: str, **options):
    """An environment by name; ``options`` are its fields (``verify_iter``, ``target``, ``legs`` ...)."""
    if name not in ENVS:
        raise ConfigError(f"unknown environment {name!r} (one of {', '.join(ENVS)})")
    known = set(ENVS[name].__dataclass_fields__) - {"name"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"environment {name!r}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return ENVS[name](**options)


__all__ = ["ENVS", "SPLITS", "Episode", "GeneralPoints", "Navigation", "Task", "Verdict", "make_env"]
