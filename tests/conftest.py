"""Shared test setup.

Two logical CPU devices are configured before TensorFlow initialises, so
`tf.distribute.MirroredStrategy` tests have two replicas on any machine.
TensorFlow is imported through `experiments.engine.startup`, so a CPU-only
machine's start-up chatter (the cuInit "error" among it) stays out of the
test output.
"""

from experiments.engine import startup

tf = startup.quiet_tensorflow()

import keras  # noqa: E402
import pytest  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
)


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Every test starts from seed 0 and the float32 policy."""
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
