"""The torch-free neural training core (see ``simulations/nn/API.md``).

    from simulations.nn import MLPSpec, init_params, train, StopRules, SGD, NoiseConfig, load_mnist
    data = load_mnist()
    spec = MLPSpec((784, 512, 512, 10))
    res = train(spec, data, optimizer=SGD(lr=0.1), batch_size=128, stop=StopRules(max_epochs=10), seed=0)
    res.status, res.final["test_acc"]
"""
from simulations.nn.backends.base import (
    Backend,
    available_backends,
    blas_threads,
    default_threads,
    get_backend,
    set_blas_threads,
)
from simulations.nn.data import (
    DataError,
    Dataset,
    gaussian_mixture,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    shuffle_indices,
    teacher_dataset,
)
from simulations.nn.model import ACTIVATIONS, INITS, LOSSES, Mask, MLPSpec, Params, init_params, ones_mask
from simulations.nn.optim import SGD, NoiseConfig, Schedule, constant, step_schedule
from simulations.nn.train import (
    STATUSES,
    StopRules,
    TrainResult,
    TrainState,
    evaluate,
    load_checkpoint,
    predict,
    save_checkpoint,
    train,
)

__all__ = [
    "Backend", "get_backend", "available_backends", "blas_threads", "set_blas_threads", "default_threads",
    "DataError", "Dataset", "gaussian_mixture", "load_dataset", "load_fashion_mnist", "load_mnist", "read_idx",
    "shuffle_indices", "teacher_dataset",
    "ACTIVATIONS", "INITS", "LOSSES", "Mask", "MLPSpec", "Params", "init_params", "ones_mask",
    "SGD", "NoiseConfig", "Schedule", "constant", "step_schedule",
    "STATUSES", "StopRules", "TrainResult", "TrainState", "evaluate", "load_checkpoint", "predict",
    "save_checkpoint", "train",
]
