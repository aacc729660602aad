"""A training job's state machine: its states, its stages, and which state may follow which.

A job runs five stages in order; while a stage runs (or waits to be run again after a crash)
the job is in that stage's state. Every change of `Job.state` goes through `check_transition`,
so the answer to "what happens when X arrives during Y" is in this module:

- cancel, in any active state: the job ends `cancelled` (at once when nobody holds its lease,
  otherwise at the running stage's next step);
- a stage that raises, or keeps dying past the attempt limit: `failed`;
- a stage that ends: the next stage's state, or `succeeded` after the last;
- a final state never changes again: late messages and duplicate deliveries find nothing to do.
"""

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    SYNTHESIZING = "synthesizing"
    VALIDATING = "validating"
    TRAINING = "training"
    EVALUATING = "evaluating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    """The Celery task of each stage is named `training.<stage>`."""

    SYNTHESIZE = "synthesize"
    VALIDATE = "validate"
    FINETUNE = "finetune"
    EVALUATE = "evaluate"
    PROMOTE = "promote"

    @property
    def task_name(self) -> str:
        return f"training.{self.value}"


STAGES: tuple[Stage, ...] = tuple(Stage)
STATE_OF_STAGE: dict[Stage, JobState] = {
    Stage.SYNTHESIZE: JobState.SYNTHESIZING,
    Stage.VALIDATE: JobState.VALIDATING,
    Stage.FINETUNE: JobState.TRAINING,
    Stage.EVALUATE: JobState.EVALUATING,
    Stage.PROMOTE: JobState.EVALUATING,
}
FINAL_STATES: tuple[JobState, ...] = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
ACTIVE_STATES: tuple[JobState, ...] = tuple(s for s in JobState if s not in FINAL_STATES)


def next_stage(stage: Stage) -> Stage | None:
    """The stage after `stage`, None after the last."""
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def _allowed() -> dict[JobState, frozenset[JobState]]:
    ends = {JobState.FAILED, JobState.CANCELLED}
    allowed: dict[JobState, set[JobState]] = {state: set() for state in JobState}
    allowed[JobState.QUEUED] |= {STATE_OF_STAGE[STAGES[0]], *ends}
    for stage in STAGES:
        state = STATE_OF_STAGE[stage]
        following = next_stage(stage)
        # A stage's state again: the next attempt of a stage whose worker died.
        allowed[state] |= {state, *ends}
        allowed[state].add(STATE_OF_STAGE[following] if following else JobState.SUCCEEDED)
    return {state: frozenset(targets) for state, targets in allowed.items()}


TRANSITIONS: dict[JobState, frozenset[JobState]] = _allowed()


class InvalidTransition(ValueError):
    """A change of state the machine does not allow (a bug in the caller, never user input)."""


def check_transition(current: str, target: str) -> JobState:
    """`target` as a JobState if a job in `current` may move to it; InvalidTransition if not."""
    source, goal = JobState(current), JobState(target)
    if goal not in TRANSITIONS[source]:
        raise InvalidTransition(f"a {source} job cannot become {goal}")
    return goal
