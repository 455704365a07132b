"""Environment files of a saved model: ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml``.

Requirements are pinned from the *installed distributions* of the packages a flavor needs
(``importlib.metadata``). MLflow instead reloads the model in a subprocess to watch its imports, which
costs seconds per logged model; a flavor knows what it needs.

``mlflow`` is not listed: MLflow reads these files only to rebuild an environment (``mlflow models
serve``), and its own tooling adds itself there.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

from tracklet.exceptions import InvalidParameterValue

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"


def python_version() -> str:
    return platform.python_version()


def installed_version(dist: str) -> str | None:
    """Installed version of distribution ``dist`` or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def pinned(dist: str) -> str | None:
    """``"<dist>==<installed version>"`` (local version labels like ``+cpu`` dropped), or None if not installed."""
    version = installed_version(dist)
    if version is None:
        return None
    return f"{dist}=={version.split('+', 1)[0]}"


def default_requirements(dists: list[str]) -> list[str]:
    """Pinned requirements for the installed ones among ``dists`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for dist in dists:
        req = pinned(dist)
        if req and req not in out:
            out.append(req)
    return out


def _req_name(req: str) -> str:
    import re

    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return m.group(1).lower().replace("_", "-") if m else req.strip()


def _read_requirements_arg(value, label: str) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not os.path.isfile(path):
            raise InvalidParameterValue(f"{label}: {path!r} is neither a list of requirements nor an existing file")
        with open(path) as f:
            return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise InvalidParameterValue(f"{label} must be a list of requirement strings or a path to a requirements file")


def _conda_pip_requirements(conda_env) -> tuple[dict, list[str]]:
    import yaml

    if isinstance(conda_env, (str, os.PathLike)):
        with open(os.fspath(conda_env)) as f:
            conda_env = yaml.safe_load(f)
    if not isinstance(conda_env, dict):
        raise InvalidParameterValue("conda_env must be a dict or a path to a conda YAML file")
    pip: list[str] = []
    for dep in conda_env.get("dependencies") or []:
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            pip.extend(str(p) for p in dep["pip"])
    return conda_env, pip


def resolve_requirements(
    default: list[str], pip_requirements=None, extra_pip_requirements=None, conda_env=None
) -> tuple[list[str], dict | None]:
    """Final requirement lines (and the user's conda env, if one was given).

    ``pip_requirements`` replaces the defaults; ``extra_pip_requirements`` is added to them (a user
    requirement replaces a default one for the same package); ``conda_env`` supplies its pip section.
    At most one of the three may be given, as in MLflow.
    """
    given = [
        n
        for n, v in (
            ("conda_env", conda_env),
            ("pip_requirements", pip_requirements),
            ("extra_pip_requirements", extra_pip_requirements),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise InvalidParameterValue(
            f"Only one of conda_env, pip_requirements and extra_pip_requirements may be "
            f"given, got {' and '.join(given)}"
        )
    if conda_env is not None:
        env, pip = _conda_pip_requirements(conda_env)
        return pip, env
    if pip_requirements is not None:
        return _read_requirements_arg(pip_requirements, "pip_requirements"), None
    reqs = list(default)
    if extra_pip_requirements is not None:
        extra = _read_requirements_arg(extra_pip_requirements, "extra_pip_requirements")
        names = {_req_name(e) for e in extra}
        reqs = [r for r in reqs if _req_name(r) not in names] + extra
    return reqs, None


def write_env_files(
    path: str, default: list[str], pip_requirements=None, extra_pip_requirements=None, conda_env=None
) -> list[str]:
    """Write the three environment files into model directory ``path``; returns the requirement lines."""
    import yaml

    reqs, user_conda = resolve_requirements(default, pip_requirements, extra_pip_requirements, conda_env)
    with open(os.path.join(path, REQUIREMENTS_FILE), "w") as f:
        f.write("\n".join(reqs))
    pip_pin = pinned("pip")
    build = [pip_pin or "pip"]
    setuptools_pin = pinned("setuptools")
    if setuptools_pin:
        build.append(setuptools_pin)
    build.append("wheel")
    python_env = {
        "python": python_version(),
        "build_dependencies": build,
        "dependencies": ["-r requirements.txt"],
    }
    with open(os.path.join(path, PYTHON_ENV_FILE), "w") as f:
        yaml.safe_dump(python_env, f, default_flow_style=False, sort_keys=False)
    if user_conda is None:
        pip_dep = f"pip<={installed_version('pip')}" if installed_version("pip") else "pip"
        user_conda = {
            "channels": ["conda-forge"],
            "dependencies": [f"python={python_version()}", pip_dep, {"pip": reqs}],
            "name": "mlflow-env",
        }
    with open(os.path.join(path, CONDA_ENV_FILE), "w") as f:
        yaml.safe_dump(user_conda, f, default_flow_style=False)
    return reqs


def read_requirements(model_dir: str) -> list[str]:
    """Requirement lines of a saved model (empty if it has no ``requirements.txt``)."""
    path = os.path.join(model_dir, REQUIREMENTS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
