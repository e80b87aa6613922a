"""Each callback fits into tmp_path; its event files are read back and every
tag and value is compared with an independent computation."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from tb_events import event_files, plugin_of, scalars, tensors

import callbacks as cb
import custom_optimizers as co
from experiments.workloads import models, problems


@pytest.fixture
def data():
    d = problems.load({"name": "digits", "validation": 0.2, "test": 0.0})
    d.x_train, d.y_train = d.x_train[:240], d.y_train[:240]
    return d


def build(data, hidden=(16,)):
    keras.utils.set_random_seed(1)
    return models.build({"name": "mlp", "hidden": list(hidden)}, data)


def loss_and_grads(model, x, y):
    """The full-batch loss and gradients at the model's current weights, by hand."""
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        loss = tf.reduce_mean(loss)
    return float(loss), tape.gradient(loss, model.trainable_weights)


def test_scalars_per_epoch_exact_tags_and_values(tmp_path, data):
    model = build(data)
    schedule = co.ExponentialDecay(0.1, decay_rate=0.5, steps_per_epoch=3)
    model.compile(co.SGD(schedule), models.loss_for(model), metrics=["accuracy"])
    history = model.fit(data.x_train, data.y_train, batch_size=80, epochs=4, verbose=0,
                        validation_data=(data.x_val, data.y_val),
                        callbacks=[cb.ScalarLogger(tmp_path)])
    train, validation = scalars(tmp_path / "train"), scalars(tmp_path / "validation")
    assert set(train) == {"epoch_loss", "epoch_accuracy", "epoch_gradient_norm", "epoch_learning_rate"}
    assert set(validation) == {"epoch_loss", "epoch_accuracy"}
    for tag in ("loss", "accuracy", "gradient_norm"):
        steps, values = train[f"epoch_{tag}"]
        assert steps == [0, 1, 2, 3]
        np.testing.assert_allclose(values, history.history[tag], rtol=1e-6)
    for tag in ("loss", "accuracy"):
        np.testing.assert_allclose(validation[f"epoch_{tag}"][1], history.history[f"val_{tag}"], rtol=1e-6)
    # The rate used in epoch e is 0.1 * 0.5^e (3 steps per epoch, first step of the epoch).
    np.testing.assert_allclose(train["epoch_learning_rate"][1], [0.1, 0.05, 0.025, 0.0125], rtol=1e-6)
    # Read after an epoch's last step (as Keras's TensorBoard callback does),
    # the optimizer already reports the next epoch's rate.
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1 * 0.5**4, rel=1e-6)
    assert all(plugin_of(tmp_path / "train", t) == "scalars" for t in train)


def test_scalars_per_step_are_this_steps_values(tmp_path, data):
    # Full batch without shuffling: every step sees the same data, so each
    # step's loss and gradient norm can be recomputed from the weights.
    model = build(data)
    schedule = co.InverseTimeDecay(0.2, decay_rate=1.0, steps_per_epoch=1)
    model.compile(co.SGD(schedule), models.loss_for(model), metrics=["accuracy"])
    reference = build(data)
    expected_loss, expected_norm = [], []
    for step in range(6):
        loss, grads = loss_and_grads(reference, data.x_train, data.y_train)
        expected_loss.append(loss)
        expected_norm.append(float(tf.linalg.global_norm(grads)))
        for w, g in zip(reference.trainable_weights, grads):
            w.assign(w - float(schedule(step)) * g)
    model.fit(data.x_train, data.y_train, batch_size=len(data.x_train), epochs=6, shuffle=False,
              verbose=0, callbacks=[cb.ScalarLogger(tmp_path, every_steps=2)])
    train = scalars(tmp_path / "train")
    assert {t for t in train if t.startswith("batch_")} == {
        "batch_loss", "batch_accuracy", "batch_gradient_norm", "batch_learning_rate"}
    steps, rates = train["batch_learning_rate"]
    assert steps == [0, 2, 4]
    np.testing.assert_allclose(rates, [0.2 / (1 + s) for s in steps], rtol=1e-6)
    np.testing.assert_allclose(train["batch_loss"][1], expected_loss[::2], rtol=1e-5)
    np.testing.assert_allclose(train["batch_gradient_norm"][1], expected_norm[::2], rtol=1e-5)


def test_update_ratio_is_one_steps_update_over_weights(tmp_path, data):
    model = build(data, hidden=(16, 8))
    model.compile(co.SGD(0.3), models.loss_for(model))
    reference = build(data, hidden=(16, 8))
    _, grads = loss_and_grads(reference, data.x_train, data.y_train)
    by_path = {w.path: g for w, g in zip(reference.trainable_weights, grads)}
    expected = {}
    for layer in reference.layers:
        if layer.trainable_weights:
            g = [by_path[w.path] for w in layer.trainable_weights]
            update = 0.3 * float(tf.linalg.global_norm(g))
            expected[layer.name] = update / float(tf.linalg.global_norm(layer.trainable_weights))
    model.fit(data.x_train, data.y_train, batch_size=len(data.x_train), epochs=3, shuffle=False,
              verbose=0, callbacks=[cb.UpdateRatioLogger(tmp_path, every_epochs=2)])
    train = scalars(tmp_path / "train")
    assert set(train) == {f"update_ratio/{name}" for name in ("dense_1", "dense_2", "output")}
    for name, value in expected.items():
        steps, values = train[f"update_ratio/{name}"]
        assert steps == [0, 2]
        assert values[0] == pytest.approx(value, rel=1e-5)
        assert 0 < values[1] < 1


@pytest.mark.parametrize("data", [
    np.random.default_rng(0).normal(size=(100, 100)).astype(np.float32),
    np.random.default_rng(1).uniform(-1e-30, 1e-30, size=257),  # a tiny range
    np.random.default_rng(2).integers(-5, 5, size=(7, 9)),
    np.array([3.0, 3.0, 3.0]), np.array([]), np.array([1.0, np.nan, 2.0]), np.array([0.0, np.inf]),
    np.linspace(-1, 1, 31),  # values on bucket edges
], ids=["normal", "tiny", "ints", "constant", "empty", "nan", "inf", "edges"])
@pytest.mark.parametrize("buckets", [30, 1, 7])
def test_histogram_protos_equal_tensorboards_own(data, buckets):
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb

    from callbacks.histograms import histogram_pb as ours

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ours says nothing, even on NaN and inf (a diverging run's)
        mine = ours("t", data, buckets).SerializeToString()
    with np.errstate(all="ignore"):  # TensorBoard's own path for NaN and inf data warns
        assert mine == histogram_pb("t", data, buckets).SerializeToString()


def test_histograms_of_weights_and_slots(tmp_path, data):
    model = build(data)
    model.compile(co.Adam(0.01), models.loss_for(model))
    model.fit(data.x_train, data.y_train, batch_size=60, epochs=5, verbose=0,
              callbacks=[cb.HistogramLogger(tmp_path, every_epochs=2)])
    found = tensors(tmp_path / "train")
    weights = {f"weights/{w.path}" for w in model.weights}
    slots = {f"slots/{v.name}" for v in model.optimizer.variables if len(v.shape)}
    assert len(slots) == 2 * len(model.trainable_weights)  # Adam: momentum and velocity
    assert set(found) == weights | slots
    for tag, entries in found.items():
        assert [step for step, _ in entries] == [0, 2, 4]  # every 2nd epoch and the last
        assert plugin_of(tmp_path / "train", tag) == "histograms"
    kernel = model.get_layer("output").kernel
    (_, last), = [e for e in found[f"weights/{kernel.path}"] if e[0] == 4]
    counts = last[:, 2]  # buckets are [left, right, count]
    assert counts.sum() == pytest.approx(np.prod(kernel.shape))
    assert last[0, 0] == pytest.approx(float(np.min(kernel.numpy())), rel=1e-6)
    assert last[-1, 1] == pytest.approx(float(np.max(kernel.numpy())), rel=1e-6)


def test_histograms_go_where_they_are_told(tmp_path, data):
    """`subdirectory=""`: in the log directory itself, as the suite's runs keep all of a run in
    one TensorBoard run; by default `train/`, as Keras's TensorBoard callback writes them."""
    model = build(data)
    model.compile(co.SGD(0.1), models.loss_for(model))
    model.fit(data.x_train, data.y_train, batch_size=60, epochs=1, verbose=0,
              callbacks=[cb.HistogramLogger(tmp_path / "root", subdirectory=""),
                         cb.HistogramLogger(tmp_path / "keras")])
    assert set(tensors(tmp_path / "root")) == set(tensors(tmp_path / "keras" / "train")) == \
        {f"weights/{w.path}" for w in model.weights}
    assert not [p for p in (tmp_path / "root").iterdir() if p.is_dir()]


def test_hparams_session_is_read_by_the_hparams_plugin(tmp_path, data):
    from tensorboard.plugins.hparams import metadata

    model = build(data)
    model.compile(co.SGD(0.1), models.loss_for(model))
    hparams = {"optimizer": "sgd", "optimizer.learning_rate": 0.1, "batch_size": 60, "nesterov": False}
    model.fit(data.x_train, data.y_train, batch_size=60, epochs=1, verbose=0,
              callbacks=[cb.HParamsLogger(tmp_path, hparams, trial_id="trial-7")])
    from tb_events import accumulator

    events = accumulator(tmp_path)
    tag, = events.Tags()["tensors"]
    assert tag == metadata.SESSION_START_INFO_TAG
    info = metadata.parse_session_start_info_plugin_data(
        events.SummaryMetadata(tag).plugin_data.content)
    assert info.group_name == "trial-7"
    read = {name: getattr(value, value.WhichOneof("kind")) for name, value in info.hparams.items()}
    assert read == {"optimizer": "sgd", "optimizer.learning_rate": 0.1, "batch_size": 60, "nesterov": False}


def test_decision_boundary_image(tmp_path):
    data = problems.load("moons")
    model = models.build("moons_net", data)
    model.compile(co.Adam(0.01), models.loss_for(model), metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, batch_size=64, epochs=4, verbose=0,
              callbacks=[cb.DecisionBoundaryLogger(tmp_path, data.x_train, data.y_train, every_epochs=2)])
    images = tensors(tmp_path / "train")
    assert set(images) == {"decision_boundary"}
    assert [step for step, _ in images["decision_boundary"]] == [0, 2, 3]
    width, height, png = images["decision_boundary"][-1][1][:3]
    assert (int(width), int(height)) == (400, 400)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="two features"):
        cb.DecisionBoundaryLogger(tmp_path, np.zeros((3, 5)), np.zeros(3))


def test_decision_boundary_render_draws_the_boundary_and_the_points():
    from callbacks.decision_boundary import render

    xx, yy = np.meshgrid(np.linspace(0, 1, 200), np.linspace(0, 1, 200))
    p = (xx > 0.5).astype(float)  # class 1 on the right half
    image = render((xx, yy, p), np.array([[0.25, 0.75]]), np.array([1]))
    assert image.shape == (400, 400, 3) and image.dtype == np.uint8
    row = image[380]  # near the bottom, away from the point
    assert (row[:195, 2] > row[:195, 0]).all() and (row[205:, 0] > row[205:, 2]).all()  # blue | red
    black = np.flatnonzero(row.sum(axis=1) == 0)
    assert black.tolist() == [200]  # the boundary, one pixel wide
    # the point (x 0.25, y 0.75: upper left, y upwards) is red on blue, in a black rim
    r, c = round(0.25 * 399), round(0.25 * 399)
    assert image[r, c, 0] > image[r, c, 2] and image[r, c + 4].sum() == 0 and image[r, c + 8, 2] > image[r, c + 8, 0]


def test_callbacks_share_one_writer_per_directory(tmp_path, data):
    model = build(data)
    model.compile(co.SGD(0.1), models.loss_for(model), metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, batch_size=60, epochs=2, verbose=0,
              callbacks=[cb.ScalarLogger(tmp_path, every_steps=1), cb.UpdateRatioLogger(tmp_path),
                         cb.HistogramLogger(tmp_path)])
    assert len(event_files(tmp_path / "train")) == 1
    assert cb._writers._open == {}  # every writer closed at the end of training


def test_step_history(data):
    model = build(data)
    model.compile(co.SGD(0.1), models.loss_for(model))
    history = cb.StepHistory()
    model.fit(data.x_train, data.y_train, batch_size=len(data.x_train), epochs=3, shuffle=False,
              verbose=0, callbacks=[history])
    reference = build(data)
    expected = []
    for _ in range(3):
        loss, grads = loss_and_grads(reference, data.x_train, data.y_train)
        expected.append(loss)
        for w, g in zip(reference.trainable_weights, grads):
            w.assign(w - 0.1 * g)
    np.testing.assert_allclose(history.losses, expected, rtol=1e-5)
    assert len(history.seconds) == 3 and np.all(np.diff(history.seconds) > 0)


@pytest.mark.parametrize("make", [
    lambda: cb.ScalarLogger("x", every_epochs=0),
    lambda: cb.UpdateRatioLogger("x", every_steps=1.5),
    lambda: cb.HistogramLogger("x", every_epochs=True),
])
def test_bad_frequencies_are_rejected(make):
    with pytest.raises(ValueError, match="must be a positive integer"):
        make()


def test_vae_images_in_fit_show_the_originals_over_their_reconstructions(tmp_path, data):
    """In any `fit`: images at epochs 0, 2 and the last; the top row holds the images given, each
    pixel enlarged to a square (8x8 digits: 7 times, 56 pixels), the samples one row."""
    keras.utils.set_random_seed(0)
    model = models.build("vae", data)
    model.compile(co.Adam(0.001), models.loss_for(model), metrics=models.metrics_for(model))
    model.fit(data.x_train, data.y_train, batch_size=60, epochs=4, verbose=0,
              callbacks=[cb.VAEImages(tmp_path, data.x_val, data.image_shape, every_epochs=2, count=5)])
    images = tensors(tmp_path / "train")
    assert {tag: [step for step, _ in values] for tag, values in images.items()} == \
        {"vae/reconstructions": [0, 2, 3], "vae/samples": [0, 2, 3]}
    width, height, png = images["vae/reconstructions"][-1][1][:3]
    assert (int(width), int(height)) == (5 * 57 - 1, 2 * 57 - 1)
    pixels = tf.io.decode_png(png).numpy()[..., 0]
    first = np.rint(np.clip(data.x_val[0].reshape(8, 8), 0, 1).repeat(7, 0).repeat(7, 1) * 255)
    np.testing.assert_array_equal(pixels[:56, :56], first)
    assert [int(v) for v in images["vae/samples"][-1][1][:2]] == [5 * 57 - 1, 56]
    assert not cb.VAEImages.draws(build(data))


def test_text_samples_in_fit_are_the_prompt_and_what_the_model_writes(tmp_path):
    text = "abcab" * 200
    (tmp_path / "t.txt").write_text(text)
    data = problems.load({"name": "text", "path": str(tmp_path / "t.txt"), "seq_length": 10, "streams": 4})
    keras.utils.set_random_seed(0)
    model = models.build({"name": "char_rnn", "units": 8}, data)
    model.compile(co.Adam(0.01), models.loss_for(model), metrics=models.metrics_for(model))
    callback = cb.TextSamples(tmp_path, data.vocabulary, "abca", window=10, length=30)
    model.fit(data.x_train, data.y_train, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[callback])
    (step, value), = tensors(tmp_path / "train")["samples"]
    written = value.item().decode()
    assert step == 1 and plugin_of(tmp_path / "train", "samples") == "text"
    assert written.startswith("**abca**") and len(written) == len("**abca**") + 30
    assert set(written[8:]) <= set("abc")
    assert callback.sample() == written  # the same draws every time (RandomState(seed))
    with pytest.raises(ValueError, match="`prompt` must be text of the vocabulary's characters"):
        cb.TextSamples(tmp_path, data.vocabulary, "xyz", window=10)
