"""Back-end set-up for the optimizer tests, which also run under
`KERAS_BACKEND=jax` and `KERAS_BACKEND=torch` (see `backends.py`).

JAX computes float64 arrays in float32 unless its x64 mode is on: a Keras
variable made with dtype "float64" would hold float32 and the float64
references could not agree to 1e-10. It is turned on here, as a JAX user with
float64 models does (`JAX_ENABLE_X64=1`, or this call before any array is made).
"""

import keras

if keras.backend.backend() == "jax":
    import jax

    jax.config.update("jax_enable_x64", True)
