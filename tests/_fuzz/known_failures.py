"""Known failures of the quick fuzz profile: canonical callable name -> what fails.

``tests/test_fuzz_public.py`` fails on any failure (crash, hang, silently accepted, unnamed
error, non-finite result) of a callable not listed here, and on any listed callable that no
longer fails in the quick profile: remove an entry once its callable is fixed.
"""
KNOWN_FAILURES: dict[str, str] = {
    'simulations.compressibility.study.convergence_limits':
        'crash x1 (e.g. convergence_limits(p=np.float32(1e30)))',
    'simulations.nn.backends.base.workspace_bytes':
        "crash x1 (e.g. workspace_bytes(spec='abc', batch_size=8, eval_batch_size=8)); unnamed_error x2 (e.g. workspace_bytes(spec=spec(), batch_size=8, eval_batch_size='a'))",
    'simulations.nn.checkpoint.checkpoint_file':
        'unnamed_error x4 (e.g. checkpoint_file(path=3))',
    'simulations.nn.data.check_labels':
        "crash x1 (e.g. check_labels(name='y', y=labels(20), n=20, n_classes='a')); unnamed_error x1 (e.g. check_labels(name='y', y=labels(20), n=20, n_classes=None))",
    'simulations.nn.data.read_idx':
        "unnamed_error x1 (e.g. read_idx(path=''))",
    'simulations.nn.model.ones_mask':
        "crash x3 (e.g. ones_mask(spec='abc'))",
    'simulations.nn.train.train':
        "unnamed_error x1 (e.g. train(spec=spec(), data=data(), batch_size=8, stop=stop(), resume='abc'))",
    'simulations.noise_compression.study.comparison_table':
        "unnamed_error x1 (e.g. comparison_table(store='abc'))",
    'simulations.noise_compression.study.table_markdown':
        "unnamed_error x2 (e.g. table_markdown(rows='abc')); silently_accepted x1 (e.g. table_markdown(rows=None))",
    'simulations.noise_injection.data.apply_activation':
        "unnamed_error x4 (e.g. apply_activation(name=np.array(['tanh']), z=X(5, 3)))",
    'simulations.noise_injection.ensemble.init_weights':
        "unnamed_error x1 (e.g. init_weights(widths='abc', d=3))",
    'simulations.noise_injection.ensemble.train_ensemble':
        "unnamed_error x1 (e.g. train_ensemble(width='a', alpha=1.5, sigma=0.5, lr=0.01, steps=5, teacher=teacher(), batch_size=4))",
    'simulations.pruning.masks.check_layers':
        "unnamed_error x2 (e.g. check_layers(name='layers', layers=[0], n_layers='a'))",
    'simulations.pruning.masks.check_mask_list':
        "unnamed_error x2 (e.g. check_mask_list(masks=masks(), shapes='abc'))",
    'simulations.pruning.masks.check_masks':
        "unnamed_error x2 (e.g. check_masks(masks=masks(), weights='abc'))",
    'simulations.pruning.metrics.aggregate':
        "crash x1 (e.g. aggregate(rows='abc', by=('method',), value='value'))",
    'simulations.pruning.one_shot.removal_count':
        "unnamed_error x3 (e.g. removal_count(values_in_order='abc', eps=0.1))",
    'simulations.pruning.study.reproduction_sweeps':
        'silently_accepted x2 (e.g. reproduction_sweeps(quick=1)); unnamed_error x1 (e.g. reproduction_sweeps(quick=True, datasets=object()))',
    'simulations.pruning.tables.baselines_table':
        'unnamed_error x2 (e.g. baselines_table(store_or_rows=None))',
    'simulations.pruning.tables.format_baselines_table':
        "unnamed_error x3 (e.g. format_baselines_table(table='abc'))",
    'simulations.pruning.tables.upgrade_row':
        "unnamed_error x3 (e.g. upgrade_row(row='abc'))",
    'simulations.sweep.config.canonical_json':
        "silently_accepted x2 (e.g. canonical_json(obj='abc')); unnamed_error x1 (e.g. canonical_json(obj=object()))",
    'simulations.sweep.config.field_specs':
        "unnamed_error x3 (e.g. field_specs(cls='abc'))",
    'simulations.sweep.config.jsonable':
        "silently_accepted x2 (e.g. jsonable(obj='abc')); unnamed_error x1 (e.g. jsonable(obj=object()))",
    'simulations.sweep.config.validate_config':
        "crash x1 (e.g. validate_config(cls='abc')); unnamed_error x2 (e.g. validate_config(cls=toy_config_class(), overrides='abc'))",
    'simulations.sweep.executors.make_executor':
        "silently_accepted x2 (e.g. make_executor(workers=0, runs='a'))",
    'simulations.sweep.registry.get_experiment':
        "unnamed_error x3 (e.g. get_experiment(name=''))",
    'simulations.sweep.registry.make_config':
        "unnamed_error x2 (e.g. make_config(experiment='toy', values='abc'))",
    'simulations.sweep.report.format_table':
        "crash x1 (e.g. format_table(rows='abc')); silently_accepted x1 (e.g. format_table(rows=None)); unnamed_error x1 (e.g. format_table(rows=object()))",
    'simulations.sweep.report.plot_metric':
        "crash x1 (e.g. plot_metric(rows='abc', metric='value', x='seed'))",
    'simulations.sweep.report.rows_to_csv':
        "crash x1 (e.g. rows_to_csv(rows='abc')); unnamed_error x2 (e.g. rows_to_csv(rows=None))",
    'simulations.sweep.report.rows_to_json':
        "silently_accepted x2 (e.g. rows_to_json(rows='abc')); unnamed_error x1 (e.g. rows_to_json(rows=object()))",
    'simulations.sweep.report.store_report':
        "crash x5 (e.g. store_report(store='abc', rows=rng_rows()))",
    'simulations.sweep.store.ResultsStore':
        "unnamed_error x1 (e.g. ResultsStore(path=3)); crash x1 (e.g. ResultsStore(path=''))",
    'simulations.sweep.study.lyapunov_table':
        "crash x3 (e.g. lyapunov_table(sweep='abc'))",
    'simulations.sweep.sweep_file.load_sweep':
        "unnamed_error x4 (e.g. load_sweep(path=3)); crash x1 (e.g. load_sweep(path='a' * 300))",
    'theory.compressibility.closed_forms.derivation':
        "unnamed_error x1 (e.g. derivation(name=np.array(['pareto'])))",
    'theory.compressibility.special_functions.InvRegIncBeta':
        "silently_accepted x2 (e.g. InvRegIncBeta(a='a', b=3.0, q=0.5)); crash x1 (e.g. InvRegIncBeta(a=2.0, b=3.0, q=None))",
    'theory.compressibility.special_functions.InvRegUpperGamma':
        "silently_accepted x2 (e.g. InvRegUpperGamma(a='a', q=0.5)); crash x1 (e.g. InvRegUpperGamma(a=2.0, q=None))",
    'theory.compressibility.special_functions.RegIncBeta':
        "silently_accepted x2 (e.g. RegIncBeta(a='a', b=3.0, z=0.5)); crash x1 (e.g. RegIncBeta(a=2.0, b=3.0, z=None))",
    'theory.compressibility.special_functions.RegLowerGamma':
        "silently_accepted x2 (e.g. RegLowerGamma(a='a', z=0.5)); crash x1 (e.g. RegLowerGamma(a=2.0, z=None))",
    'theory.kesten.monotonicity.check_monotone_batch_size':
        "unnamed_error x2 (e.g. check_monotone_batch_size(b1='a', b2=2, lr=0.1, d=3))",
    'theory.kesten.monotonicity.check_monotone_d':
        "unnamed_error x2 (e.g. check_monotone_d(d1='a', d2=3, lr=0.1, batch_size=2))",
    'theory.kesten.monotonicity.check_monotone_lr':
        "unnamed_error x2 (e.g. check_monotone_lr(lr1='a', lr2=0.2, batch_size=2, d=3))",
    'theory.kesten.monotonicity.check_monotone_sigma':
        "unnamed_error x2 (e.g. check_monotone_sigma(sigma1='a', sigma2=1.0, lr=0.1, batch_size=2, d=3))",
    'theory.kesten.numeric.lr_critical_divergence':
        "unnamed_error x2 (e.g. lr_critical_divergence(batch_size=5, d=5, lr_max='a'))",
    'theory.kesten.quadrature.log_h_g':
        "unnamed_error x4 (e.g. log_h_g(s='a', g=0.1, b=2, d=3))",
    'theory.kesten.quadrature.rho_g':
        "unnamed_error x4 (e.g. rho_g(g='a', b=2, d=3))",
    'theory.noise_injection.chaos_rate':
        "unnamed_error x1 (e.g. chaos_rate(n='a')); silently_accepted x1 (e.g. chaos_rate(n=np.array([1, 2])))",
    'theory.noise_injection.predicted_limit':
        "silently_accepted x2 (e.g. predicted_limit(alpha=1.5, sigma=0.5, kappa=0.5, norm_law='abc'))",
    'theory.noise_injection.step_size_bound':
        "unnamed_error x1 (e.g. step_size_bound(n='a', alpha=1.5))",
    'theory.stable.abs_moment':
        "unnamed_error x1 (e.g. abs_moment(p_values='abc', alpha=1.5))",
    'theory.stable.abs_moment_expr':
        'silently_accepted x3 (e.g. abs_moment_expr(gaussian=1))',
    'theory.stable.cf':
        "unnamed_error x1 (e.g. cf(t_values='abc', alpha=1.5))",
    'theory.stable.cf_expr':
        'silently_accepted x2 (e.g. cf_expr(alpha_is_one=1))',
    'theory.stable.loc_s0_minus_s1_expr':
        'silently_accepted x3 (e.g. loc_s0_minus_s1_expr(alpha_is_one=1))',
    'theory.stable.log_cf_expr':
        'silently_accepted x2 (e.g. log_cf_expr(alpha_is_one=1))',
    'theory.stable.tail_asymptotic':
        "unnamed_error x1 (e.g. tail_asymptotic(x_values='abc', alpha=1.5))",
    'theory.validation.check_array':
        "silently_accepted x2 (e.g. check_array(name='x', x=x(5), finite=1))",
    'theory.validation.check_choice':
        "silently_accepted x1 (e.g. check_choice(name='value', value='a', choices='abc')); unnamed_error x1 (e.g. check_choice(name='value', value='a', choices=None))",
    'theory.validation.check_dtype':
        "unnamed_error x2 (e.g. check_dtype(dtype=np.float64, allowed='abc'))",
    'theory.validation.check_int':
        "unnamed_error x2 (e.g. check_int(name='value', value=1, high='a'))",
    'theory.validation.check_probability':
        "silently_accepted x2 (e.g. check_probability(name='value', value=0.5, open_high=1))",
    'theory.validation.check_real':
        "silently_accepted x2 (e.g. check_real(name='value', value=1.0, low_open=1))",
}
