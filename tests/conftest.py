"""The test suite runs in two test workers (pytest-xdist, ``addopts`` in pyproject.toml: CI has two
cores), each with torch on one thread: the machines it runs on are shared, and torch's default of
one thread per core, taken by a test while another job computes, slows both down many times over.
Commands started by the tests inherit it (``OMP_NUM_THREADS``)."""

import torch

from molgym import set_threads

set_threads(1)


def pytest_report_header(config):
    return f"torch threads: {torch.get_num_threads()} (pinned by tests/conftest.py; OMP_NUM_THREADS for subprocesses)"
