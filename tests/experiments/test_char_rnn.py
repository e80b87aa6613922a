"""DeepOBS's character-level language model (`char_rnn`) on `text`: the corpus cut as DeepOBS
cuts Tolstoi, the LSTM's state carried from batch to batch as a single long sequence would carry
it, and the model trained by the compiled engine as a group equal to its runs alone."""

import json

import keras
import numpy as np
import pytest
from tb_events import assert_same_run, plugin_of, tensors

from experiments import runner
from experiments.plan import planning
from experiments.report import overview, verdict
from experiments.spec import config
from experiments.spec.validation import ConfigError
from experiments.workloads import models, problems


def test_a_text_is_cut_into_streams_as_deepobs_cuts_tolstoi():
    """Batch i (rows i * streams .. + streams) holds each stream's i-th piece: the text laid out
    as `streams` contiguous rows, split into pieces of `seq_length`; the targets are the next
    characters; what does not fill a whole batch (with one character to spare) is dropped."""
    ids = np.arange(3 * 5 * 4 + 3)  # 5 batches of 3 streams x 4 characters, and 3 over
    x, y = problems.cut_streams(ids, streams=3, seq_length=4)
    assert x.shape == y.shape == (15, 4)
    streams = ids[:60].reshape(3, 20)  # stream j: a fifth... of the text each, contiguous
    for i in range(5):
        for j in range(3):
            np.testing.assert_array_equal(x[i * 3 + j], streams[j, i * 4:(i + 1) * 4])
    np.testing.assert_array_equal(y, x + 1)
    with pytest.raises(ConfigError, match="holds 12 characters, too few for one batch of 3 streams x 4"):
        problems.cut_streams(np.arange(12), 3, 4)


def write_text(path, text="the quick brown fox jumps over the lazy dog. " * 40):
    path.write_text(text, encoding="utf-8")
    return text


def test_a_text_file_becomes_ids_of_its_characters_in_three_contiguous_parts(tmp_path):
    text = write_text(tmp_path / "t.txt")
    data = problems.text(path=str(tmp_path / "t.txt"), seq_length=10, streams=4, validation=0.2, test=0.1)
    assert data.vocabulary == "".join(sorted(set(text))) and data.num_classes == len(data.vocabulary)
    decode = lambda rows: "".join(data.vocabulary[i] for i in rows.ravel())  # noqa: E731
    first = decode(data.x_train[::4])  # stream 0, piece by piece: the text's beginning
    assert text.startswith(first)
    assert decode(data.x_test[:1]) in text[round(len(text) * 0.9):]
    assert len(data.x_train) % 4 == 0 and data.x_train.shape[1] == 10
    assert data.fallback_reason is None and str(tmp_path / "t.txt") in data.source


def test_the_corpus_that_ships_is_python_s_reference_manual_and_says_so():
    data = problems.load("text")
    assert data.source.startswith("Python 3.11.7's reference manual (pydoc_data.topics, PSF License")
    assert "465126 characters, 103 distinct" in data.source
    assert "its runs read the corpus that ships with the suite" in data.fallback_reason
    assert (problems.CORPUS.parent / "PYTHON_LICENSE.txt").read_text().startswith("A. HISTORY OF THE SOFTWARE")
    assert data.x_train.shape[1] == 50 and len(data.x_train) % 50 == 0


@pytest.mark.parametrize("arguments, message", [
    ({"path": "/nonexistent/t.txt"}, "`text.path` cannot be read: No such file or directory"),
    ({"path": "BINARY"}, "`text.path` is not UTF-8 text"),
    ({"seq_length": 0}, "`text.seq_length` must be"),
    ({"validation": 0.6, "test": 0.4}, "validation \\+ test must be below 1"),
])
def test_bad_text_arguments_are_refused_by_name(tmp_path, arguments, message):
    if arguments.get("path") == "BINARY":
        (tmp_path / "b.bin").write_bytes(b"\xff\xfe\x00abc")
        arguments = {"path": str(tmp_path / "b.bin")}
    with pytest.raises(ConfigError, match=message):
        problems.load({"name": "text", **arguments})


def test_char_rnn_has_deepobs_layers_and_parameter_count():
    """Embedding V x 128, two LSTMs of 128 (4 gates over [input, state] and a bias each),
    softmax 128 -> V: 284,499 parameters for War and Peace's 83 characters."""
    vocabulary = "".join(chr(33 + i) for i in range(83))
    data = problems.Text("t", np.zeros((100, 50), np.int32), np.zeros((100, 50), np.int32), np.zeros((0, 50)),
                         np.zeros((0, 50)), np.zeros((0, 50)), np.zeros((0, 50)), 83, "test",
                         vocabulary=vocabulary, streams=50, seq_length=50)
    lstm = 4 * 128 * (128 + 128) + 4 * 128
    assert models.count_parameters("char_rnn", data) == 83 * 128 + 2 * lstm + 128 * 83 + 83 == 284_499
    model = models.build("char_rnn", data)
    kernel = model.get_layer("lstm").lstms[0].cell.kernel.numpy()
    assert np.abs(kernel).max() <= np.sqrt(6 / (128 + 128 + 512))  # Glorot over [input, state] and 4 gates
    forget = model.get_layer("lstm").lstms[0].cell.bias.numpy()[128:256]
    np.testing.assert_array_equal(forget, 1.0)
    with pytest.raises(ConfigError, match="model 'char_rnn' needs a text problem"):
        models.build("char_rnn", problems.load("digits"))


def test_the_state_is_carried_from_batch_to_batch_and_reset_each_epoch():
    """Without dropout, two batches of a stream in training give the outputs a plain LSTM stack
    gives on their concatenation (the second batch goes on from the first's state); the third
    (a new epoch: 2 batches an epoch) starts from zero again; evaluation always starts from zero."""
    keras.utils.set_random_seed(0)
    layer = models.CarriedLSTM(units=5, layers=2, rate=0.0, streams=3, batches=2, features=4)
    x = np.random.default_rng(0).normal(size=(3, 8, 4)).astype(np.float32)
    first, second = x[:, :4], x[:, 4:]
    out1, out2 = layer(first, training=True).numpy(), layer(second, training=True).numpy()
    inputs = keras.Input((None, 4))
    z = inputs
    for lstm in layer.lstms:
        plain = keras.layers.LSTM(5, return_sequences=True)
        z = plain(z)
        plain.set_weights(lstm.get_weights())
    reference = keras.Model(inputs, z)(x).numpy()
    np.testing.assert_allclose(np.concatenate([out1, out2], axis=1), reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(first, training=True).numpy(), out1, rtol=1e-6)  # epoch 2: from zero
    np.testing.assert_allclose(layer(second, training=False).numpy(), keras.Model(inputs, z)(second).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert int(layer.position.numpy()) == 3


def text_batch(path, runs, name="c", **defaults):
    return config.parse_batch({"batch": {"name": name}, "defaults": {
        "problem": {"name": "text", "path": str(path), "seq_length": 10, "streams": 4, "validation": 0.15,
                    "test": 0.15},
        "model": {"name": "char_rnn", "units": 16}, "batch_size": 4, "epochs": 3, "order": "sequential",
        "log": {"every_steps": 1, "every_epochs": 1, "histograms": False}, **defaults}, "runs": runs})


CHAR_RUNS = [{"optimizer": {"name": "sgd", "learning_rate": 0.5}, "name": "sgd"},
             {"optimizer": {"name": "adam", "learning_rate": 0.01}, "name": "adam"}]


def test_a_text_s_runs_need_its_streams_as_batch_size_in_sequential_order(tmp_path):
    write_text(tmp_path / "t.txt")
    for change, received in (({"batch_size": 8}, "batch_size=8, order='sequential'"),
                             ({"order": "stateless"}, "batch_size=4, order='stateless'")):
        with pytest.raises(ConfigError, match="problem 'text' is cut into 4 streams whose batches continue each other "
                                              "\\(its `streams`\\): its runs need batch_size = 4 and order = "
                                              f"\"sequential\". Received: {received}"):
            planning.prepare(text_batch(tmp_path / "t.txt", CHAR_RUNS, **change))


def test_char_rnn_trains_in_the_compiled_engine_and_writes_text(tmp_path):
    """Every run ok, the loss falling, accuracy per character, perplexity exp(loss) in its
    metrics and the summary table, samples of its text as TensorBoard Text at every epoch."""
    write_text(tmp_path / "t.txt")
    result = runner.run_batch(text_batch(tmp_path / "t.txt", CHAR_RUNS), tmp_path / "logs", progress=False)
    for run in result.results:
        assert run.status == "ok", run.error
        losses = run.curves["step_loss"]
        assert np.mean(losses[-5:]) < np.mean(losses[:5])
        assert 0 <= run.metrics["test_accuracy"] <= 1
        assert run.metrics["test_perplexity"] == pytest.approx(np.exp(run.metrics["test_loss"]))
        samples = tensors(run.directory)["samples"]
        assert [step for step, _ in samples] == [0, 1, 2] and plugin_of(run.directory, "samples") == "text"
        written = samples[-1][1].item().decode()
        assert written.lstrip().startswith("**") and written.count("**") == 2 and len(written) > 200
        characters = 28  # the fox's sentence: 26 letters, the space and the full stop
        assert json.loads((run.directory / "config.json").read_text())["model_parameters"] == \
            characters * 16 + 2 * (4 * 16 * 32 + 4 * 16) + 16 * characters + characters
    assert "test ppl" in overview.summary_table(result).splitlines()[0]
    content, _ = verdict.write(result.directory, title="c")
    report = (result.directory / "report.md").read_text()
    assert "| run | train loss | validation loss | test loss | validation accuracy | test accuracy | " \
           "validation perplexity | test perplexity |" in report
    sgd = result.results[0].metrics
    assert f"| sgd | {sgd['train_loss']:.4g} |" in report and f"| {sgd['test_perplexity']:.4g} |" in report


@pytest.mark.group_equality
def test_a_char_rnn_group_equals_its_runs_alone(tmp_path):
    """The carried state and dropout are each member's own: a member of a group computes what
    it computes alone, bit for bit."""
    write_text(tmp_path / "t.txt")
    together = runner.run_batch(text_batch(tmp_path / "t.txt", CHAR_RUNS), tmp_path / "together", progress=False)
    for i, run in enumerate(CHAR_RUNS):
        alone = runner.run_batch(text_batch(tmp_path / "t.txt", [run], name=f"a{i}"), tmp_path / "alone",
                                 progress=False).results[0]
        assert together.results[i].status == alone.status == "ok"
        assert_same_run(together.results[i], alone)
