"""The sharding core: bounded batches to one actor per node, outputs back in input order.

:func:`run_sharded` is the driver loop every ``--ray`` stage runs. It cuts the input into
batches, keeps at most ``in_flight`` batches on each actor (actors run that many at once,
so a batch's slow tail overlaps the next one's start, and a slow node never has more than
that waiting for it), pulls new input only while fewer than ``window``
batches are unfinished or unwritten (so neither the input nor out-of-order results pile
up in the driver), and yields one output per input item in input order.

Faults. When an actor dies, the driver cannot tell which of its batches killed it (even
a batch that finished may have lost its reply), so every batch of that actor without a
result becomes a *suspect*: it is resent, uncharged, to run alone on an otherwise idle
actor. The dead actor is replaced on the same node (or any node, if that one is gone). Only
a suspect that dies running alone is charged a failure. A batch charged more than
``max_retries`` times is split in half, each half getting one lone attempt before it is
split again; a single item gets ``max_retries + 1`` lone attempts, after which
``poisoned(item, reason)`` supplies its output (for verification an ``infra_error``
result). A Python exception inside an actor is a bug, not a fault, and is raised in the
driver.

What it does not do: use nodes that join after the start, or tell a dying node from a
program that kills its host (both look like a dead actor and are retried the same way).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tdrl.scale.cluster import Node, cpu_nodes, require_ray


@dataclass
class ShardStats:
    """What the driver loop saw: batches sent (retries included), actor deaths, poisoned items."""

    nodes: int = 0
    batches: int = 0
    actor_deaths: int = 0
    poisoned: int = 0


@dataclass
class _Unit:
    batch: int  # index of the input batch this is (part of)
    offset: int  # position of its first item in that batch
    items: list
    failures: int = 0
    suspect: bool = False  # was on an actor that died: runs alone until it succeeds or is charged


@dataclass
class _Slot:
    node: Node
    actor: Any
    inflight: collections.deque = field(default_factory=collections.deque)  # (ref, unit), oldest first


def run_sharded(
    items: Iterable,
    make_actor: Callable[[Node], Any],
    poisoned: Callable[[Any, str], Any],
    *,
    batch_size: int = 32,
    in_flight: int = 2,
    window: int | None = None,
    max_retries: int = 2,
    stats: ShardStats | None = None,
) -> Iterator[Any]:
    """Yield ``actor.run(batch)``'s outputs for every item of ``items``, in input order.

    ``make_actor(node)`` creates a Ray actor with a ``run(list) -> list`` method (one
    output per item, same order) placed on ``node``; see the module doc for the rest.
    """
    ray = require_ray()
    from ray.exceptions import GetTimeoutError, RayActorError

    stats = stats if stats is not None else ShardStats()
    source = _batches(items, batch_size)
    first = next(source, None)
    if first is None:
        return  # nothing to do: start no actors
    source = itertools.chain([first], source)
    slots = [_Slot(node, make_actor(node)) for node in cpu_nodes()]
    stats.nodes = len(slots)
    window = window or 2 * in_flight * len(slots)
    queue: collections.deque[_Unit] = collections.deque()  # retries, sent before new input
    outputs: dict[int, list] = {}  # batch -> its outputs, None where not done yet
    missing: dict[int, int] = {}  # batch -> items without an output
    owner: dict[Any, _Slot] = {}
    next_batch = next_out = 0
    exhausted = False

    def free_slot(unit: _Unit) -> _Slot | None:
        """Where ``unit`` may go now: a suspect only to an idle actor, nothing next to a suspect."""
        if unit.suspect:
            return next((s for s in slots if not s.inflight), None)
        open_slots = [s for s in slots if len(s.inflight) < in_flight and not any(u.suspect for _, u in s.inflight)]
        return min(open_slots, key=lambda s: len(s.inflight), default=None)

    def send(unit: _Unit, slot: _Slot) -> None:
        ref = slot.actor.run.remote(unit.items)
        slot.inflight.append((ref, unit))
        owner[ref] = slot
        stats.batches += 1

    def store(unit: _Unit, values: list) -> None:
        if len(values) != len(unit.items):
            raise RuntimeError(f"actor returned {len(values)} outputs for {len(unit.items)} items")
        outputs[unit.batch][unit.offset : unit.offset + len(values)] = values
        missing[unit.batch] -= len(values)

    def charge(unit: _Unit, error: str) -> None:
        unit.failures += 1
        if unit.failures <= max_retries:
            queue.appendleft(unit)
        elif len(unit.items) > 1:
            half = len(unit.items) // 2
            for offset, part in ((unit.offset + half, unit.items[half:]), (unit.offset, unit.items[:half])):
                queue.appendleft(_Unit(unit.batch, offset, part, 0 if len(part) == 1 else max_retries, suspect=True))
        else:
            stats.poisoned += 1
            reason = f"its verifier process died on each of {unit.failures} attempts with it alone ({error})"
            store(unit, [poisoned(unit.items[0], reason)])

    def actor_died(slot: _Slot) -> None:
        stats.actor_deaths += 1
        entries = list(slot.inflight)
        slot.inflight.clear()
        refs = [ref for ref, _ in entries]
        ray.wait(refs, num_returns=len(refs), timeout=60)  # a dead actor's pending calls fail promptly
        alone = len(entries) == 1 and entries[0][1].suspect
        retry = []
        for ref, unit in entries:
            del owner[ref]
            try:
                store(unit, ray.get(ref, timeout=0))
            except (RayActorError, GetTimeoutError) as exc:
                if alone:
                    charge(unit, type(exc).__name__)
                else:
                    unit.suspect = True
                    retry.append(unit)
        queue.extendleft(reversed(retry))
        ray.kill(slot.actor, no_restart=True)  # in case it is only unreachable, not dead
        slot.actor = make_actor(slot.node)

    try:
        while True:
            while True:
                if not queue and not exhausted and next_batch - next_out < window:
                    batch = next(source, None)
                    if batch is None:
                        exhausted = True
                        continue
                    outputs[next_batch], missing[next_batch] = [None] * len(batch), len(batch)
                    queue.append(_Unit(next_batch, 0, batch))
                    next_batch += 1
                slot = free_slot(queue[0]) if queue else None
                if slot is None:
                    break
                send(queue.popleft(), slot)
            while next_out in missing and missing[next_out] == 0:
                del missing[next_out]
                yield from outputs.pop(next_out)
                next_out += 1
            if not owner:
                if exhausted and not queue:
                    return
                continue
            ready, _ = ray.wait(list(owner), num_returns=1)
            slot = owner[ready[0]]
            try:
                values = ray.get(ready[0])
            except RayActorError:
                actor_died(slot)
                continue
            entry = next(e for e in slot.inflight if e[0] == ready[0])
            slot.inflight.remove(entry)
            del owner[ready[0]]
            store(entry[1], values)
    finally:
        for slot in slots:  # free the nodes now, not when the handles are collected
            ray.kill(slot.actor, no_restart=True)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch
