"""`text`: a character-level corpus, any UTF-8 file or the one that ships with the suite, cut
into streams of sequences as DeepOBS cuts Tolstoi."""

from __future__ import annotations

import dataclasses
import gzip
import pathlib

import numpy as np

from experiments.spec.validation import ConfigError, check_fraction, check_int
from experiments.workloads.datasets import Data, register


#: The corpus `text` reads when no `path` is given: Python's reference manual as CPython 3.11.7
#: ships it (`pydoc_data/topics.py`, its 79 topics joined in name order by blank lines), UTF-8,
#: under the PSF License (`corpus/PYTHON_LICENSE.txt`).
CORPUS = pathlib.Path(__file__).parent / "corpus" / "python_reference.txt.gz"
CORPUS_NAME = "Python 3.11.7's reference manual (pydoc_data.topics, PSF License; experiments/workloads/corpus)"


@dataclasses.dataclass
class Text(Data):
    """A character-level corpus: rows of `seq_length` character ids (`vocabulary[i]` is id i),
    the targets the same shifted by one character, arranged in `streams` parallel streams:
    row `i * streams + j` is stream j's i-th sequence, so that batches of `streams` rows taken
    in order continue each other row by row (what a language model's carried state needs)."""

    vocabulary: str = ""
    streams: int = 0
    seq_length: int = 0


def cut_streams(ids, streams, seq_length, split="text"):
    """DeepOBS's cutting of Tolstoi (`deepobs/tensorflow/datasets/tolstoi.py`): as many whole
    batches of `streams` x `seq_length` characters as the ids hold (one spare for the last
    target), the text laid out as `streams` contiguous streams, batch i being each stream's
    i-th piece; returned as rows (batch i's row j at `i * streams + j`) of inputs and of
    targets (the next characters)."""
    batches = (len(ids) - 1) // (streams * seq_length)
    if batches == 0:
        raise ConfigError(f"the {split} split of problem 'text' holds {len(ids)} characters, too few for one batch of "
                          f"{streams} streams x {seq_length} characters (and one more)")
    used = batches * streams * seq_length

    def rows(values):
        return values.reshape(streams, batches, seq_length).transpose(1, 0, 2).reshape(-1, seq_length)

    return rows(ids[:used]), rows(ids[1:used + 1])


@register("text", "dataset", "a character-level corpus (any UTF-8 file, or Python's reference manual)")
def text(path=None, seq_length=50, streams=50, validation=0.1, test=0.1, limit=None):
    """A UTF-8 text file (`path`; without one, the corpus that ships with the suite, `CORPUS`)
    for character-level language modelling, as DeepOBS's `tolstoi` (War and Peace): its
    characters are the vocabulary (sorted), the text is split into training, validation and
    test parts in that order (the last `validation` and `test` fractions), and each part is cut
    as DeepOBS cuts its files (`cut_streams`, `seq_length` 50, `streams` 50: DeepOBS's batch
    size, which a run's `batch_size` must equal). `limit`: use only the first `limit` characters."""
    seq_length = check_int("text.seq_length", seq_length, minimum=1)
    streams = check_int("text.streams", streams, minimum=1)
    validation, test = check_fraction("text.validation", validation), check_fraction("text.test", test)
    if validation + test >= 1:
        raise ConfigError(f"problem 'text': validation + test must be below 1. Received: validation={validation}, "
                          f"test={test}")
    if path is None:
        with gzip.open(CORPUS, "rb") as f:
            raw, source = f.read(), CORPUS_NAME
    else:
        if not isinstance(path, str):
            raise ConfigError(f"`text.path` must be a file's path. Received: path={path!r}")
        try:
            raw, source = pathlib.Path(path).expanduser().read_bytes(), str(path)
        except OSError as error:
            raise ConfigError(f"`text.path` cannot be read: {error.strerror}. Received: path={path!r}") from None
    try:
        characters = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"`text.path` is not UTF-8 text (byte {error.start}: {error.reason}). "
                          f"Received: path={path!r}") from None
    if limit is not None:
        characters = characters[:check_int("text.limit", limit, minimum=2)]
    vocabulary = "".join(sorted(set(characters)))
    index = {c: i for i, c in enumerate(vocabulary)}
    ids = np.fromiter((index[c] for c in characters), np.int32, len(characters))
    ends = [round(len(ids) * (1 - validation - test)), round(len(ids) * (1 - test))]
    parts = {"training": ids[:ends[0]], "validation": ids[ends[0]:ends[1]], "test": ids[ends[1]:]}
    cut = {split: cut_streams(part, streams, seq_length, split) if len(part) or split == "training"
           else (np.zeros((0, seq_length), np.int32),) * 2 for split, part in parts.items()}
    return Text("text", *cut["training"], *cut["validation"], *cut["test"], num_classes=len(vocabulary),
                source=f"{source}: {len(characters)} characters, {len(vocabulary)} distinct",
                vocabulary=vocabulary, streams=streams, seq_length=seq_length,
                fallback_reason=None if path is not None else (
                    f"problem 'text' was given no `path`: its runs read the corpus that ships with the suite, "
                    f"{CORPUS_NAME}. To run on your own text, give path = \"FILE\" (UTF-8)"))
