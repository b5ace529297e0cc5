"""Ray, the optional distributed engine (``pip install 'molgym[ray]'``): comparisons run their
(task, agent, seed) runs as Ray tasks (:mod:`molgym.compare`), and the batched env can score final
rewards on Ray actors (:class:`molgym.rewards.scoring.BatchScorer`)."""

from __future__ import annotations

__all__ = ["import_ray", "start_ray"]


def import_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("Ray is not installed: pip install 'molgym[ray]'") from None
    return ray


def start_ray(address: str | None = None) -> bool:
    """Connect to the cluster at ``address``, or start a local Ray instance (no dashboard), unless
    this process is connected already; returns whether it connected here (then the caller shuts it down)."""
    import os
    import sys

    ray = import_ray()
    if ray.is_initialized():
        return False
    # a local instance's workers import what this process imports (a user's module:Class agent, say)
    local = {"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}} if address is None else None
    ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env=local)
    return True
