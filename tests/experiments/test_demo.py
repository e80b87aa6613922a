"""`python -m experiments demo`: real TensorBoard data, read back with TensorBoard's reader."""

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments import __main__ as cli
from experiments import demo
from experiments.objectives2d import OBJECTIVES, minimise


def read_tensors(run_dir):
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    return {
        tag: [(e.step, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("logs")
    out, paths = demo.run(logdir, steps=30)
    return logdir, out, paths


def test_runs_tags_and_values(demo_output):
    logdir, out, paths = demo_output
    assert out == logdir / "demo"
    assert {p.name for p in out.iterdir() if p.is_dir()} == {*demo.OPTIMIZERS, "figures"}
    objective, start, _ = OBJECTIVES["material"]
    for name, make in demo.OPTIMIZERS.items():
        tensors = read_tensors(out / name)
        assert set(tensors) == {"loss", "x", "y"}
        expected = minimise(make(), objective, start, 30)
        for tag, column in (("x", 0), ("y", 1)):
            steps, values = zip(*tensors[tag])
            assert list(steps) == list(range(31))
            np.testing.assert_allclose(values, expected[:, column], rtol=1e-6)
        _, losses = zip(*tensors["loss"])
        np.testing.assert_allclose(losses, [objective(p) for p in expected], rtol=1e-6)
        assert losses[-1] < losses[0]


def test_figure_as_png_and_tensorboard_image(demo_output):
    _, out, _ = demo_output
    png = (out / "paths.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    images = read_tensors(out / "figures")
    assert set(images) == {"paths"}
    (step, value), = images["paths"]
    assert step == 0
    width, height = int(value[0]), int(value[1])  # image summaries store [w, h, png...]
    assert (width, height) == (1300, 700)


def test_cli_prints_summary_and_where_output_went(tmp_path, capsys):
    assert cli.main(["demo", "--logdir", str(tmp_path), "--steps", "5"]) == 0
    printed = capsys.readouterr().out
    for name in demo.OPTIMIZERS:
        assert name in printed
    assert f"tensorboard --logdir {tmp_path / 'demo'}" in printed


@pytest.mark.parametrize("args,message", [
    (["demo", "--steps", "0"], "argument --steps: must be a positive integer, received '0'"),
    (["demo", "--steps", "ten"], "argument --steps: must be a positive integer, received 'ten'"),
    (["demo", "--logdir", "{file}"], "exists and is not a directory"),
])
def test_cli_rejects_bad_input_before_running(tmp_path, capsys, args, message):
    file = tmp_path / "a_file"
    file.write_text("")
    args = [a.replace("{file}", str(file)) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
