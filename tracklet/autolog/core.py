"""Turning autologging on and off: configuration, post-import hooks, version gating.

``configure(name, opts)`` stores an integration's config, reverts its old patches and either installs
the patches at once (framework already imported) or registers a post-import hook that installs them
when the user imports the framework. Nothing here imports a framework or wrapt's patching machinery until
it is needed, so ``tracklet.autolog()`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading

from tracklet import env
from tracklet.autolog import config as _config
from tracklet.autolog.registry import INTEGRATIONS, Integration
from tracklet.exceptions import InvalidParameterValue

# session (logging), patching (wrapt) and importlib.metadata load only when needed: autolog() before
# any framework is imported stays cheap.
_hooks_registered: set[tuple[str, str]] = set()  # (integration, module): wrapt would run a hook twice
# what the first logged run needs besides the store's modules (see _warm_up), and per integration what its
# first fit imports after training (Pillow for the charts; an integration without Pillow skips them)
_WARM_MODULES = (
    "tracklet.tracking.fluent",
    "tracklet.autolog.session",
    "tracklet.autolog.kit",
    # a first run's artifacts (a model summary, a dataset) and its logged-model bookkeeping
    "tracklet.tracking.artifacts.local",
    "tracklet.tracking.stores.logged_models",
)
_CHARTS = ("PIL.Image", "PIL.ImageDraw", "PIL.ImageFont")
_WARM_EXTRA = {"sklearn": _CHARTS, "xgboost": _CHARTS, "lightgbm": _CHARTS}
_warm_started: set[str] = set()


def _session():
    from tracklet.autolog import session

    return session


def autolog(
    log_models: bool = True,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict | None = None,
    exclude_flavors: list[str] | None = None,
    log_traces: bool = True,
) -> None:
    """Autolog every supported framework: each ``fit``/``train`` call records params, metrics and the
    model into a run (the active run, or a new one tagged ``mlflow.autologging=<framework>``).

    Frameworks not imported yet are patched when they are imported. A framework configured explicitly
    (``tracklet.sklearn.autolog(...)``) keeps its own settings; ``disable=True`` turns every framework
    off. ``exclude_flavors`` names frameworks to leave untouched, e.g. ``["xgboost"]``. ``log_traces`` is
    accepted for MLflow compatibility and ignored (tracklet does no GenAI tracing).

    >>> import tracklet
    >>> tracklet.autolog()
    >>> RandomForestRegressor().fit(X, y)          # logged to a new run
    """
    opts = dict(locals())
    opts.pop("exclude_flavors")
    opts.pop("log_traces")
    excluded = _check_excluded(exclude_flavors)
    _config.build_config(dict(opts))  # validate before changing anything
    for name in INTEGRATIONS:
        if name in excluded:
            continue
        try:
            configure(name, opts, explicit=False)
        except Exception as exc:  # one broken integration must not stop the others
            _session().report_error(name, exc, silent)
    if SPARK_DATASOURCE not in excluded:
        _spark_datasource(disable, silent)


# Spark datasource lineage (``tracklet.spark.autolog()``) creates no runs, so it is not in the registry; like
# MLflow's ``autolog()``, ``tracklet.autolog()`` turns it on too -- once pyspark.sql is imported, so an
# ``autolog()`` before that loads nothing.
SPARK_DATASOURCE = "spark"
_spark_wanted = {"disable": True, "silent": False}


def _spark_datasource(disable: bool, silent: bool) -> None:
    _spark_wanted.update(disable=disable, silent=silent)
    if "pyspark.sql" in sys.modules or "tracklet.autolog.spark_datasource" in sys.modules:
        _apply_spark_datasource()
    elif not disable and (SPARK_DATASOURCE, "pyspark.sql") not in _hooks_registered:
        import wrapt

        wrapt.register_post_import_hook(lambda module: _apply_spark_datasource(), "pyspark.sql")
        _hooks_registered.add((SPARK_DATASOURCE, "pyspark.sql"))


def _apply_spark_datasource() -> None:
    try:
        from tracklet.autolog import spark_datasource

        spark_datasource.autolog(**_spark_wanted, _explicit=False)
    except Exception as exc:  # lineage must never break the user's import of pyspark
        _session().report_error(SPARK_DATASOURCE, exc, _spark_wanted["silent"])


def _check_excluded(exclude_flavors) -> set[str]:
    if exclude_flavors is None:
        return set()
    if isinstance(exclude_flavors, str) or not all(isinstance(n, str) for n in exclude_flavors):
        raise InvalidParameterValue(
            f"autolog: exclude_flavors must be a list of framework names, got {exclude_flavors!r}"
        )
    unknown = sorted(set(exclude_flavors) - set(INTEGRATIONS) - {SPARK_DATASOURCE})
    if unknown:
        raise InvalidParameterValue(
            f"autolog: exclude_flavors has unknown framework(s) {unknown}; "
            f"known: {sorted([*INTEGRATIONS, SPARK_DATASOURCE])}"
        )
    return set(exclude_flavors)


def configure(integration: str, opts: dict, explicit: bool = True) -> None:
    """Store ``integration``'s config from an ``autolog(...)`` call's arguments and (re)install its patches.

    Per-framework ``autolog`` functions call ``configure("<name>", locals())``.
    """
    if integration not in INTEGRATIONS:
        raise InvalidParameterValue(f"autolog: unknown integration {integration!r}; known: {sorted(INTEGRATIONS)}")
    integ = INTEGRATIONS[integration]
    new = _config.build_config(dict(opts))
    with _config.lock:
        if not explicit and not new.disable and _config.is_explicit(integration):
            return  # an explicit per-framework call wins over tracklet.autolog()
        if "tracklet.autolog.patching" in sys.modules:
            from tracklet.autolog.patching import revert_patches

            revert_patches(integration)
        _config.set_config(integration, new, explicit)
        if "tracklet.autolog.session" in sys.modules:
            _session().reset_warnings(integration)
        if new.disable:
            return
        _warm_up(integration)
        for name in (integ.module, *integ.also):
            module = sys.modules.get(name)
            if module is not None:
                _activate(integ, module, from_hook=False)
            elif (integration, name) not in _hooks_registered:
                import wrapt

                wrapt.register_post_import_hook(_make_hook(integration), name)
                _hooks_registered.add((integration, name))


def _make_hook(integration: str):
    def hook(module) -> None:
        _activate(INTEGRATIONS[integration], module, from_hook=True)

    hook.__name__ = f"tracklet_autolog_{integration}_hook"
    return hook


def _activate(integ: Integration, module, from_hook: bool) -> None:
    """Install ``integ``'s patches if its config is enabled and the version allows. From an import hook
    an exception never escapes (it would break the user's ``import``) except in strict mode."""
    with _config.lock:
        config = _config.get_config(integ.name)
        if config.disable:
            return
        try:
            if not _version_allowed(integ, module, config):
                return
            module_name, _, func_name = integ.install.partition(":")
            install = getattr(importlib.import_module(module_name), func_name)
            install(module, config)
            from tracklet._logging import get_logger

            get_logger("tracklet.autolog").debug("Autologging enabled for %s", integ.name)
        except Exception as exc:
            from tracklet.autolog.patching import revert_patches

            revert_patches(integ.name)  # never leave half the patches in place
            if from_hook and not env.autolog_strict():
                _session().warn_once(
                    (integ.name, "install"),
                    f"tracklet: could not enable {integ.name} "
                    f"autologging ({type(exc).__name__}: {exc}); training is unaffected",
                    config.silent,
                )
                return
            _session().report_error(integ.name, exc, config.silent)


def _warm_up(integration: str) -> None:
    """Import, in a background daemon thread, what the first logged run needs -- the store for the current
    tracking URI (SQLAlchemy and the SQL store for a database: ~0.3 s of CPU), the run and logging code -- so a
    script's first autologged fit doesn't pay for it on the training thread (issues 13 and 15).

    Started by ``autolog()``, so the user's own imports (the framework's: seconds) and data loading overlap
    it; ``autolog()`` itself stays a sub-millisecond call. Only imports of tracklet and the store's driver
    library, never a framework, numpy or pandas: no file, connection or run is opened, so a URI changed
    afterwards costs nothing but an unused import. A failed import is left for the first run to raise where
    it belongs."""
    try:
        from tracklet.tracking.stores.registry import store_modules
        from tracklet.tracking.uri import get_tracking_uri

        wanted = (*_WARM_MODULES, *store_modules(get_tracking_uri()), *_WARM_EXTRA.get(integration, ()))
    except Exception:  # noqa: BLE001 - an unusable URI is reported by the first run, not here
        return
    names = [n for n in wanted if n not in sys.modules and n not in _warm_started]
    if not names:
        return
    _warm_started.update(names)
    thread = threading.Thread(target=_import_quietly, args=(names,), name="tracklet-autolog-warm-up", daemon=True)
    if not _fork_guard and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_finish_warm_up)
        _fork_guard.append(True)
    _warm_threads.append(thread)
    thread.start()


_warm_threads: list[threading.Thread] = []
_fork_guard: list[bool] = []  # registered once per process


def _finish_warm_up() -> None:
    """Before a fork: let the warm-up imports finish (bounded), so no child starts with an import lock held by
    a thread that does not exist in it (a child importing the same module would hang)."""
    for thread in list(_warm_threads):
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(10)
    _warm_threads[:] = [t for t in _warm_threads if t.is_alive()]


def _import_quietly(names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the run's own import raises it again, in the right place
            pass


def installed_version(integ: Integration, module=None) -> str | None:
    """The installed version of ``integ``'s distribution (or the module's ``__version__``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(integ.distribution)
    except PackageNotFoundError:
        return getattr(module, "__version__", None) if module is not None else None


def is_supported_version(integ: Integration, version: str | None) -> bool:
    """Within the tested range; pre-releases, dev builds and unparsable versions are not supported."""
    from packaging.version import InvalidVersion, Version

    if not version:
        return False
    try:
        v = Version(version)
    except InvalidVersion:
        return False
    if v.is_prerelease or v.is_devrelease:
        return False
    base = Version(v.base_version)
    return Version(integ.min_version) <= base <= Version(integ.max_version)


def _version_allowed(integ: Integration, module, config) -> bool:
    version = installed_version(integ, module)
    if is_supported_version(integ, version):
        return True
    action = (
        "autologging is disabled (disable_for_unsupported_versions=True)"
        if config.disable_for_unsupported_versions
        else "autologging may not work"
    )
    _session().warn_once(
        (integ.name, "version"),
        f"tracklet: {integ.name} autologging is tested with "
        f"{integ.distribution} {integ.min_version} to {integ.max_version}, but {version} is "
        f"installed; {action}",
        config.silent,
    )
    return not config.disable_for_unsupported_versions


def revert_all() -> None:
    """Remove every autolog patch and forget every configuration (all integrations off)."""
    with _config.lock:
        if "tracklet.autolog.patching" in sys.modules:
            from tracklet.autolog.patching import patched_integrations, revert_patches

            for name in patched_integrations():
                revert_patches(name)
        _config.clear()
        if "tracklet.autolog.session" in sys.modules:
            _session().reset_warnings()


class FrameworkAutolog:
    """``tracklet.<framework>.autolog``: calls the integration's own ``autolog`` (its module named in the
    registry), imported on first use -- so importing ``tracklet.sklearn`` loads neither the framework nor the
    patching code. ``inspect.signature`` and ``help`` see the integration's parameters and docstring."""

    __name__ = __qualname__ = "autolog"

    def __init__(self, integration: str):
        self.integration = integration

    def _target(self):
        if self.integration not in INTEGRATIONS:
            raise InvalidParameterValue(f"autolog: unknown integration {self.integration!r}")
        module_name = INTEGRATIONS[self.integration].install.partition(":")[0]
        return importlib.import_module(module_name).autolog

    def __call__(self, *args, **kwargs) -> None:
        return self._target()(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(self._target())

    @property
    def __doc__(self):  # noqa: D105 - the integration's docstring, read lazily
        return self._target().__doc__

    def __repr__(self) -> str:
        return f"<tracklet.{self.integration}.autolog>"


def _reset_for_tests() -> None:
    """Back to the state of a fresh process (registered post-import hooks stay; they read the config).
    Each module clears its own tables: the session's, and each loaded integration's ``reset_for_tests``."""
    revert_all()
    _spark_wanted.update(disable=True, silent=False)
    if "tracklet.autolog.session" in sys.modules:
        _session().reset_for_tests()
    for integ in INTEGRATIONS.values():
        module = sys.modules.get(integ.install.partition(":")[0])
        reset = getattr(module, "reset_for_tests", None)
        if reset is not None:
            reset()
