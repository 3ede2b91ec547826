"""The LeNet-5 sweep's grid and table: the table's statistics against the statistics module on hand-made rows."""
import statistics

import pytest

from simulations.experiments.pruning import ConvConfig
from simulations.pruning.conv_sweep import CONV, NOISE_VARIANTS, conv_sweeps, conv_table, format_conv_table


def test_grid_is_valid_and_covers_every_variant_and_seed():
    (name, cfgs, seeds), = conv_sweeps()
    assert name == CONV and seeds == [0, 1, 2] and len(cfgs) == 2 * len(NOISE_VARIANTS)
    for c in cfgs:
        ConvConfig(**c)  # every configuration passes the experiment's validation
        assert c["model"] == "lenet5" and c["noise_layers"] == (1, 2, 3) and "n_train" not in c  # full data
    (_, quick, qseeds), = conv_sweeps(quick=True, datasets=["mnist"])
    assert qseeds == [0] and {c["dataset"] for c in quick} == {"mnist"} and all(c["epochs"] == 1 for c in quick)
    with pytest.raises(ValueError, match="datasets"):
        conv_sweeps(datasets=["cifar10"])


def _row(seed, sigma, acc, mags, filts):
    return {"experiment": CONV, "status": "done", "dataset": "mnist", "model": "lenet5", "noise_sigma": sigma,
            "noise_kind": "neuron", "noise_alpha": 1.75, "seed": seed, "test_acc": acc, "sparsities": [0.9, 0.98],
            "acc_magnitude": mags, "filter_fractions": [0.5], "acc_filters": filts, "prunable_filters_overall": 0.1,
            "alpha_rows": [1.9, None], "train_seconds": 10.0}


def test_table_means_and_sds_over_seeds():
    rows = [_row(0, 0.0, 0.99, [0.98, 0.90], [0.7]), _row(1, 0.0, 0.97, [0.96, 0.80], [0.5]),
            _row(0, 1e-3, 0.95, [0.94, 0.70], [0.3]), _row(1, 1e-3, 0.93, [0.92, 0.60], [0.1])]
    out = conv_table(rows)
    assert [r["label"] for r in out] == [NOISE_VARIANTS[0][0], NOISE_VARIANTS[1][0]]
    plain = out[0]
    assert plain["n"] == 2 and plain["dense"] == pytest.approx(0.98)
    assert plain["dense_sd"] == pytest.approx(statistics.stdev([0.99, 0.97]))
    assert plain["magnitude"][0.98] == pytest.approx(0.85) and plain["magnitude_sd"][0.98] == pytest.approx(
        statistics.stdev([0.90, 0.80]))
    assert plain["filters"][0.5] == pytest.approx(0.6) and plain["alpha_rows"] == [pytest.approx(1.9), None]
    text = format_conv_table(out)
    assert "| mnist | plain SGD | 2 | 98.00 ± 1.41 |" in text and "85.0 ± 7.1" in text
