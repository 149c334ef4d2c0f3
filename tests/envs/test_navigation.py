"""Text navigation: the city, the route planner, the per-step verifier and route success."""

import json
import random

import pytest

from tdrl.envs import Episode, Navigation, make_env
from tdrl.envs.navigation import HEADINGS, RELATIVE, City, instructions, plan_route, route_success


def test_planned_routes_walk_real_streets_and_end_where_the_instructions_say():
    rng = random.Random(0)
    checked = 0
    for _ in range(60):
        city = City.generate(rng)
        route = plan_route(rng, city, legs=3)
        if route is None:
            continue
        checked += 1
        node, heading = route["start"], route["heading0"]
        actions = iter(route["actions"])
        for leg in route["legs"]:
            assert next(actions) == ("turn", leg["heading"])
            assert (leg["heading"] - heading) % 8 == leg["turn"] and leg["turn"] in RELATIVE
            heading = leg["heading"]
            for _ in range(leg["blocks"]):
                assert next(actions) == ("forward", None)
                node = city.step(node, heading)
                assert node is not None  # a street goes that way
            assert (leg["landmark"], leg["side"]) in city.seen(node, heading)
        assert next(actions) == ("stop", None)
        assert next(actions, None) is None
    assert checked > 40


def test_every_expert_action_is_right_in_both_action_spaces():
    env = Navigation()
    for split in ("id", "ood"):
        tasks = env.tasks(25, split, seed=2)
        assert len({t.id for t in tasks}) == len(tasks) > 25 * 4
        for t in tasks:
            verdict = env.check(t, env.expert(t))
            assert verdict.correct and verdict.reward == 1.0
    # the same seed gives the same routes: ID and OOD differ only in how turns are written
    id_tasks, ood_tasks = env.tasks(10, "id", seed=2), env.tasks(10, "ood", seed=2)
    assert [t.info["route"] for t in id_tasks] == [t.info["route"] for t in ood_tasks]
    for a, b in zip(id_tasks, ood_tasks):
        ia, ib = a.info["action"], b.info["action"]
        if ia.startswith("turn_direction"):
            assert ia[15:-1] in HEADINGS and ib[15:-1] in RELATIVE.values()
        else:
            assert ia == ib


def test_turns_agree_with_the_headings_the_next_observation_reports():
    env = Navigation(legs=3)
    for split in ("id", "ood"):
        tasks = env.tasks(20, split, seed=5)
        for before, after in zip(tasks, tasks[1:]):
            if before.info["route"] != after.info["route"] or not before.info["action"].startswith("turn"):
                continue
            facing_before = _facing(before.prompt)
            facing_after = _facing(after.prompt)
            turn = before.info["action"][15:-1]
            if split == "id":
                assert facing_after == turn
            else:
                steps = (HEADINGS.index(facing_after) - HEADINGS.index(facing_before)) % 8
                assert RELATIVE[steps] == turn


def _facing(prompt):
    line = next(x for x in prompt.splitlines() if x.startswith("You face "))
    return line[len("You face ") :].split(".")[0]


def test_prompts_state_the_action_space_and_the_history():
    env = Navigation()
    id_task, ood_task = env.tasks(1, "id")[1], env.tasks(1, "ood")[1]
    assert "turn_direction(<north|north-east|" in id_task.prompt and "slightly left" not in id_task.prompt.split("Actions:")[1]
    assert "turn_direction(<left|slightly left|slightly right|right>)" in ood_task.prompt
    assert f"Actions so far: {env.tasks(1, 'id')[0].info['action']}." in id_task.prompt
    route_lines = [x for x in id_task.prompt.splitlines() if x[:1].isdigit()]
    assert route_lines[-1].endswith("Stop.") and len(route_lines) == 2 * env.legs + 1


@pytest.mark.parametrize(
    "answer, reward",
    [
        (None, 1.0),  # the expert's answer
        ("go north", -1.5),  # no JSON
        ('{"action": "forward()"}', -1.5),  # no instruction: nothing to check the observation with
        ("WRONG_INSTRUCTION", -1.5),
        ("WRONG_ACTION", -1.0),
        ("OTHER_SPACE", -1.0),  # an absolute turn where only relative ones exist
    ],
)
def test_rewards_are_as_specified(answer, reward):
    env = Navigation()
    task = env.tasks(3, "ood", seed=1)[0]  # the first step of a route: a turn
    number, action = task.info["instruction"], task.info["action"]
    answers = {
        None: env.expert(task),
        "WRONG_INSTRUCTION": json.dumps({"instruction": number + 1, "action": action}),
        "WRONG_ACTION": json.dumps({"instruction": number, "action": "forward()"}),
        "OTHER_SPACE": json.dumps({"instruction": number, "action": "turn_direction(north)"}),
    }
    verdict = env.check(task, answers.get(answer, answer))
    assert verdict.reward == reward and verdict.correct == (reward == 1.0)
    if answer == "OTHER_SPACE":
        assert "not an action you can take" in verdict.reason


def test_answers_are_read_leniently_where_it_does_not_matter():
    env = Navigation()
    task = env.tasks(1, "id")[1]  # forward
    assert env.check(task, '```json\n{"instruction": "2", "action": " Forward( ) "}\n```').reward == 1.0


def test_out_of_attempts_after_verify_iter_and_route_success():
    env = make_env("navigation", verify_iter=2)
    tasks = env.tasks(2, "id", seed=4)
    wrong = json.dumps({"instruction": 99, "action": "stop()"})
    ep = Episode(env, tasks[0])
    assert "wrong observation" in ep.step(wrong)
    assert ep.step(wrong) is None and ep.done and not ep.solved
    assert ep.ret == -1.5 - 1.5 - 1.0

    summaries = []
    for i, t in enumerate(tasks):
        e = Episode(env, t)
        if i != 3:  # one step of the first route fails
            e.step(env.expert(t))
        else:
            e.step(wrong)
            e.step(wrong)
        summaries.append(e.summary())
    assert route_success(summaries, tasks) == {"routes": 2, "route_success": 0.5}
    assert instructions({"legs": []}) == ["Stop."]
