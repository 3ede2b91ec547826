"""Argument strategies derived from each callable's signature.

A parameter gets a *kind* from (in order) the CUSTOM table, its default value's type, its
annotation and a name vocabulary (``alpha`` → (0, 2], ``seed``, ``n``/``n_*``/``size``/``steps``/``k``
→ small ints, ``lr``/``dt``/``sigma`` → small positive floats, ``x``/``X``/``weights`` → small float
arrays, string options → the default or a module constant listing the options, ...). Each kind has

* a VALID value (the default, by omission, or a vocabulary value) used for every parameter that is
  not being perturbed,
* TYPE-WRONG values (a wrong kind of object: ``1`` for a flag, ``np.array(['x'])`` for an option,
  ``"a"`` for a number, ``"abc"`` for an array, ...) that must raise a ``TypeError``/``ValueError``
  naming the parameter, and
* in-type EXTREME values (0, -1, 2**63, 1e300, nan, inf, empty and wrong-length arrays, arrays of
  1e200, unknown option strings, ...) that must raise an error naming some parameter or return a
  finite result.

Values are Python expression strings evaluated in :mod:`tests._fuzz.values`, so every call prints
as its own reproducer. Calls are drawn with hypothesis (derandomized, no database): a strategy per
(callable, class) picks the perturbed parameter and its value; the long profile also mixes in
arbitrary integers and floats drawn by hypothesis.
"""
from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------------------
# Callables that are not fuzzed, with the reason. Matched on the canonical name, or on a regex over it.
SKIP: dict[str, str] = {
    # command lines read sys.argv / spawn processes
    "simulations.sweep.worker.die_with_parent": "kills the process when its parent dies (process plumbing)",
    "simulations.sweep.worker.worker_init": "process-pool initializer: changes signal handlers and threads of the process",
    "simulations.sweep.worker.execute": "runs an experiment in a worker process; fuzzed through the sweep runner's own tests",
    "simulations._core.threads.one_thread": "sets process-wide thread environment (process plumbing)",
    "simulations._core.threads.set_blas_threads": "changes process-wide BLAS threads (process plumbing)",
    "simulations._core.threads.blas_threads": "context manager changing process-wide BLAS threads",
    "simulations.nn.conv_parallel.Scratch": "per-thread buffers that conv_net.Workspace builds from its own sizes",
    "simulations.nn.conv_parallel.run": "runs the kernel calls the convolution layers build (callables, not data)",
    "simulations.nn.runner.Run": "the training loop object that train() builds; fuzzed through train",
    "simulations.nn.backends.base.Backend": "abstract base class",
    "simulations.sweep.executors.Executor": "abstract base class",
    "simulations.sweep.executors.DaskExecutor": "connects to a dask scheduler (network)",
    "simulations.sweep.executors.LocalExecutor": "starts a process pool",
    "simulations.sweep.writer.StoreWriter": "internal writer around an open sqlite connection",
    "simulations.sweep.store_errors.guarded": "decorator factory (free-text action label)",
    "simulations.sweep.store_errors.translate": "context manager translating sqlite errors (free-text labels)",
    "simulations.sweep.store_errors.store_error": "builds an exception from another exception",
    "simulations.sweep.registry.experiment": "decorator that registers an experiment globally",
    "simulations.sweep.registry.Experiment": "registry record built by the experiment decorator",
    "simulations.sweep.config.param": "dataclass field factory for experiment configs (free-form default)",
    "simulations.sweep.config.FieldSpec": "record derived from config dataclasses by field_specs",
    "simulations.nn.backends.base.KernelCodes": "integer codes passed to kernels; built by the backends",
    "simulations.nn.backends.base.RunBuffers": "device buffers built by the backends",
    "simulations.nn.backends.base.StepConfig": "per-run step configuration built by train()",
    "simulations.nn.backends.base.chunk_batch": "layout check the backends run on the index/rate arrays train() built",
    "simulations.nn.checkpoint.TrainState": "training state record built by train() and load_checkpoint",
    "simulations.nn.checkpoint.copy_state": "copies a TrainState built by train()",
    "simulations.nn.checkpoint.save_checkpoint": "needs a TrainState built by train(); covered by checkpoint tests",
    "simulations.nn.checkpoint.load_checkpoint": "needs a checkpoint written by train(); covered by checkpoint tests",
    "simulations.pruning.masks.combine_masks": "variadic (*mask_lists); its masks are fuzzed through check_masks",
    "simulations.noise_compression.study.run_mlp": "sweep experiment body: trains an MLP for minutes; covered by its own tests",
    "simulations.pruning.study.heavy_tail_run": "long-running study; covered by its own tests",
    "simulations.compressibility.predicted_plots.plot_layer": "draws on a matplotlib axes; covered by the figure tests",
    "simulations.pruning.study.baselines_run": "long-running study; covered by its own tests",
    "simulations.pruning.study.run_reproduction": "long-running study; covered by its own tests",
    "simulations.pruning.allocation_study.run_allocation": "long-running study (trains networks); covered by its own tests",
    "simulations.pruning.study.pruning_curves": "long-running study; covered by its own tests",
    "simulations.pruning.comparison.compare_run": "sweep experiment body (trains networks per sparsity); covered by its own tests",
    "simulations.pruning.comparison_study.run_comparison": "long-running study (trains networks); covered by its own tests",
    "simulations.noise_compression.versus.versus_run": "sweep experiment body (trains networks); covered by its own tests",
    "simulations.noise_compression.versus.run_versus": "long-running study (trains networks); covered by its own tests",
    "simulations.pruning.comparison.Setup": "run record built by setup_run from a sweep configuration",
    "simulations.pruning.comparison.setup_run": "loads a data set and builds a run from a sweep configuration; covered by the comparison tests",
    "simulations.pruning.comparison.after_points": "trains networks (the fine-tunes); covered by the comparison tests",
    "simulations.pruning.comparison.points_metrics": "needs a Setup built from a sweep configuration; covered by the comparison tests",
    "simulations.diagnostics.study.train_with_noise": "trains a network (a study); covered by the sweep-experiment test of the monitors",
    "simulations.diagnostics.study.width_study": "trains networks on MNIST (a study); covered by the notebook 08 test",
    "simulations.diagnostics.study.gradient_noise_run": "sweep experiment body (trains a network); covered by its own tests",
    "simulations.diagnostics.monitors.combine": "variadic (*callbacks); its callbacks are fuzzed as the monitors",
    "simulations.sweep.study.toy_sweep": "long-running study; covered by its own tests",
    "simulations.sweep.runner.run_sweep": "runs a sweep in process pools; covered by the sweep tests",
    "simulations.kesten.study.alpha_vs_lr": "long-running study; covered by its own tests",
    "simulations.kesten.study.tail_index_mc": "long-running study; covered by its own tests",
    "simulations.compressibility.study.barsbey_synthetic_study": "long-running study; covered by its own tests",
    "simulations.compressibility.study.convergence_study": "long-running study; covered by its own tests",
    "simulations.compressibility.study.figure_data": "long-running study; covered by its own tests",
    "simulations.compressibility.study.g_curves": "long-running study; covered by its own tests",
    "simulations.noise_injection.study.sigma_study": "long-running study; covered by its own tests",
    "simulations.noise_injection.study.step_size_study": "long-running study; covered by its own tests",
    "simulations.noise_injection.study.width_study": "long-running study; covered by its own tests",
    "simulations.tail_index.study.estimator_bias_table": "long-running study; covered by its own tests",
    "simulations.tail_index.study.tail_curves": "long-running study; covered by its own tests",
    "simulations.sde.study.stable_ou_study": "long-running study; covered by its own tests",
    "simulations.sde.api.ou_weak_error": "long-running study (Monte Carlo weak error); covered by its own tests",
    "simulations.nn.data.load_dataset": "reads the MNIST files (tens of MB) from TAILCOMP_DATA or the network",
    "simulations.nn.data.load_mnist": "reads the MNIST files (tens of MB) from TAILCOMP_DATA or the network",
    "simulations.nn.data.load_fashion_mnist": "reads the Fashion-MNIST files from TAILCOMP_DATA or the network",
    "simulations.nn.cifar.load_cifar": "reads the CIFAR archives (170 MB) from TAILCOMP_DATA or the network",
    "simulations.nn.cifar.load_cifar10": "reads the CIFAR-10 archive (170 MB) from TAILCOMP_DATA or the network",
    "simulations.nn.cifar.load_cifar100": "reads the CIFAR-100 archive (170 MB) from TAILCOMP_DATA or the network",
    "simulations.pruning.data.load_data": "reads the MNIST files from TAILCOMP_DATA",
    "simulations.spectra.power_law.PowerLawFit": "result record returned by power_law_fit (its fields are outputs)",
    "simulations.spectra.layers.LayerSpectrum": "result record returned by layer_spectrum (its fields are outputs)",
    "simulations.nn.model_spec.ParamEntry": "layout record returned by ModelSpec.param_layout (its fields are outputs)",
    "simulations.nn.model_spec.BufferEntry": "layout record returned by ModelSpec.buffer_layout (its fields are outputs)",
    "simulations.pruning.filters.FilterFraction": "result record returned by prunable_filter_fraction (its fields are outputs)",
    "simulations.pruning.filters.PrunedNetwork": "result record returned by remove_filters (its fields are outputs)",
    "simulations.pruning.conv_study.conv_run": "sweep experiment body (trains a convolutional network); covered by its own tests",
    "simulations.nn.model_backend.ModelWorkspace": "per-run buffers built by ModelCPUBackend.workspace; fuzzed through train",
    "simulations.nn.model_backend.run_model_steps": "the step chunk of ModelCPUBackend (arguments built by train); fuzzed through train",
    "simulations.nn.model_backend.evaluate_model": "evaluation of ModelCPUBackend on its workspace; fuzzed through train/evaluate",
    "simulations.nn.model_backend.forward_model": "logits of ModelCPUBackend on its workspace; fuzzed through predict",
    "simulations.nn.model_cuda.ModelCudaWorkspace": "per-run device buffers built by ModelCUDABackend.workspace",
    "simulations.nn.cuda_conv_net.forward": "needs a CudaConvWorkspace (device buffers); covered by the simulator tests",
    "simulations.nn.cuda_conv_net.loss_and_grad": "needs a CudaConvWorkspace (device buffers); covered by the simulator tests",
    "simulations.nn.cuda_conv_net.evaluate": "needs a CudaConvWorkspace (device buffers); covered by the simulator tests",
    "simulations.pruning.barsbey_protocol.run_protocol": "long-running study (trains networks to convergence); covered by its own tests",
    "simulations.pruning.conv_sweep.run_conv": "long-running study (trains convolutional networks); covered by its own tests",
    "simulations.pruning.barsbey_protocol.main": "command line: reads sys.argv",
    "simulations.pruning.conv_sweep.main": "command line: reads sys.argv",
    "simulations.warmup.run": "compiles every kernel family (minutes on a cold cache); covered by tests/test_warmup.py",
    "simulations.warmup.main": "command line: reads sys.argv",
}
SKIP_PATTERNS: list[tuple[str, str]] = [
    (r"\.plots\.", "plotting of a study's outputs on matplotlib axes; covered by the figure tests"),
    (r"\.cli\.main$", "command line: reads sys.argv"),
    # result records: returned by the library, not an input API
    (r"(Result|Round|Paths|Chains|Summary|Sweep|WidthSlope|MonotonicityCheck|ClosedForm|Teacher|Dataset|RunSpec)$",
     "result/record dataclass returned by the library (its fields are outputs, not validated inputs)"),
]

# Per-callable valid arguments that are ALWAYS passed (unless perturbed): required objects the
# vocabulary cannot guess, and caps on work so that a valid call takes milliseconds.
CUSTOM: dict[str, dict[str, str]] = {
    "simulations.nn.layers.Conv2d": {"out_channels": "4", "kernel": "3"},
    "simulations.nn.layers.MaxPool2d": {"kernel": "2"},
    "simulations.nn.layers.AvgPool2d": {"kernel": "2"},
    "simulations.nn.model_spec.ModelSpec": {"input_shape": "(1, 6, 6)", "n_classes": "3", "layers": (
        "(__import__('simulations.nn.layers').nn.layers.Conv2d(2, 3), __import__('simulations.nn.layers').nn.layers"
        ".Flatten(), __import__('simulations.nn.layers').nn.layers.Dense(3))")},
    "simulations.nn.layers.layer_from_dict": {"d": "{'type': 'Conv2d', 'out_channels': 2, 'kernel': [3, 3]}"},
    "simulations.nn.model_spec.param_views": {"spec": "spec()", "flat": "params().flat"},
    "simulations.nn.models.get_model": {"name": "'lenet5'"},
    "simulations.nn.model_backend.backend_for": {"spec": "spec()",
                                                 "be": "__import__('simulations.nn').nn.get_backend('cpu')"},
    "simulations.pruning.barsbey_protocol.protocol_summary": {"store_or_rows": "[]"},
    "simulations.pruning.barsbey_protocol.spearman_ci": {"x": "x(20)", "y": "x(20)", "n_resamples": "200"},
    "simulations.pruning.conv_study.checkpoint_for": {
        "config": "__import__('simulations.experiments.pruning').experiments.pruning.ConvConfig()"},
    "simulations.pruning.conv_sweep.conv_table": {"store_or_rows": "[]"},
    "simulations.pruning.conv_sweep.format_conv_table": {"rows": "[]"},
    "simulations.tail_index.barsbey.block_sizes": {"n": "60"},
    "simulations.tail_index.barsbey.layer_alphas": {"W": "W(8, 6)"},
    "simulations.pruning.filters.filter_scores": {"spec": "conv_spec()", "flat": "conv_flat()"},
    "simulations.pruning.filters.prune_filters": {"spec": "conv_spec()", "flat": "conv_flat()", "sparsity": "0.5"},
    "simulations.pruning.filters.prunable_filter_fraction": {"spec": "conv_spec()", "flat": "conv_flat()"},
    "simulations.pruning.filters.filter_mask": {"spec": "conv_spec()", "keep": "[np.ones(2, bool), np.ones(3, bool)]"},
    "simulations.pruning.filters.remove_filters": {"spec": "conv_spec()", "flat": "conv_flat()", "buffers": "np.zeros(0)",
                                                   "keep": "[np.array([True, False]), np.ones(3, bool)]"},
    "simulations.kesten.chains.run_sgd": {"n_chains": "20", "steps": "20"},
    "simulations.nn.train.train": {"stop": "stop()", "batch_size": "8"},
    "simulations.nn.train.evaluate": {"X": "X(10, 4)", "y": "labels(10)"},
    "simulations.nn.train.predict": {"X": "X(10, 4)"},
    "simulations.pruning.iterative.imp": {"steps": "3", "batch_size": "8", "rounds": "1"},
    "simulations.pruning.algorithms.second_order.obs_update": {"theta": "np.ones(3)", "inverse": "np.eye(3)",
                                                               "pruned": "np.array([True, False, False])"},
    "simulations.pruning.algorithms.structured.neuron_masks": {"spec": "spec()", "keep": "[np.ones(6, dtype=bool)]"},
    "simulations.pruning.algorithms.structured.prune_neurons": {"scores": "[np.ones(6)]", "sparsity": "0.2"},
    "simulations.pruning.algorithms.supermask.init_std": {"spec": "spec()", "layer": "0"},
    "simulations.pruning.algorithms.supermask.supermask_train": {"steps": "3", "batch_size": "8"},
    "simulations.pruning.algorithms.base.full_weight_masks": {"shapes": "[(3, 2), (2, 3)]"},
    "simulations.pruning.algorithms.base.removal_counts": {"masks": "masks()", "sparsity": "0.5", "layers": "[0, 1]",
                                                           "scope": "'global'"},
    "simulations.pruning.algorithms.compute.forward_macs": {"shapes": "[(3, 2), (2, 3)]"},
    "simulations.pruning.comparison_study.ratio_span": {"values": "[0.5, 1.0]"},
    "simulations.pruning.comparison_study.comparison_table": {"store_or_rows": "[]"},
    "simulations.pruning.comparison_study.format_comparison_table": {"table": "[]"},
    "simulations.noise_compression.versus.versus_table": {"store_or_rows": "[]"},
    "simulations.pruning.algorithms.distributions.layer_densities": {"shapes": "[(6, 4), (3, 6)]", "density": "0.5"},
    "simulations.pruning.algorithms.distributions.layer_counts": {"shapes": "[(6, 4), (3, 6)]", "densities": "[0.5, 0.5]"},
    "simulations.pruning.algorithms.distributions.random_masks": {"shapes": "[(6, 4), (3, 6)]", "densities": "[0.5, 0.5]"},
    "simulations.pruning.algorithms.dynamic.drop_grow": {"weights": "W(5, 4)", "mask": "np.ones((5, 4), dtype=bool)", "k": "2",
                                                      "grow_scores": "W(5, 4)"},
    "simulations.pruning.algorithms.dynamic.rigl_train": {"spec": "spec()", "data": "data()", "steps": "4", "batch_size": "8",
                                                      "update_every": "2"},
    "simulations.pruning.algorithms.dynamic.set_train": {"spec": "spec()", "data": "data()", "steps": "4", "batch_size": "8",
                                                     "update_every": "2"},
    "simulations.pruning.algorithms.gradual.gmp": {"spec": "spec()", "data": "data()", "steps": "4", "batch_size": "8", "frequency": "1"},
    "simulations.pruning.algorithms.sparse_train.sparse_train": {"spec": "spec()", "data": "data()", "update": "lambda *a: None", "steps": "4",
                                                            "batch_size": "8", "update_every": "2"},
    "simulations.pruning.algorithms.sparse_train.MaskUpdate": {"masks": "masks()"},
    "simulations.noise_injection.ensemble.train_ensemble": {
        "width": "4", "alpha": "1.5", "sigma": "0.5", "lr": "0.01", "steps": "5", "teacher": "teacher()",
        "batch_size": "4"},
    "simulations.sde.api.euler_maruyama": {"drift": "ou_drift()", "x0": "np.zeros(3)", "steps": "10", "params": "(1.0, 0.0)"},
    "simulations.sde.api.sas_abs_moment": {"p": "0.5"},
    "simulations.stable.api.rvs": {"size": "10"},
    "simulations.stable.api.sub_gaussian_rvs": {"dim": "3", "size": "10"},
    "simulations.stable.api.stream_rvs": {"n_streams": "2", "n_per_stream": "5"},
    "simulations.nn.data.gaussian_mixture": {"n": "20", "dim": "4"},
    "simulations.nn.data.teacher_dataset": {"n": "20", "sizes": "(4, 5, 3)"},
    "simulations.nn.data.check_labels": {"name": "'y'", "y": "labels(20)", "n": "20", "n_classes": "3"},
    "simulations.nn.data.read_idx": {"path": "idx_file()"},
    "simulations.nn.augment.random_crop_flip": {"X": "np.ones((3, 2, 6, 6))", "padding": "2"},
    "simulations.nn.augment.crop_flip": {"X": "np.ones((3, 2, 6, 6))", "offsets": "np.zeros((3, 2), dtype=int)",
                                         "flips": "np.zeros(3, dtype=bool)", "padding": "2"},
    "simulations.nn.conv_api.im2col": {"x": "np.ones((2, 3, 5, 5))", "kh": "3", "kw": "3"},
    "simulations.nn.conv_api.col2im": {"cols": "np.ones((18, 27))", "x_shape": "(2, 3, 5, 5)", "kh": "3", "kw": "3"},
    "simulations.nn.conv_api.conv2d_forward": {"x": "np.ones((2, 3, 5, 5))", "w": "np.ones((4, 3, 3, 3))"},
    "simulations.nn.conv_api.conv2d_backward": {"x": "np.ones((2, 3, 5, 5))", "w": "np.ones((4, 3, 3, 3))", "dy": "np.ones((2, 4, 3, 3))"},
    "simulations.nn.conv_api.maxpool2d_forward": {"x": "np.ones((2, 3, 5, 5))", "k": "2"},
    "simulations.nn.conv_api.maxpool2d_backward": {"dy": "np.ones((2, 3, 2, 2))", "argmax": "np.zeros((2, 3, 2, 2), dtype=np.int64)", "x_shape": "(2, 3, 5, 5)"},
    "simulations.nn.conv_api.avgpool2d_forward": {"x": "np.ones((2, 3, 5, 5))", "k": "2"},
    "simulations.nn.conv_api.avgpool2d_backward": {"dy": "np.ones((2, 3, 2, 2))", "x_shape": "(2, 3, 5, 5)", "k": "2"},
    "simulations.nn.conv_api.global_avgpool_forward": {"x": "np.ones((2, 3, 5, 5))"},
    "simulations.nn.conv_api.global_avgpool_backward": {"dy": "np.ones((2, 3))", "x_shape": "(2, 3, 5, 5)"},
    "simulations.nn.conv_api.relu_backward": {"dy": "x(20)", "y": "x(20)"},
    "simulations.nn.conv_net.forward": {"flat": "params().flat", "buffers": "None"},
    "simulations.nn.conv_net.loss_and_grad": {"flat": "params().flat", "buffers": "None"},
    "simulations.nn.conv_net.predict": {"flat": "params().flat", "buffers": "None"},
    "simulations.nn.conv_net.evaluate": {"flat": "params().flat", "buffers": "None"},
    "simulations.nn.data.Dataset": {"X_train": "X(20, 4)", "y_train": "labels(20)", "X_test": "None",
                                    "y_test": "None", "n_classes": "3"},
    "simulations.nn.model.Params": {"spec": "spec()", "flat": "params().flat"},
    "simulations.nn.model.Mask": {"spec": "spec()", "flat": "mask().flat"},
    "simulations.nn.optim.step_schedule": {"milestones": "(2, 4)"},
    "simulations.nn.checkpoint.checkpoint_file": {"path": "'ckpt'"},
    "simulations.noise_injection.data.teacher_student_data": {"teacher": "teacher()", "n_samples": "10"},
    "simulations.noise_injection.data.apply_activation": {"name": "'tanh'", "z": "X(5, 3)"},
    "simulations.noise_injection.data.one_hot": {"labels": "labels(10)"},
    "simulations.noise_injection.data.make_teacher": {"d": "3"},
    "simulations.noise_injection.ensemble.grid": {"widths": "(4, 8)", "alphas": "(1.5,)", "sigmas": "(0.5,)"},
    "simulations.noise_injection.ensemble.init_weights": {"widths": "(4, 8)", "d": "3"},
    "simulations.noise_injection.ensemble.stream_states": {"replicates": "[0, 1, 2]"},
    "simulations.noise_injection.study.fit_width_slope": {"widths": "(4, 8, 16, 32)", "errors": "(0.4, 0.3, 0.2, 0.1)"},
    "simulations.pruning.masks.check_layers": {"name": "'layers'", "layers": "[0]", "n_layers": "2"},
    "simulations.pruning.masks.check_masks": {"masks": "masks()", "weights": "weights()"},
    "simulations.pruning.iterative.mask_scores": {"final": "weights()", "initial": "weights()", "criterion": "'large_final'"},
    "simulations.pruning.iterative.prune_step": {"scores": "weights()", "masks": "masks()", "n_remove": "[2, 2]",
                                                 "scope": "'layer'", "layers": "[0, 1]"},
    "simulations.pruning.metrics.accuracy": {"logits": "X(10, 3)", "labels": "labels(10)"},
    "simulations.pruning.metrics.aggregate": {"rows": "rng_rows()", "by": "('method',)", "value": "'value'"},
    "simulations.pruning.metrics.ratios_for_compression": {"compressions": "(2.0, 4.0)"},
    "simulations.pruning.metrics.summary": {"weights_before": "weights()", "result": "magnitude_prune_result()"},
    "simulations.pruning.one_shot.prune": {"method": "'magnitude'", "ratio": "0.5"},
    "simulations.pruning.one_shot.magnitude_prune": {"ratio": "0.5"},
    "simulations.pruning.one_shot.node_prune": {"ratio": "0.5"},
    "simulations.pruning.one_shot.random_prune": {"ratio": "0.5"},
    "simulations.pruning.one_shot.spectral_prune": {"ratio": "0.5"},
    "simulations.sweep.report.plot_metric": {"rows": "rng_rows()", "metric": "'value'", "x": "'seed'"},
    "simulations.nn.train.StopRules": {"max_steps": "3"},
    "simulations.nn.backends.base.check_workspace": {"config": "step_config()", "eval_batch_size": "8"},
    "simulations.nn.backends.base.workspace_bytes": {"spec": "spec()", "batch_size": "8", "eval_batch_size": "8"},
    "simulations.pruning.one_shot.removal_count": {"values_in_order": "np.sort(np.abs(x(20)))", "eps": "0.1"},
    "simulations.pruning.study.layer_statistics": {},
    "simulations.pruning.study.reproduction_sweeps": {"quick": "True"},
    "simulations.noise_compression.study.default_sweeps": {"quick": "True"},
    "simulations.noise_compression.study.comparison_table": {"store": "store()"},
    "simulations.noise_compression.study.table_markdown": {"rows": "[]"},
    "simulations.pruning.allocation_study.allocation_table": {"store_or_rows": "[]"},
    "simulations.pruning.allocation_study.format_allocation_table": {"table": "[]"},
    "simulations.pruning.allocation.greedy_allocation": {"curves": "[np.arange(5.0) ** 2, np.arange(4.0) ** 2]", "n_prune": "3"},
    "simulations.pruning.tables.baselines_table": {"store_or_rows": "[]"},
    "simulations.pruning.tables.curve_table": {"store_or_rows": "[]"},
    "simulations.pruning.tables.heavy_tail_rows": {"store_or_rows": "[]"},
    "simulations.pruning.tables.trend_summary": {"store_or_rows": "[]"},
    "simulations.pruning.tables.format_baselines_table": {"table": "[]"},
    "simulations.pruning.tables.upgrade_row": {"row": "{'method': 'magnitude'}"},
    "simulations.sweep.config.canonical_json": {"obj": "{'a': 1, 'b': [1.0, 'x']}"},
    "simulations.sweep.config.jsonable": {"obj": "{'a': 1, 'b': (1.0, 'x')}"},
    "simulations.sweep.config.config_to_dict": {"config": "make_toy_config()"},
    "simulations.sweep.config.field_specs": {"cls": "toy_config_class()"},
    "simulations.sweep.config.validate_config": {"cls": "toy_config_class()"},
    "simulations.sweep.plan.expand_grid": {"experiment": "'toy'", "grid": "{'lr': [0.1, 0.2]}"},
    "simulations.sweep.plan.run_hash": {"experiment": "'toy'", "config": "make_toy_config()", "seed": "0"},
    "simulations.sweep.plan.run_specs": {"experiment": "'toy'", "configs": "[make_toy_config()]", "seeds": "[0, 1]"},
    "simulations.sweep.plan.as_seeds": {"seeds": "[0, 1]"},
    "simulations.sweep.registry.get_experiment": {"name": "'toy'"},
    "simulations.sweep.registry.make_config": {"experiment": "'toy'"},
    "simulations.sweep.registry.Diverged": {},
    "simulations.sweep.report.format_table": {"rows": "rng_rows()"},
    "simulations.sweep.report.rows_to_csv": {"rows": "rng_rows()"},
    "simulations.sweep.report.rows_to_json": {"rows": "rng_rows()"},
    "simulations.sweep.report.store_report": {"store": "store()", "rows": "rng_rows()"},
    "simulations.sweep.store.ResultsStore": {"path": "'fuzz_store2.sqlite'"},
    "simulations.sweep.sweep_file.load_sweep": {"path": "sweep_file()"},
    "simulations.sweep.study.lyapunov_exponent": {"lr": "0.1", "batch_size": "2"},
    "simulations.sweep.study.lyapunov_table": {"sweep": "toy_sweep_result()"},
    "simulations.sweep.executors.make_executor": {"workers": "0"},
    "simulations.tail_index.study.sample_law": {"law": "'stable'", "param": "1.5", "n": "50"},
    "simulations.tail_index.study.format_table": {"rows": "bias_rows()"},
    "simulations.tail_index.estimators.weight_tail_index": {"W": "W(20, 20)"},
    "simulations.spectra.layers.esd": {"W": "W(20, 20)"},
    "simulations.spectra.layers.layer_spectrum": {"W": "W(20, 20)"},
    "simulations.spectra.layers.spectral_alpha": {"W": "W(20, 20)"},
    "simulations.spectra.layers.network_spectra": {"weights": "[W(20, 20), W(30, 20)]"},
    "simulations.spectra.layers.network_summary": {
        "spectra": "[__import__('simulations.spectra').spectra.layer_spectrum(W(20, 20))]"},
    "simulations.spectra.power_law.power_law_fit": {"x": "np.abs(x(50))"},
    "simulations.compressibility.study.ratio_vs_n": {"law": "norm()", "ns": "(50, 100)", "n_seeds": "2"},
    "simulations.compressibility.study.convergence_limits": {},
    "simulations.compressibility.study.sas_sampler": {"alpha": "1.5"},
    "theory.compressibility.quadrature.g_numeric": {"dist": "norm()", "kappa": "0.1"},
    "theory.compressibility.quadrature.moment_is_finite": {"dist": "norm()"},
    "theory.compressibility.stable_law.g_stable": {"alpha": "1.5", "kappa": "0.1"},
    "theory.compressibility.common.limit_prunable_fraction": {"g": "lambda k: 1.0 - k", "eps": "0.1"},
    "theory.compressibility.closed_forms.derivation": {"name": "'pareto'"},
    "theory.compressibility.closed_forms.closed_form": {"name": "'pareto'"},
    "theory.kesten.quadrature.log_h_g": {"s": "1.0", "g": "0.1", "b": "2", "d": "3"},
    "theory.kesten.quadrature.rho_g": {"g": "0.1", "b": "2", "d": "3"},
    "theory.kesten.numeric.tail_index_curve": {"lrs": "(0.1, 0.5)"},
    "theory.noise_injection.chaos_rate": {"n": "10"},
    "theory.noise_injection.step_size_bound": {"n": "10", "alpha": "1.5"},
    "theory.noise_injection.steps_required": {"t": "1.0", "n": "10", "alpha": "1.5"},
    "theory.noise_injection.satisfies_step_size_condition": {"lr": "0.01", "n": "10", "alpha": "1.5"},
    "theory.noise_injection.trend_consistent": {"slope_ci": "(-0.1, 0.1)"},
    "theory.noise_injection.gaussian_noise_limit": {"d": "3", "init_var": "1.0", "sigma": "0.5", "t": "1.0"},
    "theory.stable.abs_moment": {"p_values": "(0.5, 1.0)"},
    "theory.stable.cf": {"t_values": "(0.5, 1.0)"},
    "theory.stable.tail_asymptotic": {"x_values": "(10.0, 100.0)"},
    "theory.stable.s0_to_s1_loc": {"loc0": "0.0"},
    "theory.stable.s1_to_s0_loc": {"loc1": "0.0"},
    "theory.kesten.monotonicity.check_monotone_batch_size": {"b1": "1", "b2": "2", "lr": "0.1", "d": "3"},
    "theory.kesten.monotonicity.check_monotone_d": {"d1": "1", "d2": "3", "lr": "0.1", "batch_size": "2"},
    "theory.kesten.monotonicity.check_monotone_lr": {"lr1": "0.1", "lr2": "0.2", "batch_size": "2", "d": "3"},
    "theory.kesten.monotonicity.check_monotone_sigma": {"sigma1": "0.5", "sigma2": "1.0", "lr": "0.1",
                                                        "batch_size": "2", "d": "3"},
    "theory.kesten.monotonicity.alpha_at_fixed_ratio": {"batch_sizes": "(1, 2)"},
    # validators: the name they report is their ``name`` argument, so name it after the checked argument
    "theory.validation.check_real": {"name": "'value'", "value": "1.0"},
    "theory.validation.check_int": {"name": "'value'", "value": "1"},
    "theory.validation.check_bool": {"name": "'value'", "value": "True"},
    "theory.validation.check_choice": {"name": "'value'", "value": "'a'", "choices": "('a', 'b')"},
    "theory.validation.check_array": {"name": "'x'", "x": "x(5)"},
    "theory.validation.check_rows": {"name": "'rows'", "rows": "[{'a': 1}]", "keys": "('a',)", "what": "'demo'"},
    "theory.validation.check_positive": {"name": "'value'", "value": "1.0"},
    "theory.validation.check_probability": {"name": "'value'", "value": "0.5"},
    "simulations.pruning.masks.check_ratio": {"ratio": "0.5"},
    "simulations.pruning.masks.check_eps": {"eps": "0.1"},
    "simulations.nn.backends.get_backend": {},
    "theory.kesten.goldie.stationary_samples": {"draw_ab": "__import__('theory.kesten.goldie', fromlist=['_']).lomax_perpetuity_sampler(1.5)"},
    "theory.kesten.goldie.goldie_constant_mc": {"draw_ab": "__import__('theory.kesten.goldie', fromlist=['_']).lomax_perpetuity_sampler(1.5)", "n": "50", "steps": "20"},
    "simulations.compressibility.predicted.law_g": {
        "fit": "__import__('simulations.compressibility.predicted', fromlist=['_']).fit_law(x(), 'gennorm')"},
    "simulations.compressibility.predicted.format_table": {"rows": "__import__('simulations.compressibility.predicted', fromlist=['_']).predicted_vs_actual([x(40)], laws=('gennorm', 'empirical'))"},
    "simulations.compressibility.predicted_plots.layer_params_text": {"rows": "__import__('simulations.compressibility.predicted', fromlist=['_']).predicted_vs_actual([x(40)], laws=('gennorm', 'empirical'))", "layer": "'layer 1'"},
    "simulations.compressibility.predicted_plots.legend_handles": {"rows": "__import__('simulations.compressibility.predicted', fromlist=['_']).predicted_vs_actual([x(40)], laws=('gennorm', 'empirical'))"},
    "simulations.compressibility.predicted_plots.predicted_figure": {"rows": "__import__('simulations.compressibility.predicted', fromlist=['_']).predicted_vs_actual([x(40)], laws=('gennorm', 'empirical'))"},
}

# Callables whose documented result may be non-finite (the finiteness check is off for them).
DOCUMENTED_NONFINITE: dict[str, str] = {
    "simulations.tail_index.estimators.pickands": "documented: inf when the estimated extreme-value index is <= 0",
    "theory.stable.abs_moment": "documented: E|X|^p = inf for p >= alpha < 2 (an infinite moment)",
    "simulations.tail_index.estimators.hill": "documented: inf when the k+1 largest magnitudes are equal",
}
# Callables called with positional arguments (none at present: the sympy Function classes that take
# *args are internal to theory.compressibility).
POSITIONAL: frozenset[str] = frozenset()

# Parameter kinds the signature cannot tell (``value: Any`` of the validators), per callable.
KINDS: dict[str, dict[str, str]] = {
    "theory.validation.check_real": {"value": "real"},
    "theory.validation.check_positive": {"value": "real"},
    "theory.validation.check_probability": {"value": "real"},
    "theory.validation.check_int": {"value": "int"},
    "theory.validation.check_bool": {"value": "bool"},
    "theory.validation.check_choice": {"value": "option"},
    # documented as "a scalar or an array of length K" (one value per network)
    "simulations.noise_injection.ensemble.train_ensemble": {
        k: "object" for k in ("width", "alpha", "sigma", "lr", "lr_second")},
    # documented as an array of shape (dim,) or (n_paths, dim), or a number
    "simulations.sde.api.euler_maruyama": {"x0": "object"},
    # documented as a number or an array of them
    "theory.compressibility.quadrature.g_numeric": {"kappa": "object"},
    "theory.compressibility.stable_law.g_stable": {"kappa": "object"},
    "theory.noise_injection.chaos_rate": {"n": "object"},
    "theory.noise_injection.step_size_bound": {"n": "object"},
    # any JSON value, None included: not perturbed
    "simulations.sweep.config.canonical_json": {"obj": "label"},
    "simulations.sweep.config.jsonable": {"obj": "label"},
}

# Parameters never perturbed (free-text labels, whose wrong type is harmless), per callable or everywhere.
NOT_PERTURBED_NAMES = frozenset({"name", "label", "title", "help", "description", "message", "action", "what"})
NOT_PERTURBED: dict[str, frozenset[str]] = {
    "theory.compressibility.common.limit_prunable_fraction": frozenset({"g"}),
}
# ``name`` IS an option (not a label) for these callables
NAME_IS_OPTION = frozenset({
    "theory.compressibility.closed_forms.derivation", "theory.compressibility.closed_forms.closed_form",
    "simulations.sweep.registry.get_experiment",
    "simulations.noise_injection.data.apply_activation",
})

# --------------------------------------------------------------------------------------------------
# Name vocabulary: (regex on the parameter name, kind, valid expression for a required parameter)
VOCAB: list[tuple[str, str, str]] = [
    (r"^seeds?$", "seed", "0"),
    (r"^alpha$", "real", "1.5"),
    (r"^beta$", "real", "0.0"),
    (r"^(alphas|sigmas|kappas|lrs|ratios|t_values|x_values|p_values|dts|compressions|targets)$", "seq_real", "(0.5, 1.0)"),
    (r"^(ns|widths|milestones|layers|sizes|batch_sizes|block_sizes|snapshot_at|skip_layers)$", "seq_int", "(10, 20)"),
    (r"^(steps|n_steps)$", "int", "10"),
    (r"^(n|size|n_\w+|k|m|dim|width|c|b|b1|b2|d|d1|d2|batch_size|rounds|replicates|workers|threads|"
     r"ratio_index|warmup|averaging|record_every|eval_every|start_step|rewind_step|checkpoint_every|"
     r"parent_pid|burn_in|subsequence_start)$", "int", "5"),
    (r"^(lr\d?|lr_\w+|dt|sigma\d?|scale|\w+_scale|t|T|theta|h|kappa|eps|gamma|ratio|level|init_var|"
     r"momentum|weight_decay|noise_sd|threshold|separation|label_noise|s_max|xtol|clip|loc\d?|"
     r"prune_fraction|flat_margin|max_loss|interpolation_loss|target_train_acc|s|g|p|q|z|a|x0|"
     r"low|high|lr_exponent|init_scale|second_scale|finetune_lr)$", "real", "0.5"),
    (r"^(x|W|values|errors|logits|values_in_order)$", "array", "x()"),
    (r"^X$", "array", "X()"),
    (r"^(y|labels)$", "array", "labels()"),
    (r"^(weights|weights_before|final|initial|scores)$", "arrays", "weights()"),
    (r"^(masks)$", "arrays", "masks()"),
    (r"^spec$", "object", "spec()"),
    (r"^data$", "object", "data()"),
    (r"^params$", "object", "params()"),
    (r"^mask$", "object", "mask()"),
    (r"^teacher$", "object", "teacher()"),
    (r"^(dist|law)$", "object", "norm()"),
    (r"^stop$", "object", "stop()"),
    (r"^(rows|store_or_rows|table)$", "object", "rng_rows()"),
    (r"^store$", "object", "store()"),
    (r"^dtype$", "dtype", "np.float64"),
    (r"^(path|root|checkpoint_path)$", "path", "'fuzz_file'"),
    (r"^(backend)$", "option", "'cpu'"),
    (r"^(kind|criterion|scope|mode|method|activation|loss|init|noise|param|form|center|side|estimator|"
     r"normalize|split|sampling|rewind|control|unit|score|fill|spread|eval_train|second_init|"
     r"on_drift_error|dataset|experiment|metric|hue)$", "option", ""),
    (r"^(quick|download|flatten|average|bias|center|prune_outgoing|drop_last|logx|logy|progress|"
     r"include_diverged|train_second_layer|moment_finite|gaussian|alpha_is_one|create|readonly|"
     r"\w+_open|open_\w+|optional|required)$", "bool", "False"),
]

STR_OPTION_VOCAB = {"criterion": "'large_final'", "scope": "'layer'", "method": "'magnitude'", "law": "'stable'",
                    "kind": "'entry'", "activation": "'relu'", "noise": "'entry'", "dataset": "'synthetic'",
                    "experiment": "'toy'", "mode": "'entries'", "side": "'two'", "form": "'gamma'"}


@dataclass
class Param:
    name: str
    kind: str                      # bool int real option array arrays seq_int seq_real seed dtype path object
    valid: str | None              # expression passed when not perturbed; None: omitted (default applies)
    optional: bool                 # None is a valid value
    default: str | None = None     # repr of the default value, when it has one
    required: bool = False


@dataclass
class Plan:
    target: str
    short: str
    params: list[Param] = field(default_factory=list)
    skip: str | None = None
    fixed: dict[str, str] = field(default_factory=dict)   # always-passed valid arguments


def skip_reason(name: str, obj) -> str | None:
    if name in SKIP:
        return SKIP[name]
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return "exception class"
    for pat, why in SKIP_PATTERNS:
        if re.search(pat, name):
            return why
    return None


def _annotation(p: inspect.Parameter) -> str:
    a = p.annotation
    if a is inspect.Parameter.empty:
        return ""
    return a if isinstance(a, str) else getattr(a, "__name__", str(a))


def _module_options(obj, pname: str) -> tuple[str, ...]:
    """String options from a module constant named after the parameter (SCOPES, CRITERIA, _MODES, ...)."""
    mod = sys.modules.get(getattr(obj, "__module__", ""), None)
    if mod is None:
        return ()
    up = pname.upper()
    cands = {up, up + "S", up + "ES", "_" + up + "S", "_" + up + "ES", up[:-3] + "ERIA" if up.endswith("ERION") else up}
    for cname in cands:
        v = getattr(mod, cname, None)
        if isinstance(v, (tuple, list, frozenset)) and v and all(isinstance(e, str) or e is None for e in v):
            return tuple(e for e in v if isinstance(e, str))
    return ()


def _kind_from_default(d) -> str | None:
    import numpy as np
    if isinstance(d, bool):
        return "bool"
    if isinstance(d, int):
        return "int"
    if isinstance(d, float):
        return "real"
    if isinstance(d, str):
        return "option"
    if isinstance(d, np.ndarray):
        return "array"
    if isinstance(d, tuple):
        if d and all(isinstance(e, int) and not isinstance(e, bool) for e in d):
            return "seq_int"
        if d and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in d):
            return "seq_real"
        return "object"
    if isinstance(d, type) and issubclass(d, np.generic):
        return "dtype"
    return None


def _kind_from_annotation(a: str) -> str | None:
    a = a.replace(" ", "")
    base = a.replace("|None", "").replace("None|", "")
    table = {"bool": "bool", "int": "int", "float": "real", "str": "option", "np.ndarray": "array",
             "tuple[int,...]": "seq_int", "Sequence[int]": "seq_int", "list[int]": "seq_int",
             "Sequence[float]": "seq_real", "list[float]": "seq_real", "Iterable[float]": "seq_real",
             "Sequence[np.ndarray]": "arrays", "list[np.ndarray]": "arrays", "str|Path": "path",
             "str|os.PathLike": "path"}
    return table.get(base)


def classify(target_name: str, obj, p: inspect.Parameter) -> Param:
    """Kind and valid value of one parameter: seed by name; else default type; annotation; name vocabulary."""
    has_default = p.default is not inspect.Parameter.empty
    ann = _annotation(p)
    optional = (has_default and p.default is None) or "None" in ann or "Optional" in ann
    vocab_kind = vocab_valid = None
    for pat, k, v in VOCAB:
        if re.match(pat, p.name):
            vocab_kind, vocab_valid = k, v
            break
    kind = "seed" if vocab_kind == "seed" else None
    if kind is None and has_default and p.default is not None and p.default != ():
        kind = _kind_from_default(p.default)
    if kind is None:
        kind = _kind_from_annotation(ann)
    bare = ann.replace(" ", "").replace("|None", "").replace("None|", "")
    if kind is None and bare in ("", "Any"):
        kind = vocab_kind
    if p.name == "name" and target_name in NAME_IS_OPTION:
        kind = "option"
    if kind is None:
        kind = "object"
    valid = None
    if not has_default:
        if kind == "option":
            opts = _module_options(obj, p.name)
            valid = repr(opts[0]) if opts else STR_OPTION_VOCAB.get(p.name, vocab_valid or "'x'")
        else:
            valid = (vocab_valid if vocab_kind == kind else None) or {
                "bool": "False", "int": "5", "real": "0.5", "array": "x()", "arrays": "weights()",
                "seq_int": "(10, 20)", "seq_real": "(0.5, 1.0)", "seed": "0", "dtype": "np.float64",
                "path": "'fuzz_file'"}.get(kind, vocab_valid or "object()")
    default = repr(p.default) if has_default else None
    return Param(p.name, kind, valid, optional, default, not has_default)


def make_plan(target) -> Plan:
    """The parameters of one callable with their kinds and valid values (or the reason it is skipped)."""
    obj = target.obj
    plan = Plan(target.name, target.short)
    plan.skip = skip_reason(target.name, obj)
    if plan.skip:
        return plan
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        plan.skip = "no inspectable signature"
        return plan
    fixed = dict(CUSTOM.get(target.name, {}))
    blocked = NOT_PERTURBED.get(target.name, frozenset())
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind is p.POSITIONAL_ONLY:
            plan.skip = "positional-only parameters"
            return plan
        par = classify(target.name, obj, p)
        par.kind = KINDS.get(target.name, {}).get(p.name, par.kind)
        if p.name in fixed:
            par.valid = fixed[p.name]
        if p.name in blocked or (p.name in NOT_PERTURBED_NAMES and target.name not in NAME_IS_OPTION):
            par.kind = "label"
        plan.params.append(par)
    plan.fixed = {p.name: p.valid for p in plan.params if p.valid is not None}
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        for k, v in fixed.items():           # keyword options passed through **kwargs
            plan.fixed.setdefault(k, v)
    return plan


# --------------------------------------------------------------------------------------------------
# Values per kind. ``p`` gives access to the default (an option's own default, say).

def type_wrong_values(p: Param) -> list[str]:
    none = [] if p.optional else ["None"]
    d = p.default if p.kind == "option" and p.default not in (None, "None") else (p.valid or "'x'")
    table = {
        "bool": ["1", "0", "np.array([True])", "'yes'", "1.0", *none],
        "option": [f"np.array([{d}])", "3", f"[{d}]", "b'x'", *none],
        "int": ["'a'", "1.5", "[1]", "True", "np.array([1, 2])", *none],
        "real": ["'a'", "[1.0]", "object()", "True", "1j", "np.array([1.0, 2.0])", *none],
        "array": ["'abc'", "np.array([object(), 1.0], dtype=object)", "np.array(['a', 'b'])",
                  "{'a': 1}", "np.array([1 + 2j, 3j])", *none],
        "arrays": ["'abc'", "[np.array(['a', 'b'])]", "[object()]", "3", *none],
        "seq_real": ["'abc'", "[object()]", "[('a',)]", "[1j]", *none],
        "seq_int": ["'abc'", "(1.5,)", "[object()]", "(True,)", *none],
        "seed": ["'abc'", "1.5", "object()", "[1.5]", "True"],
        "dtype": ["object()", "3", "[np.float32]"],
        "path": ["3", "object()", "[1]", *none],
        # an unannotated or union-typed object may validly be a number or a string; only a bare
        # object() (and None where not optional) is wrong for every such parameter
        "object": ["object()", *none],
    }
    return table.get(p.kind, [])


def extreme_values(p: Param) -> list[str]:
    d = p.default if p.kind == "option" and p.default not in (None, "None") else (p.valid or "'x'")
    if not (d.startswith("'") or d.startswith('"')):
        d = "'x'"
    table = {
        "bool": ["False", "True", "np.True_", "np.False_"],
        "option": ["''", "'bogus'", f"{d}.upper()", f"' ' + {d}", "'\\x00'"],
        "int": ["0", "-1", "1", "2**31", "2**63", "10**18", "-(2**63)", "np.int64(2**62)", "2"],
        "real": ["0.0", "-1.0", "1e-300", "1e300", "-1e300", "float('nan')", "float('inf')", "-float('inf')",
                 "5e-324", "2.0", "1.0", "np.float32(1e30)", "-0.0"],
        "array": ["np.zeros(0)", "np.full(1, 1.0)", "np.full(50, 1e200)", "np.full(50, -1e200)", "np.zeros(50)",
                  "np.full(50, np.nan)", "np.full(50, np.inf)", "np.ones((50, 0))", "x(51)", "x(2)",
                  "np.ones((2, 2, 2))", "x(50).astype(np.float32)", "np.arange(50)", "np.full(50, 5e-324)"],
        "arrays": ["[]", "[np.zeros((0, 3))]", "[np.full((3, 4), 1e200)]", "[np.full((3, 4), np.nan)]",
                   "[np.ones(4)]", "[np.ones((3, 4)), np.ones((5, 5))]", "[np.zeros((6, 4)), np.zeros((3, 6))]",
                   "[np.ones((2, 2, 2))]"],
        "seq_real": ["()", "(0.0,)", "(-1.0,)", "(float('nan'),)", "(1e300,)", "(1e-300,)", "np.zeros(0)",
                     "(1.0,) * 10", "(float('inf'), 1.0)"],
        "seq_int": ["()", "(0,)", "(-1,)", "(2**31,)", "(2**63,)", "(1,)", "(3, 2**40)", "(10**18,)"],
        "seed": ["-1", "2**63", "2**128", "np.random.SeedSequence(0)", "np.random.default_rng(0)", "0"],
        "dtype": ["np.int64", "'float16'", "np.complex128", "np.float32", "'float32'", "'bogus'"],
        "path": ["''", "'.'", "'nonexistent_dir/file'", "'a' * 300"],   # relative: inside the scratch folder
        "object": ["None"] if p.optional else [],
    }
    return table.get(p.kind, [])


def _number_strategy(kind: str):
    """Arbitrary in-type numbers drawn by hypothesis (long profile only), as expressions."""
    if kind == "int":
        return st.integers(-(2**64), 2**64).map(repr)
    if kind == "real":
        return st.floats(allow_nan=True, allow_infinity=True).map(lambda v: f"float({str(v)!r})")
    if kind == "array":
        return st.tuples(st.integers(0, 60), st.floats(allow_nan=True, allow_infinity=True)).map(
            lambda t: f"np.full({t[0]}, float({str(t[1])!r}))")
    return None


def value_strategy(p: Param, cls: str, arbitrary: bool):
    vals = type_wrong_values(p) if cls == "type" else extreme_values(p)
    if not vals:
        return None
    s = st.sampled_from(vals)
    if cls == "extreme" and arbitrary:
        extra = _number_strategy(p.kind)
        if extra is not None:
            s = st.one_of(s, extra)
    return s


@dataclass(frozen=True)
class Call:
    target: str
    short: str
    args: tuple[tuple[str, str], ...]   # (name, expression) in signature order
    param: str                           # the perturbed parameter ("" for the valid base call)
    cls: str                             # "base", "type" or "extreme"

    def __str__(self) -> str:
        return f"{self.short}({', '.join(f'{k}={v}' for k, v in self.args)})"


def base_call(plan: Plan) -> Call:
    return Call(plan.target, plan.short, tuple(plan.fixed.items()), "", "base")


def _call(plan: Plan, pname: str, expr: str, cls: str) -> Call:
    args = []
    for par in plan.params:
        if par.name == pname:
            args.append((par.name, expr))
        elif par.name in plan.fixed:
            args.append((par.name, plan.fixed[par.name]))
    known = {par.name for par in plan.params}
    args += [(k, v) for k, v in plan.fixed.items() if k not in known]
    return Call(plan.target, plan.short, tuple(args), pname, cls)


def draw_calls(plan: Plan, cls: str, n: int, *, arbitrary: bool = False, max_examples: int | None = None) -> list[Call]:
    """Up to ``n`` distinct calls of class ``cls`` drawn by hypothesis (deterministic: derandomized)."""
    cands = [(par, value_strategy(par, cls, arbitrary)) for par in plan.params if par.kind != "label"]
    cands = [(par, s) for par, s in cands if s is not None]
    if not cands or n <= 0:
        return []
    strategy = st.sampled_from(range(len(cands))).flatmap(
        lambda i: st.tuples(st.just(cands[i][0].name), cands[i][1]))
    out: dict[str, Call] = {}

    @settings(max_examples=max_examples or max(4 * n, 20), derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(pv):
        if len(out) < n:
            c = _call(plan, pv[0], pv[1], cls)
            out.setdefault(str(c), c)

    collect()
    return list(out.values())
