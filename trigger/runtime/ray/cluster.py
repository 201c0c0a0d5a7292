"""Starting or joining the Ray cluster the farm runs on.

Token authentication (decided deliberately): Ray 2.60 turns token auth on by
default for a new local cluster (``ray.init()`` writes ``~/.ray/auth_token``)
and logs a warning saying so. Ray executes arbitrary code for anyone who can
reach its ports, so the farm *keeps* token auth on, and silences only that
"enabled by default" warning, since it is the farm's choice, not a surprise.
The variable is not set by the farm: Ray reads ``RAY_AUTH_MODE`` once per
process (before ``ray.init`` can change it), and Ray's own default path enables
token mode consistently for the driver and the cluster it starts. An explicit
``RAY_AUTH_MODE`` (``disabled`` on an isolated test box, ``token`` in a
RayCluster) is respected. Joining a cluster (``--address``) uses the mode and
token the environment gives (KubeRay injects ``RAY_AUTH_MODE`` and the token
into every pod) or the token in ``~/.ray/auth_token``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import ray

from trigger.errors import ConfigError

__all__ = ["RayConnection", "connect"]

AUTH_MODE_ENV = "RAY_AUTH_MODE"


@dataclass(slots=True)
class RayConnection:
    """The cluster a farm runs on.

    Attributes:
        started_here: This process started a local cluster (and stops it).
        address: The cluster address (``local`` for one started here).
        auth_mode: ``token`` or ``disabled``.
        ray_version: Ray's version.
        dashboard_url: The dashboard, if one runs.
    """

    started_here: bool
    address: str
    auth_mode: str
    ray_version: str
    dashboard_url: str | None = None

    def describe(self) -> dict[str, Any]:
        """For the summary."""
        return {"address": self.address, "auth_mode": self.auth_mode, "ray_version": self.ray_version,
                "started_here": self.started_here, "dashboard_url": self.dashboard_url}

    def close(self) -> None:
        """Stop the local cluster if this process started it."""
        if self.started_here and ray.is_initialized():
            ray.shutdown()


def connect(*, address: str | None = None, num_cpus: int | None = None, include_dashboard: bool = False) -> RayConnection:
    """Join ``address``, reuse an initialized Ray, or start a local cluster.

    Args:
        address: A cluster address (``auto``, ``ray://…``, ``host:port``); None
            starts a local cluster with ``num_cpus`` CPUs.
        num_cpus: CPUs of a local cluster (default: all cores).
        include_dashboard: Start the dashboard (and its metrics endpoint) with
            a local cluster.

    Returns:
        The connection.

    Raises:
        ConfigError: If the cluster cannot be reached.
    """
    if ray.is_initialized():  # an embedding program (or a test) owns the cluster
        return RayConnection(False, "existing", os.environ.get(AUTH_MODE_ENV, "unset"), ray.__version__)
    started = address is None
    # Keep Ray's secure default (token auth on), without its "enabled by default" warning.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    try:
        ctx = ray.init(
            address=address,
            num_cpus=(num_cpus or os.cpu_count()) if started else None,
            include_dashboard=include_dashboard if started else None,
            logging_level="WARNING",
            configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise ConfigError(f"cannot start or join {where}: {err}; check --address "
                          "(e.g. 'auto' inside a RayCluster pod, or host:6379) and RAY_AUTH_MODE/RAY_AUTH_TOKEN") from err
    dashboard = getattr(ctx, "dashboard_url", None) or None
    return RayConnection(started, address or "local", os.environ.get(AUTH_MODE_ENV, "auto"), ray.__version__,
                         f"http://{dashboard}" if dashboard else None)
