"""tailcomp symbolic side: sympy derivations and their numeric (lambdified) twins.

``theory`` never imports ``simulations``.
"""
__version__ = "0.1.0"
