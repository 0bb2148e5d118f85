"""Suite-wide test settings.

Property tests run derandomized by default, so a CI run is repeatable and a failure reproduces on the next
run; set HYPOTHESIS_PROFILE=explore to draw fresh random inputs locally (the fuzz suites have their own seed
knobs, see tests/adversarial/test_fuzz_compiler.py).
"""
import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
