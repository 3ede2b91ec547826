"""What every concept shares, and nothing concept-specific.

- :mod:`.validation` — argument checks that raise ``ValueError``/``TypeError`` naming the
  parameter and its valid range (re-exported from :mod:`theory.validation`, so that theory
  and simulations validate alike without theory importing simulations).
- :mod:`.codes` — the one table of integer codes (activations, losses, noise kinds, statuses)
  used by every CPU and CUDA kernel.
- :mod:`.seeding` — the one seeding recipe: seed → ``SeedSequence`` → a named child per consumer.
- :mod:`.device` — CUDA availability and host/device array checks (no kernels).
- :mod:`.jit_cache` — numba's on-disk cache keyed on every kernel source of the package, so that
  editing a helper module invalidates the kernels that compiled it in.
"""
