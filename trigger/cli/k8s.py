"""``trigger k8s``: render the farm's Kubernetes manifests, apply them, watch them, delete them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

#: Command-line options that override config fields.
_OVERRIDES = {"image": "image", "namespace": "namespace", "queue": "queue", "priority": "priority",
              "gpus_per_worker": "gpus_per_worker", "max_filter_workers": "filter_max_workers",
              "replay_name": "replay_name"}


def _config_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("configuration (a preset, then --config FILE, then these options)")
    g.add_argument("--preset", default="base", choices=("base", "cpu", "gpu", "gpu-ha"),
                   help="starting point, same as the kustomize overlay of that name (default base)")
    g.add_argument("--config", type=Path, metavar="FILE", help="YAML of DeployConfig fields over the preset")
    g.add_argument("--image", help="container image (built from the Dockerfile)")
    g.add_argument("--namespace", help="namespace of the farm (default trigger)")
    g.add_argument("--queue", help="Kueue LocalQueue of replays")
    g.add_argument("--priority", help="replay priority: <name>-online or <name>-backfill")
    g.add_argument("--gpus-per-worker", type=int, metavar="N", help="nvidia.com/gpu per filter pod")
    g.add_argument("--max-filter-workers", type=int, metavar="N", help="most filter pods the autoscaler may add")
    g.add_argument("--replay-name", metavar="NAME", help="name of the replay RayJob (one per submission)")
    return common


def _cluster_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    common.add_argument("--context", help="kubeconfig context (default: the current one)")
    common.add_argument("--timeout-s", type=float, default=10.0, help="timeout of each API request (default 10)")
    return common


def add_parser(subparsers: Any) -> None:
    """Add the ``k8s`` subcommand and its ``render | apply | status | delete`` subcommands."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "k8s", help="deploy the farm on Kubernetes (KubeRay, Kueue)",
        description="Render the farm's manifests (online RayCluster, replay RayJob, Kueue queues) from a "
        "config and apply, inspect or delete them. Part 'farm' is applied once; part 'replay' is one replay "
        "submission. See docs/deploy-kubernetes.md.")
    sub = p.add_subparsers(dest="k8s_command", metavar="ACTION", required=True)
    config, cluster = _config_options(), _cluster_options()
    parts = ("farm", "replay", "all")
    r = sub.add_parser("render", parents=[config], help="print or write the manifests (no cluster needed)")
    r.add_argument("--part", choices=parts, default="all", help="which manifests (default all)")
    r.add_argument("--out", type=Path, metavar="DIR", help="write one file per object here (default: stdout)")
    r.add_argument("--validate-crds", type=Path, metavar="DIR",
                   help="check custom resources against the CustomResourceDefinition files in DIR")
    a = sub.add_parser("apply", parents=[config, cluster], help="server-side apply the manifests")
    a.add_argument("--part", choices=parts, default="farm", help="which manifests (default farm)")
    a.add_argument("--dry-run", action="store_true", help="let the API server check them, store nothing")
    s = sub.add_parser("status", parents=[config, cluster], help="state of the RayCluster and the replay RayJob")
    s.add_argument("--part", choices=parts, default="all", help="which manifests (default all)")
    d = sub.add_parser("delete", parents=[config, cluster], help="delete the manifests (keeps namespace and data)")
    d.add_argument("--part", choices=parts, default="farm", help="which manifests (default farm)")
    d.add_argument("--purge", action="store_true", help="also delete the namespace and the data volume")
    for action in (r, a, s, d):
        action.set_defaults(func=run)


def _render(args: argparse.Namespace) -> list[dict[str, Any]]:
    from trigger.k8s import load_config, render

    overrides = {field: getattr(args, option) for option, field in _OVERRIDES.items()}
    config = load_config(args.config, base=args.preset, overrides=overrides)
    return render(config, part=args.part)


def _validate(objects: list[dict[str, Any]], crd_dir: Path) -> list[str]:
    from trigger.k8s.crdschema import CrdSchemas

    schemas = CrdSchemas(crd_dir)
    return [e for obj in objects if schemas.knows(obj) for e in schemas.errors(obj)]


def run(args: argparse.Namespace) -> int:
    """Run one ``trigger k8s`` action; 1 with a message on stderr when it fails."""
    from trigger.k8s import to_yaml, write_manifests

    objects = _render(args)
    if args.k8s_command == "render":
        if args.validate_crds is not None:
            problems = _validate(objects, args.validate_crds)
            if problems:
                print("trigger: manifests do not match the CRDs:\n  " + "\n  ".join(problems), file=sys.stderr)
                return 1
        if args.out is None:
            sys.stdout.write(to_yaml(objects))
        else:
            paths = write_manifests(objects, args.out)
            print(f"trigger: wrote {len(paths)} manifests to {args.out}/", file=sys.stderr)
        return 0
    from trigger.k8s.client import ClusterClient

    client = ClusterClient(kubeconfig=args.kubeconfig, context=args.context, request_timeout_s=args.timeout_s)
    if args.k8s_command == "apply":
        lines = client.apply(objects, dry_run=args.dry_run)
    elif args.k8s_command == "delete":
        lines = client.delete(objects, purge=args.purge)
    else:
        lines = client.status(objects)
    for line in lines:
        print(line)
    return 0
