"""Every optimizer of the table minimises a quadratic and Rosenbrock's function."""

import pytest
from optimizer_table import CASES, IDS
from problems import PROBLEMS, distance, minimise

# Distance to the minimum after the step budget. Start points are 3.6 and 2.2
# away; the thresholds sit well below that for every optimizer, and the
# objective must fall by at least a factor 1000.
TOLERANCE = {"quadratic": 1e-2, "rosenbrock": 0.15}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_converges(case, problem):
    objective, start, minimum, steps = PROBLEMS[problem]
    lr = case.quadratic_lr if problem == "quadratic" else case.rosenbrock_lr
    path = minimise(case.make(learning_rate=lr, **case.problem_kwargs), objective, start, steps)
    assert distance(path[-1], minimum) < TOLERANCE[problem]
    assert float(objective(path[-1])) < 1e-3 * float(objective(path[0]))
