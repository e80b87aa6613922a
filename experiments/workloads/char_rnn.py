"""DeepOBS's character-level language model `char_rnn`, for `text`: two LSTMs whose state is
carried from batch to batch (`CarriedLSTM`)."""

from __future__ import annotations

import math

import keras
from keras import ops

from experiments.spec.validation import ConfigError, check_int, check_number
from experiments.workloads.networks import InstrumentedModel, register


@keras.saving.register_keras_serializable(package="experiments")
class CarriedLSTM(keras.layers.Layer):
    """DeepOBS's stacked LSTM cells (`tolstoi_char_rnn.py`): `layers` LSTMs of `units`, each
    with dropout `rate` on its input and on its output while training (TensorFlow 1's
    `DropoutWrapper`: a fresh mask at every step), returning every step's output.

    Its state is carried as DeepOBS carries it: in training, each batch of `streams` sequences
    starts from the state the previous batch ended in (its rows continue the previous batch's,
    `problems.Text`), from zero at every epoch's first batch (`batches` a epoch); the state and
    the count of batches are variables of the layer (so a checkpoint keeps them, and a member of
    a group carries its own). Evaluating (`training` false) starts every sequence from zero.
    Weights as TensorFlow 1's `LSTMCell` draws them: one Glorot-uniform matrix over [input,
    state] (here its input and recurrent parts), zero biases, 1 added to the forget gate (Keras's
    `unit_forget_bias`, the same function)."""

    def __init__(self, units, layers, rate, streams, batches, features=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.layer_count, self.rate = int(units), int(layers), float(rate)
        self.streams, self.batches = int(streams), int(batches)
        self.features = self.units if features is None else int(features)  # its input's, per position
        self.lstms, self.dropouts = [], []
        for i in range(self.layer_count):
            fan_in = self.features if i == 0 else self.units
            limit = math.sqrt(6.0 / (fan_in + self.units + 4 * self.units))  # Glorot over [input, state]
            self.lstms.append(keras.layers.LSTM(
                self.units, return_sequences=True, return_state=True, unit_forget_bias=True, name=f"lstm_{i + 1}",
                kernel_initializer=keras.initializers.RandomUniform(-limit, limit),
                recurrent_initializer=keras.initializers.RandomUniform(-limit, limit)))
            self.dropouts.append((keras.layers.Dropout(self.rate, name=f"dropout_in_{i + 1}"),
                                  keras.layers.Dropout(self.rate, name=f"dropout_out_{i + 1}")))

    def build(self, input_shape):
        for i, lstm in enumerate(self.lstms):
            lstm.build((input_shape[0], input_shape[1], self.features if i == 0 else self.units))
        self.state = [self.add_weight(shape=(self.streams, self.units), initializer="zeros", trainable=False,
                                      name=f"{kind}_{i + 1}") for i in range(self.layer_count) for kind in "hc"]
        self.position = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False,
                                        name="batches_seen")

    def call(self, x, training=False):
        if training:
            fresh = ops.equal(ops.mod(self.position, self.batches), 0)
            states = [ops.where(fresh, ops.zeros_like(s), s) for s in self.state]
        else:
            zeros = ops.zeros((ops.shape(x)[0], self.units), dtype=x.dtype)
            states = [zeros] * (2 * self.layer_count)
        carried = []
        for i, (lstm, (dropout_in, dropout_out)) in enumerate(zip(self.lstms, self.dropouts)):
            x = dropout_in(x, training=training)
            x, h, c = lstm(x, initial_state=states[2 * i:2 * i + 2], training=training)
            x = dropout_out(x, training=training)
            carried += [h, c]
        if training:
            for variable, value in zip(self.state, carried):
                variable.assign(value)
            self.position.assign(self.position + 1)
        return x

    def get_config(self):
        return {**super().get_config(), "units": self.units, "layers": self.layer_count, "rate": self.rate,
                "streams": self.streams, "batches": self.batches, "features": self.features}


@register("char_rnn")
def char_rnn(data, units=128, layers=2, dropout=0.2):
    """DeepOBS's character-level language model (`deepobs/tensorflow/testproblems/
    tolstoi_char_rnn.py`) for `problems.text`: an embedding of the characters in `units` (128)
    dimensions, two LSTMs of 128 units (`CarriedLSTM`: dropout 0.2 on each one's input and
    output, its state carried from batch to batch), and a softmax over the characters at every
    position; the loss is each character's cross-entropy, averaged over the sequence and the
    batch (DeepOBS's `sequence_loss`), the accuracy each character's. No regularisation.
    Variables as `tf.get_variable` draws them without an initializer: Glorot uniform, the
    softmax's bias too (a vector's fans are its length). 284,499 parameters for War and Peace's
    83 characters."""
    units = check_int("char_rnn.units", units, minimum=1)
    layers = check_int("char_rnn.layers", layers, minimum=1)
    dropout = check_number("char_rnn.dropout", dropout, minimum=0)
    if dropout >= 1:
        raise ConfigError(f"`char_rnn.dropout` must be below 1. Received: dropout={dropout}")
    if not getattr(data, "vocabulary", None):
        raise ConfigError(f"model 'char_rnn' needs a text problem (text). Received: {data.name!r}")
    vocabulary = len(data.vocabulary)
    glorot = keras.initializers.GlorotUniform()
    inputs = keras.Input(shape=(data.seq_length,), name="inputs")
    z = keras.layers.Embedding(vocabulary, units, embeddings_initializer=glorot, name="embedding")(inputs)
    z = CarriedLSTM(units, layers, dropout, data.streams, len(data.x_train) // data.streams, name="lstm")(z)
    limit = math.sqrt(3.0 / vocabulary)  # Glorot uniform of a vector: fan in = fan out = its length
    outputs = keras.layers.Dense(vocabulary, activation="softmax", kernel_initializer=glorot,
                                 bias_initializer=keras.initializers.RandomUniform(-limit, limit), name="softmax")(z)
    return InstrumentedModel(inputs=inputs, outputs=outputs, name="char_rnn")
