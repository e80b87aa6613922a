"""Text a character-level language model writes, as TensorBoard Text."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from callbacks._steps import check_frequency
from callbacks._writers import Borrowed

CAPTION = ("Characters the model wrote after the prompt (in bold), each drawn from its predicted distribution "
           "given the last {window} characters, from RandomState({seed}): the same draws at every logged epoch; "
           "step = epoch.")


class TextSamples(Borrowed, keras.callbacks.Callback):
    """Text `samples` in `<logdir>/<subdirectory>` (`train`, as Keras's TensorBoard callback's;
    `""`: `logdir` itself), every `every_epochs`-th epoch and after the last (TensorBoard step =
    epoch): `length` characters the model writes after `prompt`, one at a time, each drawn
    from the model's distribution for the next character given the last `window` characters
    (its input length; a shorter text is padded in front with the prompt's first character),
    evaluated (no dropout, a zero state). `vocabulary[i]` is character id i."""

    def __init__(self, logdir, vocabulary, prompt, window, length=200, every_epochs=None, seed=0,
                 subdirectory="train"):
        super().__init__()
        self.logdir, self.subdirectory = str(logdir), str(subdirectory)
        self.vocabulary, self.window, self.length, self.seed = vocabulary, int(window), int(length), seed
        index = {c: i for i, c in enumerate(vocabulary)}
        unknown = sorted(set(prompt) - set(index))
        if not prompt or unknown:
            raise ValueError(f"`prompt` must be text of the vocabulary's characters. Received: prompt={prompt!r}")
        self.prompt = [index[c] for c in prompt]
        self.every_epochs = check_frequency("every_epochs", every_epochs)
        self._next = None

    def on_epoch_end(self, epoch, logs=None):
        last = epoch == self.params.get("epochs", 0) - 1
        if last or (self.every_epochs and epoch % self.every_epochs == 0):
            with self._writer(self.subdirectory).as_default():
                tf.summary.text("samples", self.sample(), step=epoch,
                                description=CAPTION.format(window=self.window, seed=self.seed))

    def sample(self):
        """The prompt (in Markdown bold) and the `length` characters the model writes after it."""
        if self._next is None:  # one traced function for every character of every sample
            dtype = self.model.inputs[0].dtype
            self._next = tf.function(lambda ids: self.model(tf.cast(ids, dtype), training=False)[0, -1],
                                     input_signature=[tf.TensorSpec([1, self.window], tf.int32)])
        rng = np.random.RandomState(self.seed)
        ids = [self.prompt[0]] * max(0, self.window - len(self.prompt)) + list(self.prompt)
        written = []
        for _ in range(self.length):
            p = np.asarray(self._next(np.array([ids[-self.window:]], np.int32)), np.float64)
            written.append(int(rng.choice(len(p), p=p / p.sum())))
            ids.append(written[-1])
        prompt = "".join(self.vocabulary[i] for i in self.prompt)
        core = prompt.strip()  # Markdown's bold may not start or end with a space
        lead, trail = prompt[:len(prompt) - len(prompt.lstrip())], prompt[len(prompt.rstrip()):]
        bold = f"{_escape(lead)}**{_escape(core)}**{_escape(trail)}" if core else _escape(prompt)
        return bold + _escape("".join(self.vocabulary[i] for i in written))

    def on_train_end(self, logs=None):
        self._give_back_writers()


def _escape(text):
    """Text shown as written in TensorBoard's Markdown: its special characters escaped, its
    line breaks kept."""
    for character in "\\`*_{}[]()#+-.!<>|":
        text = text.replace(character, "\\" + character)
    return text.replace("\n", "  \n")
