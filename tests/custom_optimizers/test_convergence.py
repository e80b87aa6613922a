"""Every optimizer of the table minimises a quadratic and Rosenbrock's function."""

import numpy as np
import pytest
from backends import tensorflow_only
from optimizer_table import CASES, IDS

from experiments.workloads.objectives2d import OBJECTIVES, minimise

# experiments/ is TensorFlow code: `minimise` steps with tf.GradientTape inside a tf.function.
pytestmark = [
    pytest.mark.all_backends,
    tensorflow_only("experiments.workloads.objectives2d.minimise runs on tf.GradientTape and tf.function"),
]


rosenbrock = OBJECTIVES["rosenbrock"]


def quadratic(w):
    return 0.5 * (w[0] ** 2 + 10.0 * w[1] ** 2)


PROBLEMS = {
    # name: (objective, start, minimum, steps)
    "quadratic": (quadratic, (3.0, -2.0), (0.0, 0.0), 500),
    "rosenbrock": (rosenbrock.f, rosenbrock.start, rosenbrock.minimum, 3000),
}


def distance(point, target):
    return float(np.linalg.norm(np.asarray(point) - np.asarray(target)))

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
