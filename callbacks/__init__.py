"""TensorBoard callbacks of the suite (learning rate actually used, gradient
norms, update ratios, slot histograms, HParams). Not built yet: this package
is reserved by the fixed top-level layout and holds no code so far."""
