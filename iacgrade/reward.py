"""Reward adapters for training loops, on one module-level Grader started on first use.

- ``compute_score(data_source, solution_str, ground_truth, extra_info=None, return_dict=False)``:
  verl's custom reward function signature.
- ``reward_fn(completions, prompts=None, **kw)``: TRL's reward function shape, one float per
  completion.

The reward is the one every result carries (``result.reward``, also a column of results.csv): the
answer's total / 100, in [0, 1], with a floor the rubric's ``reward`` section sets (default 0.0)
for an answer with no code, one that could not be read or graded, and one whose build failed or
timed out, so a policy cannot collect the categories it can still pass by writing code that never
builds. An answer the grader's own infrastructure failed on (``status: "infra_error"``: a sandbox
worker that died twice under it, say) says nothing about the answer: the adapters grade it once
more, and if it fails again ``reward_fn`` gives ``None`` for it (TRL leaves a None reward out of
the sample's sum), ``compute_score`` gives the floor with ``infra_error: 1.0`` in its dict (verl has
no way to leave a sample out: mask it with that key), and ``/get_reward`` lists it in
``infra_error``. ``ground_truth`` is not used for the score (a reference
answer only feeds the comparison section of a report). Settings come from environment variables
read when the Grader starts: ``IACGRADE_REWARD_WORKERS`` (default 2), ``IACGRADE_REWARD_SYNTH``
(``0`` grades the source only). ``close()`` stops it; the next reward starts a new one.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iacgrade.grader import Grader
    from iacgrade.graders.models import SampleResult

__all__ = ["FLOOR", "close", "compute_score", "grade_for_reward", "reward_fn", "score_of"]

FLOOR = 0.0
_grader: Grader | None = None
_lock = threading.Lock()


def _shared_grader() -> Grader:
    global _grader
    with _lock:
        if _grader is None:
            from iacgrade.grader import Grader

            grader = Grader(
                workers=int(os.environ.get("IACGRADE_REWARD_WORKERS", "2")),
                synth=os.environ.get("IACGRADE_REWARD_SYNTH", "1") != "0",
            )
            grader.start()
            atexit.register(grader.close)
            _grader = grader
        return _grader


def close() -> None:
    """Stop the shared Grader (its workers, its scratch folder); the next reward starts a new one,
    with the settings the environment then holds."""
    global _grader
    with _lock:
        grader, _grader = _grader, None
    if grader is not None:
        grader.close()


def score_of(result: SampleResult) -> float:
    """The reward the pipeline recorded for the result by its rubric's rule (``FLOOR`` if none)."""
    return result.reward if result.reward is not None else FLOOR


def _prompt_of(extra_info: Any) -> str | None:
    if isinstance(extra_info, dict):
        for key in ("prompt", "question"):
            if isinstance(extra_info.get(key), str):
                return str(extra_info[key])
    return None


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    return_dict: bool = False,
) -> float | dict[str, Any]:
    """verl's custom reward: the answer's reward in [0, 1]; with ``return_dict``, also its category
    scores in [0, 1] (0.0 when a category could not be assessed) and whether it built."""
    grader = _shared_grader()
    (result,) = grade_for_reward(grader, [{"response": solution_str, "prompt": _prompt_of(extra_info)}])
    score = score_of(result)
    if not return_dict:
        return score
    from iacgrade.graders.models import CATEGORIES

    categories = {c: (result.scores.get(c) or 0.0) / 100.0 for c in CATEGORIES}
    return {
        "score": score,
        **categories,
        "synth_ok": 1.0 if result.synth.status == "ok" else 0.0,
        "infra_error": 1.0 if result.status == "infra_error" else 0.0,
    }


def reward_fn(completions: list[Any], prompts: list[Any] | None = None, **kw: Any) -> list[float | None]:
    """TRL's reward function: one reward per completion (a string, or a chat message list whose
    last assistant turn is the answer), graded in parallel on the shared Grader."""
    rows = []
    for i, completion in enumerate(completions):
        prompt = prompts[i] if prompts is not None and i < len(prompts) else None
        rows.append({"response": _text(completion), "prompt": _text(prompt)})
    results = grade_for_reward(_shared_grader(), rows)
    return [None if r.status == "infra_error" else score_of(r) for r in results]


def grade_for_reward(grader: Grader, rows: list[dict[str, Any]]) -> list[SampleResult]:
    """``rows`` graded on ``grader`` in order, each answer the infrastructure failed on graded once
    more (a worker that died under it is replaced by then): what every reward adapter sends back."""
    results = list(grader.grade_many(rows))
    again = [i for i, r in enumerate(results) if r.status == "infra_error"]
    for i, result in zip(again, grader.grade_many([rows[i] for i in again]), strict=True):
        results[i] = result
    return results


def _text(value: Any) -> Any:
    """A chat message list as text: its last assistant turn, else the last message's content."""
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        turns = [m for m in value if m.get("role") == "assistant"] or value
        return turns[-1].get("content")
    return value
