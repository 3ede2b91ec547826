"""The torch-free neural training core: fully connected and convolutional networks trained by minibatch SGD with
injected α-stable noise, masks (pruning), iterate averaging and exact resume (see ``simulations/nn/API.md``).

Network z_l = a_{l−1} W_lᵀ + b_l, a_l = φ(z_l), W_l of shape (out, in) (:mod:`.model`); one step
g = ∇L_B(θ) + λθ, v ← μv + g, θ ← θ − η_t v (PyTorch's ``torch.optim.SGD``), then
θ_W ← θ_W + σ η_t^{1/α} ξ, ξ symmetric α-stable (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML,
"Implicit compressibility of overparametrized neural networks trained with heavy-tailed SGD"), and
θ ← m ⊙ θ (:mod:`.optim`). Modules: :mod:`.model` (spec, flat parameters, masks), :mod:`.optim`
(SGD, schedules, noise), :mod:`.data` (MNIST / Fashion-MNIST, synthetic sets), :mod:`.cifar` (CIFAR-10 /
CIFAR-100), :mod:`.augment` (seeded random crop and flip), :mod:`.layers`, :mod:`.model_spec` and :mod:`.models` (convolutional
network specifications and the models of the pruning literature; their kernels are
:mod:`.backends.cpu_conv`, checked wrappers :mod:`.conv_api`, the whole network :mod:`.conv_net`, its training
backend :mod:`.model_backend`), :mod:`.train` (the
entry points), :mod:`.runner` (the step loop), :mod:`.checkpoint` (resume state and files),
:mod:`.backends` (CPU and CUDA kernels), :mod:`.cli` (``tailcomp train``).

    from simulations.nn import MLPSpec, init_params, train, StopRules, SGD, NoiseConfig, load_mnist
    data = load_mnist()
    spec = MLPSpec((784, 512, 512, 10))
    res = train(spec, data, optimizer=SGD(lr=0.1), batch_size=128, stop=StopRules(max_epochs=10), seed=0)
    res.status, res.final["test_acc"]
"""
from simulations._core.threads import (
    blas_threads,
    default_threads,
    get_blas_threads,
    openblas_kernels,
    set_blas_threads,
)
from simulations.nn.augment import Augmenter, crop_flip, crop_flip_params, random_crop_flip
from simulations.nn.backends import Backend, available_backends, get_backend
from simulations.nn.checkpoint import TrainState, load_checkpoint, save_checkpoint
from simulations.nn.cifar import load_cifar, load_cifar10, load_cifar100
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
from simulations.nn.layers import (
    AvgPool2d,
    BasicBlock,
    BatchNorm2d,
    Conv2d,
    Dense,
    Flatten,
    GlobalAvgPool,
    MaxPool2d,
    ReLU,
    Softplus,
    Tanh,
)
from simulations.nn.model import ACTIVATIONS, INITS, LOSSES, Mask, MLPSpec, Params, init_params, ones_mask
from simulations.nn.model_spec import ModelSpec, init_model_buffers, init_model_params, param_views
from simulations.nn.models import MODELS, get_model
from simulations.nn.optim import SGD, NoiseConfig, Schedule, constant, step_schedule
from simulations.nn.train import (
    BATCH_SIZE_MAX,
    MAX_LOSS_DEFAULT,
    MAX_WEIGHT_DEFAULT,
    STATUSES,
    StopRules,
    TrainResult,
    evaluate,
    predict,
    train,
)

__all__ = [
    "Backend", "get_backend", "available_backends", "blas_threads", "set_blas_threads", "get_blas_threads", "openblas_kernels",
    "default_threads",
    "DataError", "Dataset", "gaussian_mixture", "load_dataset", "load_fashion_mnist", "load_mnist", "read_idx",
    "shuffle_indices", "teacher_dataset",
    "load_cifar", "load_cifar10", "load_cifar100", "Augmenter", "crop_flip", "crop_flip_params", "random_crop_flip",
    "ACTIVATIONS", "INITS", "LOSSES", "Mask", "MLPSpec", "Params", "init_params", "ones_mask",
    "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Flatten", "Dense", "ReLU", "Tanh", "Softplus",
    "BatchNorm2d", "BasicBlock", "ModelSpec", "init_model_params", "init_model_buffers", "param_views",
    "MODELS", "get_model",
    "SGD", "NoiseConfig", "Schedule", "constant", "step_schedule",
    "STATUSES", "StopRules", "MAX_LOSS_DEFAULT", "MAX_WEIGHT_DEFAULT", "BATCH_SIZE_MAX", "TrainResult", "TrainState",
    "evaluate", "load_checkpoint", "predict",
    "save_checkpoint", "train",
]
