"""Logged models in an ``mlruns`` folder, in MLflow 3's layout (so either library reads the other's)::

<experiment>/models/<model_id>/meta.yaml        model_id, name, status (1 pending, 2 ready, 3 failed), ...
<experiment>/models/<model_id>/tags/<key>       one file per tag / param, holding the value
<experiment>/models/<model_id>/params/<key>
<experiment>/<run_id>/outputs/<model_id>/meta.yaml   the run -> model link (with the step)
"""

from __future__ import annotations

import os
import tempfile

import yaml

from tracklet.tracking.stores.logged_models import FAILED, PENDING, READY, LoggedModel, LoggedModelStore

_STATUS_TO_INT = {PENDING: 1, READY: 2, FAILED: 3}
_STATUS_FROM_INT = {v: k for k, v in _STATUS_TO_INT.items()}
_META_FIELDS = (
    "model_id",
    "experiment_id",
    "name",
    "artifact_location",
    "creation_timestamp",
    "last_updated_timestamp",
    "model_type",
    "source_run_id",
    "status_message",
    "lifecycle_stage",
)


def _write_atomic(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _read_values(folder: str) -> dict[str, str]:
    """``{relative file path: content}`` under ``folder`` (keys with '/' are nested files)."""
    out = {}
    for parent, _, files in os.walk(folder):
        for name in files:
            if name.startswith(".tmp-"):
                continue
            path = os.path.join(parent, name)
            with open(path, encoding="utf-8") as f:
                out[os.path.relpath(path, folder).replace(os.sep, "/")] = f.read()
    return out


class FileLoggedModels(LoggedModelStore):
    """Logged models of a FileStore rooted at ``store.root_directory``."""

    def _experiment_dirs(self) -> list[str]:
        root = self.store.root_directory
        dirs = []
        for base in (root, os.path.join(root, ".trash")):
            if os.path.isdir(base):
                dirs += [e.path for e in os.scandir(base) if e.is_dir() and not e.name.startswith(".")]
        return dirs

    def _experiment_dir(self, experiment_id: str) -> str:
        root = self.store.root_directory
        active = os.path.join(root, experiment_id)
        return active if os.path.isdir(active) else os.path.join(root, ".trash", experiment_id)

    def _model_dir(self, model_id: str) -> str | None:
        if not model_id.startswith("m-") or not model_id[2:].isalnum():
            return None  # never a path component an attacker chose
        for exp_dir in self._experiment_dirs():
            candidate = os.path.join(exp_dir, "models", model_id)
            if os.path.isfile(os.path.join(candidate, "meta.yaml")):
                return candidate
        return None

    def _write_meta(self, model_dir: str, meta: dict) -> None:
        _write_atomic(os.path.join(model_dir, "meta.yaml"), yaml.safe_dump(meta, sort_keys=True))

    def _insert(self, model: LoggedModel) -> None:
        model_dir = os.path.join(self._experiment_dir(model.experiment_id), "models", model.model_id)
        meta = {f: getattr(model, f) for f in _META_FIELDS}
        meta["status"] = _STATUS_TO_INT[model.status]
        os.makedirs(os.path.join(model_dir, "metrics"), exist_ok=True)
        self._set_values(model_dir, "params", model.params)
        self._set_values(model_dir, "tags", model.tags)
        self._write_meta(model_dir, meta)  # last: a model without meta.yaml does not exist yet

    @staticmethod
    def _set_values(model_dir: str, kind: str, values: dict[str, str]) -> None:
        for key, value in values.items():
            _write_atomic(os.path.join(model_dir, kind, *key.split("/")), value)

    def _read(self, model_dir: str) -> LoggedModel:
        with open(os.path.join(model_dir, "meta.yaml"), encoding="utf-8") as f:
            meta = yaml.safe_load(f) or {}
        fields = {f: meta.get(f) for f in _META_FIELDS}
        fields["experiment_id"] = str(fields["experiment_id"])
        fields["lifecycle_stage"] = fields["lifecycle_stage"] or "active"
        fields["status"] = _STATUS_FROM_INT.get(meta.get("status"), PENDING)
        return LoggedModel(
            **fields,
            tags=_read_values(os.path.join(model_dir, "tags")),
            params=_read_values(os.path.join(model_dir, "params")),
        )

    def _load(self, model_id: str) -> LoggedModel | None:
        model_dir = self._model_dir(model_id)
        return None if model_dir is None else self._read(model_dir)

    def _load_all(self, experiment_ids: list[str]) -> list[LoggedModel]:
        out = []
        for experiment_id in experiment_ids:
            models_dir = os.path.join(self._experiment_dir(experiment_id), "models")
            if os.path.isdir(models_dir):
                for entry in os.scandir(models_dir):
                    if os.path.isfile(os.path.join(entry.path, "meta.yaml")):
                        out.append(self._read(entry.path))
        return out

    def _update(self, model_id: str, **fields) -> None:
        model_dir = self._model_dir(model_id)
        with open(os.path.join(model_dir, "meta.yaml"), encoding="utf-8") as f:
            meta = yaml.safe_load(f) or {}
        if "status" in fields:
            fields["status"] = _STATUS_TO_INT[fields["status"]]
        meta.update(fields)
        self._write_meta(model_dir, meta)

    def _set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self._set_values(self._model_dir(model_id), "tags", tags)

    def _delete_tag(self, model_id: str, key: str) -> None:
        os.remove(os.path.join(self._model_dir(model_id), "tags", *key.split("/")))

    def _set_params(self, model_id: str, params: dict[str, str]) -> None:
        self._set_values(self._model_dir(model_id), "params", params)

    def _outputs_dir(self, run_id: str, experiment_id: str) -> str:
        return os.path.join(self._experiment_dir(experiment_id), run_id, "outputs")

    def _add_outputs(self, run_id: str, experiment_id: str, outputs: list[tuple[str, int]]) -> None:
        for model_id, step in outputs:
            link = {
                "source_type": "RUN_OUTPUT",
                "source_id": model_id,
                "destination_type": "MODEL_OUTPUT",
                "destination_id": model_id,  # what MLflow 3.17 writes (sic)
                "tags": {},
                "step": step,
            }
            path = os.path.join(self._outputs_dir(run_id, experiment_id), model_id, "meta.yaml")
            _write_atomic(path, yaml.safe_dump(link, sort_keys=False))

    def _outputs(self, run_id: str) -> list[tuple[str, int]]:
        folder = self._outputs_dir(run_id, self.store.get_run(run_id).info.experiment_id)
        out = []
        if os.path.isdir(folder):
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                meta_path = os.path.join(entry.path, "meta.yaml")
                if os.path.isfile(meta_path):
                    with open(meta_path, encoding="utf-8") as f:
                        meta = yaml.safe_load(f) or {}
                    out.append((entry.name, int(meta.get("step") or 0)))
        return out
