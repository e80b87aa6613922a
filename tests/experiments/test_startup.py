"""A CPU-only machine's TensorFlow start-up chatter stays out of the output; nothing else does."""

import os
import subprocess
import sys
import textwrap

import pytest

from experiments.engine import startup

CPU_ONLY = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795372503.057544   10558 port.cc:153] oneDNN custom operations are on. You may see slightly \
different numerical results due to floating-point round-off errors from different computation orders. \
To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1795372503.057852   10558 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will \
not be used.
I0000 00:00:1795372503.360724   10558 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use \
available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the \
appropriate compiler flags.
E0000 00:00:1795372507.819684   10558 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: \
Failed call to cuInit: UNKNOWN ERROR (303)
"""
REAL = "W0000 00:00:1795372507.9 10558 some_op.cc:12] a warning the user must see"


def _kept(text):
    lines = text.splitlines()
    return [line for line in lines if startup.keep(line, lines)]


def test_the_cpu_only_lines_are_dropped_and_others_kept():
    assert _kept(CPU_ONLY) == []
    assert _kept(CPU_ONLY + REAL + "\nTraceback (most recent call last):\n") == [
        REAL, "Traceback (most recent call last):"]


def test_the_cuinit_error_stays_where_a_driver_was_found():
    with_driver = "\n".join(line for line in CPU_ONLY.splitlines() if "cuda drivers" not in line)
    assert _kept(with_driver) == [CPU_ONLY.splitlines()[-1]]


def _python(code, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=300)


def _fake_tensorflow(tmp_path):
    """A `tensorflow` that writes a CPU-only start-up and one real warning straight to fd 2, as C++ does."""
    package = tmp_path / "fake" / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(f"""
        import os, types
        os.write(2, {(CPU_ONLY.split("E0000")[0] + REAL + chr(10)).encode()!r})
        def _devices(*args):
            os.write(2, {("E0000" + CPU_ONLY.split("E0000")[1]).encode()!r})
            return []
        config = types.SimpleNamespace(list_physical_devices=_devices)
    """))
    return str(tmp_path / "fake")


def test_quiet_tensorflow_filters_what_c_plus_plus_writes_to_fd_2(tmp_path):
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from experiments.engine import startup; startup.quiet_tensorflow(); print('after', file=sys.stderr)"
            % _fake_tensorflow(tmp_path))
    assert _python(code, tmp_path).stderr == REAL + "\nafter\n"
    everything = _python(code, tmp_path, TF_CPP_MIN_LOG_LEVEL="0").stderr  # the user asked for the log
    assert "oneDNN custom operations are on" in everything and REAL in everything


@pytest.mark.slow
def test_the_real_tensorflow_starts_quietly(tmp_path):
    plain = _python("import tensorflow as tf; tf.config.list_physical_devices()", tmp_path,
                    TF_CPP_MIN_LOG_LEVEL="2")
    if not plain.stderr.strip():
        pytest.skip("this TensorFlow prints nothing at start-up here: nothing to filter")
    quiet = _python("from experiments.engine import startup; startup.quiet_tensorflow()", tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
