"""Custom Keras 3 optimizers and learning-rate schedules of the suite.

Every optimizer is a `keras.optimizers.Optimizer` subclass and every schedule
a `keras.optimizers.schedules.LearningRateSchedule` subclass, registered as
Keras serialisables (package "custom_optimizers"), so they work in
`model.compile(optimizer=...)` and survive `model.save` / `load_model`.

    import custom_optimizers as co
    model.compile(optimizer=co.Adam(learning_rate=1e-3), loss=...)
    model.compile(optimizer=co.get("rmsprop", rho=0.9), loss=...)
    co.Momentum(learning_rate=co.get_schedule("step", initial_learning_rate=0.1))
"""

from custom_optimizers._base import OPTIMIZERS, Optimizer
from custom_optimizers.adabelief import AdaBelief
from custom_optimizers.adagrad import AdaGrad
from custom_optimizers.adam import Adam
from custom_optimizers.adamw import AdamW
from custom_optimizers.lion import Lion
from custom_optimizers.momentum import Momentum
from custom_optimizers.nadam import Nadam
from custom_optimizers.nesterov import Nesterov
from custom_optimizers.radam import RAdam
from custom_optimizers.rmsprop import RMSProp
from custom_optimizers.schedules import (
    SCHEDULES,
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    PiecewiseConstant,
    StepDecay,
    WarmupCosineDecay,
)
from custom_optimizers.sgd import SGD
from custom_optimizers.registry import get, get_schedule

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "AdaBelief",
    "AdaGrad",
    "Adam",
    "AdamW",
    "ExponentialDecay",
    "InverseSqrtDecay",
    "InverseTimeDecay",
    "Lion",
    "Momentum",
    "Nadam",
    "Nesterov",
    "Optimizer",
    "PiecewiseConstant",
    "RAdam",
    "RMSProp",
    "SGD",
    "StepDecay",
    "WarmupCosineDecay",
    "get",
    "get_schedule",
]
