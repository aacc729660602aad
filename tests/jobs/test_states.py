"""The job state machine: the exact transitions, stage order and task names."""

import pytest

from service.jobs.states import (
    ACTIVE_STATES,
    FINAL_STATES,
    STAGES,
    STATE_OF_STAGE,
    TRANSITIONS,
    InvalidTransition,
    JobState,
    Stage,
    check_transition,
    next_stage,
)

Q, SY, VA, TR, EV = "queued", "synthesizing", "validating", "training", "evaluating"
OK, FAIL, CXL = "succeeded", "failed", "cancelled"


def test_the_transition_table():
    assert {s.value: {t.value for t in targets} for s, targets in TRANSITIONS.items()} == {
        Q: {SY, FAIL, CXL},
        SY: {SY, VA, FAIL, CXL},
        VA: {VA, TR, FAIL, CXL},
        TR: {TR, EV, FAIL, CXL},
        EV: {EV, OK, FAIL, CXL},
        OK: set(),
        FAIL: set(),
        CXL: set(),
    }


def test_stages_run_in_order_and_name_their_tasks():
    assert [s.value for s in STAGES] == [
        "synthesize",
        "validate",
        "finetune",
        "evaluate",
        "promote",
    ]
    assert [next_stage(s) for s in STAGES] == [*STAGES[1:], None]
    assert [s.task_name for s in STAGES] == [
        "training.synthesize",
        "training.validate",
        "training.finetune",
        "training.evaluate",
        "training.promote",
    ]
    assert [STATE_OF_STAGE[s].value for s in STAGES] == [SY, VA, TR, EV, EV]


def test_active_and_final_states_split_every_state():
    assert [s.value for s in ACTIVE_STATES] == [Q, SY, VA, TR, EV]
    assert [s.value for s in FINAL_STATES] == [OK, FAIL, CXL]
    assert set(ACTIVE_STATES) | set(FINAL_STATES) == set(JobState)


@pytest.mark.parametrize("state", [OK, FAIL, CXL])
@pytest.mark.parametrize("target", [s.value for s in JobState])
def test_a_final_state_never_changes(state, target):
    with pytest.raises(InvalidTransition, match=f"a {state} job cannot become {target}"):
        check_transition(state, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [(Q, VA), (Q, OK), (SY, TR), (TR, SY), (EV, TR), (VA, OK), (SY, Q)],
)
def test_skipping_or_going_back_is_refused(current, target):
    with pytest.raises(InvalidTransition):
        check_transition(current, target)


def test_check_transition_answers_the_enum_for_plain_strings():
    assert check_transition("training", "evaluating") is JobState.EVALUATING
    assert check_transition("evaluating", "cancelled") is JobState.CANCELLED
    assert Stage("finetune") is Stage.FINETUNE
