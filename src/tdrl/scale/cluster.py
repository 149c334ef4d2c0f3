"""Connecting to Ray (``--ray local | auto | ADDRESS``) and sizing one actor per node.

Ray is imported here, lazily, and only here and in the stage modules' functions; a
missing Ray is reported with the command that installs it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass


class RayNotInstalled(RuntimeError):
    """``--ray`` was given but Ray is not importable."""


def require_ray():
    """Import and return the ``ray`` module, or fail with how to install it."""
    try:
        import ray
    except ImportError:
        raise RayNotInstalled("--ray needs Ray, which is not installed: pip install 'tdrl[ray]'") from None
    return ray


def connect(address: str | None = "local") -> bool:
    """Make sure this process is a Ray driver; True when this call started (or joined) the cluster.

    ``local`` starts a private cluster on this machine (127.0.0.1), ``auto`` joins the one
    started with ``ray start --head``, anything else is a Ray address (``ray://host:10001``
    or ``host:6379``). A process already connected keeps its connection.
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    kwargs = {"logging_level": "WARNING", "configure_logging": True}
    if address in (None, "", "local"):
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", **kwargs)
    else:
        ray.init(address=address, **kwargs)
    return True


@contextlib.contextmanager
def ray_cluster(address: str | None):
    """Connect for the duration of a command and disconnect (stopping a local cluster) after; no-op for None."""
    if not address:
        yield
        return
    started = connect(address)
    try:
        yield
    finally:
        if started:
            require_ray().shutdown()


@dataclass
class Node:
    """An alive node with CPUs: where one stage actor goes."""

    node_id: str
    cpus: int


def cpu_nodes() -> list[Node]:
    """Alive nodes with at least one CPU, in a stable order."""
    ray = require_ray()
    nodes = [Node(n["NodeID"], int(n["Resources"].get("CPU", 0))) for n in ray.nodes() if n.get("Alive")]
    nodes = sorted((n for n in nodes if n.cpus > 0), key=lambda n: n.node_id)
    if not nodes:
        raise RuntimeError("the Ray cluster has no alive node with CPUs")
    return nodes


def place_on(node_id: str):
    """A scheduling strategy that prefers ``node_id`` and falls back to any node if it is gone."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=True)
