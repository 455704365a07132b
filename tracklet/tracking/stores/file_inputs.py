"""Dataset inputs of file-store runs, in MLflow's layout.

* ``<experiment>/datasets/<dataset_id>/meta.yaml``: name, digest, source_type, source, schema, profile;
  ``dataset_id`` is the md5 of name + digest, as MLflow computes it, so both write the same folder;
* ``<experiment>/<run>/inputs/<input_id>/meta.yaml``: source_type ``DATASET``, source_id (the dataset id),
  destination_type ``RUN``, destination_id (the run id) and tags (a mapping, e.g. ``mlflow.data.context``).

A run links each (dataset, context) once: ``input_id`` hashes the dataset id, the run id and the context,
and reading drops repeats (MLflow names its input folders without the context).
"""

from __future__ import annotations

import hashlib
import os

from tracklet.tracking import validation
from tracklet.tracking.entities import Dataset, DatasetInput, RunInputs, RunTag
from tracklet.tracking.stores import file_io as fio
from tracklet.tracking.stores.file_layout import CorruptFile, check_active, load_meta

DATASETS, INPUTS = "datasets", "inputs"
_CONTEXT = validation.DATASET_CONTEXT_TAG


def dataset_id(name: str, digest: str) -> str:
    """The folder name of a dataset under ``<experiment>/datasets`` (MLflow's id: md5 of name + digest)."""
    h = hashlib.md5(name.encode("utf-8"), usedforsecurity=False)
    h.update(digest.encode("utf-8"))
    return h.hexdigest()


def input_id(ds_id: str, run_id: str, context: str) -> str:
    h = hashlib.md5(ds_id.encode("utf-8"), usedforsecurity=False)
    h.update(run_id.encode("utf-8"))
    if context:
        h.update(b"\x1f" + context.encode("utf-8"))
    return h.hexdigest()


def _text(value) -> str:
    return "" if value is None else str(value)


def _read_meta(path: str, report) -> dict | None:
    """A dataset or input meta.yaml; None when missing or unreadable (then told to ``report(path, why)``)."""
    try:
        return load_meta(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except CorruptFile as exc:
        if report is not None:
            report(exc.path, exc.why)
        return None


def _load_dataset(path: str, report) -> Dataset | None:
    meta = _read_meta(path, report)
    if not meta or meta.get("name") is None:
        return None
    optional = {k: None if meta.get(k) is None else str(meta[k]) for k in ("schema", "profile")}
    return Dataset(
        name=_text(meta["name"]),
        digest=_text(meta.get("digest")),
        source_type=_text(meta.get("source_type")),
        source=_text(meta.get("source")),
        **optional,
    )


def load_run_inputs(run_dir: str, report=None) -> RunInputs:
    """The dataset inputs of the run in ``run_dir``; dangling links are skipped, and unreadable files too
    after telling ``report(path, why)``."""
    inputs_dir = os.path.join(run_dir, INPUTS)
    try:
        names = sorted(os.listdir(inputs_dir))
    except (FileNotFoundError, NotADirectoryError):
        return RunInputs()
    datasets_dir = os.path.join(os.path.dirname(run_dir), DATASETS)
    out, seen = [], set()
    for name in names:
        if name.startswith("."):
            continue
        meta = _read_meta(os.path.join(inputs_dir, name, fio.META), report)
        if not meta or meta.get("source_type") != "DATASET" or not meta.get("source_id"):
            continue
        tags = meta.get("tags") if isinstance(meta.get("tags"), dict) else {}
        tags = {str(k): _text(v) for k, v in tags.items()}
        key = (str(meta["source_id"]), tags.get(_CONTEXT, ""))
        if key in seen:
            continue
        dataset = _load_dataset(os.path.join(datasets_dir, key[0], fio.META), report)
        if dataset is None:
            continue
        seen.add(key)
        out.append(DatasetInput(dataset, tuple(RunTag(k, v) for k, v in tags.items())))
    return RunInputs(tuple(out))


def log_inputs(layout, run_id: str, datasets: list) -> None:
    """Write each dataset once per experiment and link each (dataset, context) once to the run
    (``layout``: the store's :class:`~.file_layout.RunLayout`)."""
    entries = validation.validate_dataset_inputs(datasets)
    for dataset, tags in entries:
        for field, value in dataset.to_dict().items():
            fio.check_text(f"dataset {field}", value)
        for key, value in tags.items():
            fio.check_text(f"dataset input tag '{key}'", key)
            fio.check_text(f"dataset input tag value of '{key}'", value)
    with layout.locked_run(run_id) as (run_dir, info):
        check_active(info)
        experiment_dir = os.path.dirname(run_dir)
        for dataset, tags in entries:
            ds_id = dataset_id(dataset.name, dataset.digest)
            ds_meta = os.path.join(experiment_dir, DATASETS, ds_id, fio.META)
            if not os.path.exists(ds_meta):  # same name and digest: the same dataset, written once
                fio.atomic_write(ds_meta, fio.dump_yaml(dataset.to_dict()), experiment_dir)
            link = os.path.join(run_dir, INPUTS, input_id(ds_id, run_id, tags.get(_CONTEXT, "")), fio.META)
            if os.path.exists(link):
                continue
            meta = {
                "source_type": "DATASET",
                "source_id": ds_id,
                "destination_type": "RUN",
                "destination_id": run_id,
                "tags": tags,
            }
            fio.atomic_write(link, fio.dump_yaml(meta), run_dir)
