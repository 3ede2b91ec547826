"""Fuzz test of every public callable of :mod:`theory` and :mod:`simulations`.

Design
------
* :mod:`.discover` walks both packages with ``pkgutil``, imports every non-underscore module
  that is not a kernel module (the kernel list of the import-linter contract in
  ``pyproject.toml`` plus the kernel file names and ``_core``), reads each ``__all__`` and keeps
  the project's functions and classes, deduplicated by identity under their canonical name.
* :mod:`.strategies` derives each parameter's kind and a valid value from its default, its
  annotation and a name vocabulary, with an explicit SKIP table (each entry with its reason)
  and a CUSTOM table of valid arguments that cap the work of heavy callables. Each call
  perturbs ONE parameter, either with a type-wrong value (must raise TypeError/ValueError naming
  it) or an in-type extreme value (must raise naming some parameter, or return finite numbers).
  Calls are drawn by hypothesis (derandomized, no database) and deduplicated by their text.
* :mod:`.runner` runs the calls in a small pool of long-lived forkserver workers
  (:mod:`.worker`: 4 GiB address space, one numba/BLAS thread, a scratch working directory);
  each callable's valid base call runs first under a generous budget (numba compilation), then
  its calls under the per-call bound; a worker that hangs or dies is killed and replaced.
* :mod:`.oracle` turns what a call raised or returned into an outcome class (ok, ok_other,
  silently_accepted, unnamed_error, nonfinite, crash, hang, base_error).

Profiles
--------
quick
    3 type-wrong + 3 extreme calls per callable, 10 s per call, 2 workers; run by
    ``tests/test_fuzz_public.py``, which allows only the failures listed in
    :mod:`.known_failures` (and requires every listed one to still fail).
long
    up to 100 + 100 calls per callable (hypothesis also draws arbitrary ints and floats), 60 s
    per call::

        python -m tests._fuzz --profile long --report fuzz_long.json [--summary fuzz_long.txt]
        make fuzz FUZZ_REPORT=fuzz_long.json

    ``--only NAME ...`` restricts the run to some canonical names. The JSON report holds the
    counts per outcome, the number of distinct calls, and every failure with its callable, its
    call (a reproducer after ``from tests._fuzz.values import *``), outcome and message.
"""
