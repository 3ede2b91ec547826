"""tailcomp symbolic side: sympy derivations and their numeric (lambdified) twins.

* :mod:`theory.stable` — α-stable laws: characteristic functions in the S0/S1
  parameterizations (Nolan 2020), fractional and logarithmic moments, the tail constant
  C_α = (2/π) Γ(α) sin(πα/2) (Samorodnitsky & Taqqu 1994, Property 1.2.15);
* :mod:`theory.compressibility` — the limit G_p[F](κ) of the relative best k-term error of
  iid vectors (Gribonval, Cevher & Davies 2012): sympy closed forms, quadrature, SαS laws;
* :mod:`theory.kesten` — heavy tails of SGD on linear regression as a Kesten recursion;
* :mod:`theory.noise_injection` — noise-injected SGD on two-layer networks;
* :mod:`theory.validation` — the input checks shared with :mod:`simulations`.

``theory`` never imports ``simulations``.
"""
__version__ = "0.1.0"
