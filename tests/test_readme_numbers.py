"""The README's numbers that hold on every machine, measured again: a drift in the code or in the
README fails here. (The others, from chaotic or CPU-dependent runs, say which machine measured them.)

* `naive2d`: the 2-D paths, exact arithmetic on a smooth function;
* `moons`: the course's protocol, the material's table to the last point (its run is
  `tests/experiments/test_protocol.py`'s; here the README's row is read and checked against it).
"""

import pathlib
import re

import pytest

from experiments import runner
from experiments.spec import config

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()

pytestmark = pytest.mark.slow


def row(batch):
    match = re.search(rf"^\| `{batch}` \|.*$", README, flags=re.M)
    assert match, f"the README has no row for the {batch} batch"
    return match.group(0)


def test_naive2d_final_values_are_the_readmes(tmp_path):
    text = row("naive2d")
    stated = dict(re.findall(r"(SGD|Momentum|AdaGrad|RMSProp|Adam) ([0-9.]+)", text.split("final f:")[1]
                             .split("Rotated")[0]))
    result = runner.run_batch(config.load_batch("naive2d"), tmp_path, progress=False)
    first = {r.run.optimizer["name"]: r.metrics["loss"] for r in result.results
             if r.run.problem["name"] == "material"}
    names = {"SGD": "sgd", "Momentum": "momentum", "AdaGrad": "adagrad", "RMSProp": "rmsprop", "Adam": "adam"}
    assert len(stated) == 5
    for label, value in stated.items():
        digits = len(value.replace("0.", "").lstrip("0"))  # the significant digits the README gives
        assert f"{first[names[label]]:.{digits}g}" == f"{float(value):.{digits}g}", label


def test_the_moons_row_states_the_reproduced_table():
    stated = re.findall(r"\*\*([0-9.]+)\*\*", row("moons"))
    assert stated == ["0.7967", "0.7967", "0.9400"]
    assert re.findall(r"0\.\d{4}", config.load_batch("moons").expected)[:3] == stated  # the batch's own header
