"""The one table of integer codes shared by every CPU and CUDA kernel.

Kernels take activations, losses, noise kinds and statuses as small integers (numba
compiles the branches); the API turns the user's strings into these codes with the
dictionaries below.  Every kernel module imports its codes from here, so the CPU and
the device always agree on what ``1`` means.  Codes are module-level integers, which
numba freezes into the compiled kernels as constants.
"""
from __future__ import annotations

# Activations φ.  softplus(z) = log(1 + e^z), computed as max(z, 0) + log1p(e^{-|z|}).
ACT_IDENTITY = 0
ACT_RELU = 1
ACT_TANH = 2
ACT_SOFTPLUS = 3
ACTIVATION_CODES = {"identity": ACT_IDENTITY, "relu": ACT_RELU, "tanh": ACT_TANH, "softplus": ACT_SOFTPLUS}

# Losses.
LOSS_SQUARED = 0
LOSS_CROSS_ENTROPY = 1
LOSS_CODES = {"squared": LOSS_SQUARED, "cross_entropy": LOSS_CROSS_ENTROPY}

# Injected α-stable noise (σ η^{1/α} ξ added after each SGD step).
NOISE_NONE = 0        # no noise
NOISE_ENTRY = 1       # one SαS draw per weight
NOISE_NEURON = 2      # one SαS scalar per neuron, broadcast over its incoming weights
NOISE_ELLIPTICAL = 3  # sub-Gaussian SαS vector per neuron: sqrt(A_j) · Z_ij (elliptically contoured)
NOISE_CODES = {"none": NOISE_NONE, "entry": NOISE_ENTRY, "neuron": NOISE_NEURON, "elliptical": NOISE_ELLIPTICAL}

# Per-chain / per-run status written by the simulators.
STATUS_OK = 0
STATUS_NONFINITE = 1   # a NaN or ±inf appeared (diverged)
STATUS_THRESHOLD = 2   # the norm passed the divergence threshold (diverged)
STATUS_DRIFT = 3       # the drift returned a non-finite value (SDE)
STATUS_NAMES = {STATUS_OK: "ok", STATUS_NONFINITE: "nonfinite", STATUS_THRESHOLD: "threshold", STATUS_DRIFT: "drift"}
