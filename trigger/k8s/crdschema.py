"""Validate custom resources offline against CustomResourceDefinition files.

A CRD's ``openAPIV3Schema`` leaves ``additionalProperties`` unset, and the API
server prunes unknown fields silently: a misspelt field (``minReplica``) would
apply fine and do nothing. :func:`strict` closes every object schema that
lists its properties, except under ``x-kubernetes-preserve-unknown-fields``, so
such a field is an error here. (``kubernetes-validate`` covers the built-in
kinds only and passes unknown kinds silently.)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from trigger.errors import ConfigError

__all__ = ["CrdSchemas", "strict"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the Ray CRDs are ~1 MB each


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` where every object with ``properties`` rejects other keys.

    Schemas that already say what other keys may be (``additionalProperties``)
    and subtrees marked ``x-kubernetes-preserve-unknown-fields`` are kept as they are.
    """
    out = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                close(item)
            return
        if not isinstance(node, dict) or node.get("x-kubernetes-preserve-unknown-fields"):
            return
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for key, child in node.items():
            if key in ("properties", "patternProperties"):
                for sub in child.values():
                    close(sub)
            elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
                close(child)

    close(out)
    return out


class CrdSchemas:
    """Strict validators for every kind defined by the CRD files in a folder.

    Args:
        crd_dir: Folder of CustomResourceDefinition YAML files.

    Raises:
        ConfigError: The folder holds no CRD.
    """

    def __init__(self, crd_dir: Path) -> None:
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self.scopes: dict[tuple[str, str], str] = {}
        for path in sorted(Path(crd_dir).glob("*.yaml")):
            for doc in yaml.load_all(path.read_text(), Loader=_Loader):
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    schema = strict(version["schema"]["openAPIV3Schema"])
                    # OpenAPI v3.0 schemas are closest to JSON Schema draft 4.
                    self._validators[key] = jsonschema.Draft4Validator(schema)
                    self.scopes[key] = spec["scope"]
        if not self._validators:
            raise ConfigError(f"no CustomResourceDefinition found in {crd_dir}")

    def knows(self, obj: dict[str, Any]) -> bool:
        """True when a CRD here defines ``obj``'s apiVersion and kind."""
        return (obj.get("apiVersion"), obj.get("kind")) in self._validators

    def errors(self, obj: dict[str, Any]) -> list[str]:
        """Every schema violation of ``obj`` as ``path: message`` (empty: valid).

        Raises:
            ConfigError: No CRD here defines the object's apiVersion and kind.
        """
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key not in self._validators:
            known = ", ".join(f"{k} {v}" for v, k in sorted(self._validators))
            raise ConfigError(f"no CRD defines apiVersion {key[0]} kind {key[1]} (known: {known})")
        found = sorted(self._validators[key].iter_errors(obj), key=lambda e: list(e.absolute_path))
        name = obj.get("metadata", {}).get("name", "?")
        return [f"{key[1]} {name}: {'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in found]
