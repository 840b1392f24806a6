"""The engine, and the pure functions built like it (candles), stay pure: no
framework, clock, randomness, I/O or floats; nothing of ours but the engine
itself (its own modules import each other relatively)."""

from __future__ import annotations

import ast
from pathlib import Path

import apps.markets.candles as candles_module
import apps.matching.engine as engine_pkg

ENGINE_DIR = Path(engine_pkg.__file__).parent
FORBIDDEN_ROOTS = {
    "apps",
    "exchange",
    "django",
    "rest_framework",
    "channels",
    "time",
    "datetime",
    "random",
    "decimal",
    "os",
    "io",
    "socket",
    "logging",
}


def _modules() -> list[Path]:
    files = sorted(ENGINE_DIR.glob("*.py"))
    assert len(files) >= 8
    return [*files, Path(candles_module.__file__)]


def test_engine_imports_no_framework_clock_or_randomness() -> None:
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & FORBIDDEN_ROOTS, (
                f"{path.name}:{node.lineno} imports {roots}"
            )


def test_engine_has_no_float_literals_or_true_division() -> None:
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            assert not (
                isinstance(node, ast.Constant) and isinstance(node.value, float)
            ), path.name
            assert not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)), (
                f"{path.name}:{node.lineno}"
            )
            assert not (isinstance(node, ast.Name) and node.id == "float"), path.name
