"""Import TensorFlow without its start-up chatter on a machine that has no GPU.

    from experiments.engine import startup
    tf = startup.quiet_tensorflow()   # before anything else imports TensorFlow

Importing TensorFlow 2.21 (the `tensorflow` wheel, which carries CUDA
support) on a CPU-only machine prints about ten lines to the process's
standard error from C++, before `TF_CPP_MIN_LOG_LEVEL` applies or whatever
it says: the absl start-up warning, oneDNN's note, "Could not find cuda
drivers", the CPU-instruction notice, and at the first device query
`E0000 ... failed call to cuInit: ... UNKNOWN ERROR (303)`, which reads
like an error but only says that there is no GPU.

`quiet_tensorflow` sends file descriptor 2 to a temporary file while
TensorFlow imports and lists its devices, then writes back every line that
is not one of those known lines. The cuInit error is dropped only when
TensorFlow also said it found no CUDA driver, so a GPU machine whose
driver fails still shows it. Nothing is dropped when the user asks for
TensorFlow's log (`TF_CPP_MIN_LOG_LEVEL=0`), or when the import fails.

The alternative, `tensorflow-cpu` as the default with the GPU build as an
extra, removes the CUDA lines but not the others, has no wheels for
aarch64 Linux or macOS, and cannot share a virtual environment with
`tensorflow` (both install the `tensorflow` package): measured in issue
14, 1.6 GB and 24 s to install against 2.1 GB and 37 s.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

#: Lines TensorFlow prints at start-up on a CPU-only machine, none of them a problem.
CHATTER = (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"I\d{4} .*\] oneDNN custom operations are on\b.*",
    r"I\d{4} .*\] This TensorFlow binary is optimized to use available CPU instructions\b.*",
    r"To enable the following instructions: .* in other operations, rebuild TensorFlow .*",
)
NO_DRIVER = r"I\d{4} .*\] Could not find cuda drivers on your machine, GPU will not be used\."
#: Dropped only after NO_DRIVER: on a machine with a driver it is a real error.
NO_GPU = r"E\d{4} .*\] failed call to cuInit: .*"


def quiet_tensorflow():
    """Import TensorFlow (and query its devices) with the CPU-only chatter filtered out; returns `tf`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import tensorflow as tf

        return tf
    with tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # where the cuInit error prints
        except BaseException:
            _restore(saved, captured, keep=lambda line, lines: True)
            raise
        _restore(saved, captured, keep=keep)
    return tf


def keep(line, lines=()):
    """Whether a captured line of standard error is written back (`lines`: all captured, for context)."""
    if any(re.fullmatch(pattern, line) for pattern in CHATTER) or re.fullmatch(NO_DRIVER, line):
        return False
    if re.fullmatch(NO_GPU, line):
        return not any(re.fullmatch(NO_DRIVER, other) for other in lines)
    return True


def _restore(saved, captured, keep):
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    captured.seek(0)
    lines = captured.read().decode("utf-8", "replace").splitlines()
    rest = [line for line in lines if keep(line, lines)]
    if rest:
        sys.stderr.write("\n".join(rest) + "\n")
        sys.stderr.flush()
