"""Imports point down only (docs/architecture.md): a module never imports a layer above its own.

Inference sits above features here (it consumes the tensors features build),
a deliberate change from DESIGN.md's starting order.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "trigger"

LAYERS = [  # bottom first
    ("schema", ["trigger", "trigger.errors", "trigger.schema", "trigger.segments", "trigger.expression",
                "trigger.testing", "trigger.units"]),  # testing helpers build batches from the schema alone
    ("io", ["trigger.io"]),
    ("features", ["trigger.features"]),
    ("inference", ["trigger.inference"]),
    ("menu", ["trigger.menu"]),
    ("engine", ["trigger.engine"]),
    ("runtime", ["trigger.runtime"]),
    ("tools", ["trigger.k8s", "trigger.plan", "trigger.models_train"]),
    ("cli", ["trigger.cli", "trigger.__main__"]),
]


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for level, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = level, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_imports_point_down_only():
    upward = []
    for path in ROOT.rglob("*.py"):
        mod = module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if (target == "trigger" or target.startswith("trigger.")) and layer_of(target) > layer_of(mod):
                    upward.append(f"{mod} imports {target}")
    assert upward == []


def test_only_the_farm_imports_ray_and_only_inference_imports_onnxruntime():
    for path in ROOT.rglob("*.py"):
        mod, text = module_name(path), path.read_text()
        tree = ast.parse(text)
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        if "ray" in names:
            assert mod.startswith("trigger.runtime.ray"), mod
        if "onnxruntime" in names:
            assert mod.startswith("trigger.inference"), mod
