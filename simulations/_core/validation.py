"""Input validation for :mod:`simulations`: the helpers live in :mod:`theory.validation`.

They sit in ``theory`` because data flows one way (``theory`` never imports
``simulations``) and both packages validate their inputs the same way.
"""
from theory.validation import *  # noqa: F401,F403
from theory.validation import __all__  # noqa: F401
