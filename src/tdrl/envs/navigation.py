"""Text navigation: follow route instructions through a generated city (V-IRL, language only).

A city is a grid of intersections joined by streets (every north-south and east-west block,
plus some diagonal streets) with named landmarks at corners of some intersections. The route
planner draws a route of two or three legs: turn to a heading, walk until the intersection
where a named landmark is on your left or right, turn again, ... stop. Its instructions read
like "Turn slightly left to face north-east." and "Move forward until you reach the
intersection where the Old Bakery is on your right."

Each step of a route is one :class:`~tdrl.envs.base.Task`: the instructions, the actions so
far and the current observation (heading, landmarks and the side they are on). The model
answers ``{"instruction": <number of the instruction it is following>, "action": "..."}``.
The rule variant is the action space:

- ``id``: absolute turns, ``turn_direction(north)`` ... ``turn_direction(north-west)``;
- ``ood``: relative turns, ``turn_direction(left|right|slightly left|slightly right)``;

and in both ``forward()`` and ``stop()``. Rewards as in the paper: +1 correct action, -1 wrong
action (or one outside the action space), -1.5 wrong observation (the instruction number,
or no readable answer); ``verify_iter`` attempts per step (paper: 2), -1 when all fail.
The same seed gives the same routes in both splits, so ID and OOD differ only in the rule.
A route succeeds when every step does (:func:`route_success`).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass

from tdrl.envs.base import Task, Verdict, json_answer
from tdrl.errors import ConfigError

HEADINGS = ["north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west"]
_VECTORS = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]
RELATIVE = {1: "slightly right", 2: "right", 6: "left", 7: "slightly left"}  # clockwise steps of 45 degrees
_ADJECTIVES = ["Old", "Blue", "Golden", "Green", "Royal", "Little", "Grand", "Silver", "Red", "Quiet", "Sunny", "North"]
_NOUNS = ["Bakery", "Library", "Museum", "Hotel", "Pharmacy", "Cinema", "Bank", "Cafe", "Chapel", "Market", "School", "Gym"]


@dataclass
class City:
    size: int
    diagonals: set  # frozenset({a, b}) of diagonal streets
    landmarks: dict  # node -> list of (name, corner heading index: 1, 3, 5 or 7)

    @classmethod
    def generate(cls, rng: random.Random, size: int = 6, diagonal_p: float = 0.35, landmark_p: float = 0.45) -> City:
        diagonals = set()
        for x in range(size - 1):
            for y in range(size - 1):
                if rng.random() < diagonal_p:
                    a, b = ((x, y), (x + 1, y + 1)) if rng.random() < 0.5 else ((x, y + 1), (x + 1, y))
                    diagonals.add(frozenset((a, b)))
        names = [f"{a} {n}" for a in _ADJECTIVES for n in _NOUNS]
        rng.shuffle(names)
        landmarks = {}
        for x in range(size):
            for y in range(size):
                if rng.random() < landmark_p and names:
                    landmarks[(x, y)] = [(names.pop(), rng.choice([1, 3, 5, 7]))]
        return cls(size, diagonals, landmarks)

    def step(self, node: tuple, heading: int) -> tuple | None:
        """The next intersection along ``heading``, or None where no street goes that way."""
        dx, dy = _VECTORS[heading]
        nxt = (node[0] + dx, node[1] + dy)
        if not (0 <= nxt[0] < self.size and 0 <= nxt[1] < self.size):
            return None
        if dx and dy and frozenset((node, nxt)) not in self.diagonals:
            return None
        return nxt

    def seen(self, node: tuple, heading: int) -> list[tuple[str, str]]:
        """Landmarks at ``node`` and where they are for someone facing ``heading``."""
        hx, hy = _VECTORS[heading]
        out = []
        for name, corner in self.landmarks.get(node, []):
            cx, cy = _VECTORS[corner]
            cross, dot = hx * cy - hy * cx, hx * cx + hy * cy
            side = "left" if cross > 0 else "right" if cross < 0 else "ahead" if dot > 0 else "behind you"
            out.append((name, side))
        return out


def plan_route(rng: random.Random, city: City, legs: int) -> dict | None:
    """Start, initial heading, legs ``(heading, blocks, landmark, side)`` and the expert actions; None if stuck."""
    start = (rng.randrange(city.size), rng.randrange(city.size))
    heading = rng.randrange(8)
    node, plan, actions, path = start, [], [], [start]
    for _ in range(legs):
        options = []
        for turn in RELATIVE:
            h = (heading + turn) % 8
            cur, blocks = node, 0
            while (nxt := city.step(cur, h)) is not None and nxt not in path and blocks < 5:
                cur, blocks = nxt, blocks + 1
                sides = [(n, s) for n, s in city.seen(cur, h) if s in ("left", "right")]
                if sides:
                    options.append((h, blocks, cur, sides[0]))
        if not options:
            return None
        h, blocks, end, (name, side) = rng.choice(options)
        plan.append({"heading": h, "turn": (h - heading) % 8, "blocks": blocks, "landmark": name, "side": side})
        actions += [("turn", h)] + [("forward", None)] * blocks
        for _ in range(blocks):
            node = city.step(node, h)
            path.append(node)
        heading = h
    actions.append(("stop", None))
    return {"start": start, "heading0": (plan[0]["heading"] - plan[0]["turn"]) % 8, "legs": plan, "actions": actions}


def instructions(route: dict) -> list[str]:
    lines = []
    for leg in route["legs"]:
        lines.append(f"Turn {RELATIVE[leg['turn']]} to face {HEADINGS[leg['heading']]}.")
        lines.append(f"Move forward until you reach the intersection where the {leg['landmark']} is on your {leg['side']}.")
    lines.append("Stop.")
    return lines


def action_text(action: tuple, heading_before: int, split: str) -> str:
    kind, h = action
    if kind != "turn":
        return f"{kind}()"
    return f"turn_direction({HEADINGS[h] if split == 'id' else RELATIVE[(h - heading_before) % 8]})"


def _normal(text: str) -> str:
    """Lower case, single spaces, none just inside the brackets: ``Turn_Direction( Left )`` -> ``turn_direction(left)``."""
    text = re.sub(r"\s+", " ", str(text).strip().lower())
    return text.replace("( ", "(").replace(" )", ")")


@dataclass
class Navigation:
    """Route following; ``legs`` per route, ``size`` of the city grid, ``verify_iter`` (paper: 2)."""

    legs: int = 2
    size: int = 6
    verify_iter: int = 2
    out_of_attempts: float = -1.0
    name: str = "navigation"

    def routes(self, n: int, seed: int = 0) -> list[tuple[City, dict]]:
        rng = random.Random(f"{self.name}-{seed}")
        out = []
        while len(out) < n:
            city = City.generate(rng, self.size)
            route = plan_route(rng, city, self.legs)
            if route is not None:
                out.append((city, route))
        return out

    def tasks(self, n: int, split: str = "id", seed: int = 0) -> list[Task]:
        """Every step of ``n`` routes, in order (a route is ``info["route"]``)."""
        if split not in ("id", "ood"):
            raise ConfigError(f"split {split!r}: one of id, ood")
        out = []
        for r, (city, route) in enumerate(self.routes(n, seed)):
            steps = instructions(route)
            node, heading, done = route["start"], route["heading0"], []
            leg_of = [i for i, leg in enumerate(route["legs"]) for _ in range(leg["blocks"] + 1)] + [len(route["legs"])]
            for k, action in enumerate(route["actions"]):
                leg = leg_of[k]
                first_of_leg = k == 0 or leg_of[k - 1] != leg
                instruction = 2 * leg + (0 if first_of_leg else 1)  # a turn starts each leg; the stop is the last line
                info = {
                    "route": f"{self.name}-{seed}-{r}",
                    "step": k,
                    "steps": len(route["actions"]),
                    "instruction": instruction + 1,
                    "action": action_text(action, heading, split),
                    "rule": split,
                }
                prompt = self.prompt(steps, done, city.seen(node, heading), heading, split)
                out.append(Task(f"{self.name}-{split}-{seed}-{r}-{k}", self.name, split, prompt, info))
                done.append(info["action"])
                if action[0] == "turn":
                    heading = action[1]
                elif action[0] == "forward":
                    node = city.step(node, heading)
        return out

    def prompt(self, steps: list[str], done: list[str], seen: list, heading: int, split: str) -> str:
        turns = "|".join(HEADINGS) if split == "id" else "|".join(RELATIVE[k] for k in (6, 7, 1, 2))
        view = " ".join(f"The {name} is {'on your ' if side in ('left', 'right') else ''}{side}." for name, side in seen)
        return (
            "Follow the route.\n"
            + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
            + f"\nActions so far: {', '.join(done) or 'none'}.\n"
            + f"You face {HEADINGS[heading]}. {view or 'No landmarks here.'}\n"
            + f"Actions: turn_direction(<{turns}>), forward(), stop().\n"
            + 'Answer in JSON: {"instruction": <number of the instruction you follow>, "action": "..."}'
        )

    def check(self, task: Task, answer: str) -> Verdict:
        parsed = json_answer(answer)
        if not parsed or "instruction" not in parsed or "action" not in parsed:
            return Verdict(-1.5, False, 'no JSON answer with "instruction" and "action"')
        try:
            number = int(str(parsed["instruction"]).strip().rstrip("."))
        except ValueError:
            number = None
        if number != task.info["instruction"]:
            return Verdict(-1.5, False, f"wrong observation: you are not following instruction {parsed['instruction']}")
        action = _normal(parsed["action"])
        if action != task.info["action"]:
            allowed = HEADINGS if task.info["rule"] == "id" else list(RELATIVE.values())
            inside = action in ("forward()", "stop()") or action in {f"turn_direction({a})" for a in allowed}
            why = "is not the right action here" if inside else "is not an action you can take"
            return Verdict(-1.0, False, f"{parsed['action']!r} {why}")
        return Verdict(1.0, True)

    def expert(self, task: Task) -> str:
        return json.dumps({"instruction": task.info["instruction"], "action": task.info["action"]})

    def metrics(self, summaries: list[dict], tasks: list[Task]) -> dict:
        """Whole-route success next to the per-step figures."""
        return route_success(summaries, tasks)


def route_success(summaries: list[dict], tasks: list[Task]) -> dict:
    """Share of routes whose every step was solved, from episode summaries of navigation tasks."""
    route_of = {t.id: t.info["route"] for t in tasks}
    routes: dict[str, bool] = {}
    for s in summaries:
        route = route_of[s["task_id"]]
        routes[route] = routes.get(route, True) and s["solved"]
    return {"routes": len(routes), "route_success": sum(routes.values()) / len(routes) if routes else 0.0}
