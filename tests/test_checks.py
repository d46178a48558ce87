"""The hidden checks, run directly (without nbgrader) on the reference
solution and on every mutant: fast, and they show which message a mutant
gets. The same mutants go through the real grader in test_grading.py.

The checks are called exactly as the hidden blocks of the solution
notebooks call them: each block is executed in a namespace holding the
solution cells (or a mutant's). Blocks that need the applied part's trained
model are left to the grading test.
"""

import numpy as np
import pytest

from alternatives import ALTERNATIVES
from autograder import course
from autograder.checks import CheckFailure
from hidden import load, run, unit_cells
from mutants import MUTANTS
from submissions import solution_sources

CASES = [
    (name, grade_id)
    for name in course.assignments()
    for grade_id in unit_cells(name)
]


@pytest.mark.parametrize("name, grade_id", CASES)
def test_reference_solution_passes(name, grade_id):
    run(name, grade_id, load(name))


# Mutants of a cell whose check needs the trained model of the applied part
# go through the real grader only (test_grading.py).
MUTANT_CASES = [
    (name, mutant)
    for name in MUTANTS
    for mutant in MUTANTS[name]
    if mutant[4] in unit_cells(name)
]


@pytest.mark.parametrize(
    "name, mutant", MUTANT_CASES, ids=[f"{n}-{m[0]}" for n, m in MUTANT_CASES]
)
def test_mutant_fails_with_a_diagnosis(name, mutant):
    _, grade_id, old, new, test_cell, words = mutant
    source = solution_sources(name)[grade_id]
    assert old in source, f"mutant does not apply: {old!r}"
    namespace = load(name, {grade_id: source.replace(old, new)})
    with pytest.raises(CheckFailure) as error:
        run(name, test_cell, namespace)
    assert words in str(error.value)


def test_every_assignment_has_at_least_eight_mutants():
    for name in course.assignments():
        assert len(MUTANTS.get(name, [])) >= 8, name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow)
        if name == "self_attention"  # about 7 s
        else name
        for name in sorted(ALTERNATIVES)
    ],
)
def test_alternative_correct_implementations_pass(name):
    if name not in course.assignments():
        pytest.skip(f"no {name} assignment yet")
    namespace = load(name, ALTERNATIVES[name])
    for grade_id in unit_cells(name):
        run(name, grade_id, namespace)


def test_numpy_is_available_to_blocks():
    assert "np" in load("rnn") and np.__name__ == "numpy"
