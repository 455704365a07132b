"""Handlers of ``/api/2.0/mlflow/logged-models``: MLflow 3's first-class models (filled in below)."""

from __future__ import annotations

ROUTES: list = []
