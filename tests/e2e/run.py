#!/usr/bin/env python3
"""Runs barge's end-to-end tests: every tests/e2e/test_*.py, or the modules named on the
command line (for example `run.py test_compute_environments`)."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
names = sys.argv[1:]
loader = unittest.TestLoader()
if names:
    suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
else:
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2 if os.environ.get("VERBOSE") else 1).run(suite)
sys.exit(0 if result.wasSuccessful() else 1)
