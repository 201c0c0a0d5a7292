"""Strict CRD validation: closed object schemas, except where the CRD keeps unknown fields."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trigger.errors import ConfigError
from trigger.k8s.crdschema import CrdSchemas, strict

pytestmark = pytest.mark.k8s

SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "groups": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "params": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"inner": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "size": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            },
        },
    },
}


def test_strict_closes_listed_objects_and_keeps_open_ones() -> None:
    closed = strict(SCHEMA)
    spec = closed["properties"]["spec"]
    assert closed["additionalProperties"] is False and spec["additionalProperties"] is False
    assert spec["properties"]["groups"]["items"]["additionalProperties"] is False
    assert spec["properties"]["params"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in spec["properties"]["free"]
    assert "additionalProperties" not in spec["properties"]["free"]["properties"]["inner"]
    assert "additionalProperties" not in closed["properties"]["metadata"]  # nothing listed: stays open
    assert "additionalProperties" not in SCHEMA  # the input is not modified


def _crd_file(tmp_path: Path) -> Path:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.org"},
           "spec": {"group": "example.org", "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": SCHEMA}}]}}
    path = tmp_path / "example.org_widgets.yaml"
    path.write_text(yaml.safe_dump(crd))
    return path


def test_crd_schemas_report_unknown_fields_with_their_path(tmp_path: Path) -> None:
    schemas = CrdSchemas(_crd_file(tmp_path).parent)
    good = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"groups": [{"name": "g"}], "params": {"x": "1"}, "free": {"anything": 1}, "size": "1Gi"}}
    assert schemas.knows(good) and schemas.errors(good) == []
    assert schemas.scopes[("example.org/v1", "Widget")] == "Namespaced"
    bad = {**good, "spec": {"groups": [{"name": "g", "nmae": "typo"}], "params": {"x": 1}}}
    errors = schemas.errors(bad)
    assert errors[0] == "Widget w: spec.groups.0: Additional properties are not allowed ('nmae' was unexpected)"
    assert errors[1] == "Widget w: spec.params.x: 1 is not of type 'string'"
    with pytest.raises(ConfigError, match=r"no CRD defines apiVersion example\.org/v2 kind Widget"):
        schemas.errors({**good, "apiVersion": "example.org/v2"})


def test_folder_without_crds_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no CustomResourceDefinition found"):
        CrdSchemas(tmp_path)
