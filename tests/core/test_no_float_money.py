"""Money is integers inside: no model field may be a float or a decimal, and no
app code may call float()."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps
from django.db import models

ROOT = Path(__file__).resolve().parents[2]


def test_no_model_stores_a_float_or_a_decimal():
    offenders = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_models()
        if model.__module__.startswith("apps.")
        for field in model._meta.get_fields()
        if isinstance(field, (models.FloatField, models.DecimalField))
    ]
    assert offenders == []


# The sandbox simulator's price model is floating point by design (GARCH,
# jumps, Pareto sizes; docs/sandbox.md): it is not a money path. Its prices
# reach the wire only through quoting.Grid, onto the pair's tick and lot grid
# with a named rounding, as decimal strings; the exchange checks them as any
# client's.
FLOAT_MODEL = ("apps/web/simulator/", "apps/web/management/commands/runsimulator.py")


def test_no_app_code_calls_float():
    calls = []
    for path in (ROOT / "apps").rglob("*.py"):
        if str(path.relative_to(ROOT)).startswith(FLOAT_MODEL):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "float":
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert calls == []
