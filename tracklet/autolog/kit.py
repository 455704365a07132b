"""The integration kit: what every autolog integration shares. Build a new integration on this module only
(plus :mod:`tracklet.autolog.patching` for ``safe_patch``/``PatchHooks``); never on another integration.

An integration module (``tracklet/autolog/<framework>.py``, <= 300 lines) is::

    INTEGRATION = "keras"                              # = its line in tracklet/autolog/registry.py

    @dataclass(frozen=True)
    class KerasOptions(kit.Options):                   # its own options, defaults written once, here
        log_every_epoch: bool = True
        def validate(self):                            # optional: raise InvalidParameterValue naming the option
            ...

    autolog = kit.declare_autolog(INTEGRATION, KerasOptions, '''Doc of tracklet.keras.autolog.''')

    def install(module, config):                       # called once the framework is imported
        safe_patch(INTEGRATION, module.Model, "fit", FitHooks())

    class FitHooks(PatchHooks):
        def before(self, call):
            args = kit.arguments(call)                 # the call's arguments by name, defaults included
            kit.log_params(call, {...})                # never rejected: conflicts are dropped and named once
            kit.capture_example(call, args["x"])       # 5 rows, only if an example or signature is wanted
            log = kit.IterationLog(call.logger)        # per-iteration metrics, non-blocking
            call.state["log"] = log                    # ...your framework callback calls log.record(step, {...})
            kit.set_argument(call, "callbacks", [..., callback])
        def after(self, call, result):
            call.state["log"].finish()
            kit.log_datasets(call, [kit.dataset_input(x, y, "train"), kit.dataset_input(xv, yv, "eval", "val")])
            kit.log_model(call, flavor.log_model, model, predict=model.predict)
            kit.raise_callback_error(call.state)       # errors your callback swallowed during training
        def on_error(self, call, exc):
            call.state["log"].finish()                 # rounds before the user's error are kept

What the kit guarantees, so each integration does not have to:

* ``log_models=False`` logs no model (and so no example or signature); ``log_input_examples=True`` saves the
  first 5 training rows with the model; ``log_model_signatures=False`` means no signature, True infers one by
  predicting on those rows (a model that can't predict on them is logged without one, with one warning);
* dataset digests are the reference system's (:mod:`tracklet.autolog.datasets`), for numpy, pandas
  DataFrame/Series, lists and scipy sparse inputs in any combination of features and targets;
* params: a key the run already holds with another value (the user logged ``C=5``; an outer call logged it)
  is kept as it was and named in one warning; the other params are logged;
* warnings go through :func:`warn` (``silent=True`` silences them); never ``logging``/``print``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from tracklet.autolog import session
from tracklet.autolog.config import AutologConfig
from tracklet.autolog.datasets import dataset_input
from tracklet.exceptions import InvalidParameterValue

INPUT_EXAMPLE_ROWS = 5
_INVALID_KEY_CHARS = re.compile(r"[^/\w.\- :]")
_SIMPLE = (str, int, float, bool, type(None))

__all__ = [
    "INPUT_EXAMPLE_ROWS",
    "IterationLog",
    "Options",
    "arguments",
    "capture_example",
    "dataset_input",
    "declare_autolog",
    "head_rows",
    "log_datasets",
    "log_model",
    "log_params",
    "loggable_args",
    "metric_key",
    "options",
    "raise_callback_error",
    "set_argument",
    "wants_example",
    "warn",
]


# ------------------------------------------------------------------------------------------------- options
@dataclasses.dataclass(frozen=True)
class Options:
    """Base of an integration's declared options (the framework-specific ``autolog`` arguments).

    Subclass it as a frozen dataclass whose field defaults are the option defaults -- the only place they
    are written -- and override :meth:`validate` to reject bad values with ``InvalidParameterValue``. Read
    the options in effect during a call with :func:`options`.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``InvalidParameterValue`` naming the option and the rule; called on construction."""


def options(config: AutologConfig, options_cls: type[Options]):
    """The ``options_cls`` in effect under ``config``: what the user passed to the per-framework ``autolog``,
    the declared defaults for the rest (also when ``tracklet.autolog()`` configured the integration)."""
    names = {f.name for f in dataclasses.fields(options_cls)}
    return options_cls(**{k: v for k, v in config.options.items() if k in names})


def declare_autolog(integration: str, options_cls: type[Options], doc: str) -> Callable[..., None]:
    """Make the public ``autolog`` function of ``integration``: its parameters are the shared options
    (:class:`AutologConfig`, with their defaults) followed by the fields of ``options_cls``; calling it
    validates the options and (re)configures the integration (``disable=True`` reverts its patches)."""
    params = [
        inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default, annotation=f.type)
        for f in dataclasses.fields(AutologConfig)
        if f.name != "options"
    ]
    option_names = []
    for f in dataclasses.fields(options_cls):
        if f.default is dataclasses.MISSING:
            raise TypeError(f"{options_cls.__name__}.{f.name} needs a default (use a tuple, not a list)")
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type))
        option_names.append(f.name)
    signature = inspect.Signature(params, return_annotation=None)

    def autolog(*args, **kwargs) -> None:
        from tracklet.autolog.core import configure

        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidParameterValue(f"{integration} autolog: {exc}") from None
        bound.apply_defaults()
        opts = dict(bound.arguments)
        options_cls(**{k: opts[k] for k in option_names})  # validate before changing anything
        configure(integration, opts)

    autolog.__signature__ = signature
    autolog.__doc__ = doc
    autolog.__qualname__ = autolog.__name__ = "autolog"
    autolog.__module__ = options_cls.__module__
    return autolog


# ----------------------------------------------------------------------------------------- call arguments
def arguments(call) -> dict:
    """The patched call's arguments by name, defaults included (``call.bound`` is a partial binding made
    with ``inspect.signature(original).bind_partial``; never index ``call.args`` by position)."""
    bound = call.bound
    if bound is None:
        return dict(call.kwargs)
    values = {}
    for name, p in bound.signature.parameters.items():
        if name in bound.arguments:
            values[name] = bound.arguments[name]
        elif p.default is not inspect.Parameter.empty:
            values[name] = p.default
    return values


def set_argument(call, name: str, value) -> None:
    """Pass ``value`` as argument ``name`` of the original call, where the user passed it (by position or
    keyword), else as a keyword. Use it to add the integration's callback to the user's list (copy it)."""
    if name in call.kwargs or call.bound is None or name not in call.bound.arguments:
        call.kwargs[name] = value
        return
    index = list(call.bound.signature.parameters).index(name)
    if index < len(call.args):
        call.args = call.args[:index] + (value,) + call.args[index + 1 :]
    else:
        call.kwargs[name] = value


def loggable_args(arguments: Mapping, exclude: set[str] | frozenset[str] = frozenset()) -> dict:
    """The arguments worth a param: simple values as they are, lists of simple values, callables by name.
    Data, containers of objects and anything else without a stable text form is skipped."""
    out = {}
    for name, value in arguments.items():
        if name in exclude:
            continue
        if isinstance(value, _SIMPLE):
            out[name] = value
        elif isinstance(value, (list, tuple)):
            if not value:
                continue
            if all(isinstance(v, _SIMPLE) for v in value):
                out[name] = list(value)
            elif all(callable(v) for v in value):
                out[name] = [getattr(v, "__name__", type(v).__name__) for v in value]
        elif callable(value):
            out[name] = getattr(value, "__name__", type(value).__name__)
    return out


# --------------------------------------------------------------------------------------- params, warnings
def warn(call, key: str, message: str) -> None:
    """One warning per ``key`` and integration (until autolog is configured again); nothing with ``silent``."""
    session.warn_once((call.integration, key), message, call.config.silent)


def log_params(call, params: Mapping) -> None:
    """Queue ``params`` (values ``str()``'d as MLflow does, so None is ``"None"``; over 6000 characters
    truncated with a warning). A call nested in another logs only keys the outer call did not (the outer
    ``get_params()`` is the truth for the run); a key the run already holds with a different value (the user
    logged it before the fit) keeps its value and is named in one warning -- the rest are still logged."""
    call.logger.log_params(dict(params), nested=call.parent is not None)


# ---------------------------------------------------------------------------------------- input examples
def head_rows(data, n: int = INPUT_EXAMPLE_ROWS):
    """A small copy of the first ``n`` rows of ``data`` -- numpy array, pandas DataFrame/Series, scipy sparse
    (kept sparse, CSR), list or tuple (as a list) -- or None for anything else (nothing is raised)."""
    if data is None or isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        return None
    module = type(data).__module__.split(".")[0]
    try:
        if module == "pandas" and hasattr(data, "iloc"):
            return data.iloc[:n].copy()
        if module == "scipy" and hasattr(data, "tocsr"):
            return data.tocsr()[:n]
        if module == "numpy" and getattr(data, "ndim", 0) >= 1:
            return data[:n].copy()
        if isinstance(data, (list, tuple)):
            return [list(r) if isinstance(r, (list, tuple)) else r for r in data[:n]]
    except Exception:  # noqa: BLE001 - an exotic container: no example, training is unaffected
        return None
    return None


def wants_example(config: AutologConfig) -> bool:
    """Whether training rows are needed: a model is logged with an input example or an inferred signature."""
    return config.log_models and (config.log_input_examples or config.log_model_signatures)


def capture_example(call, data, n: int = INPUT_EXAMPLE_ROWS) -> None:
    """Keep the first rows of ``data`` in ``call.state["example"]`` when :func:`wants_example`; call it in
    ``before`` (a fit may change its input in place)."""
    if wants_example(call.config):
        call.state["example"] = head_rows(data, n)


# ------------------------------------------------------------------------------------------------- models
def log_model(
    call,
    flavor_log_model: Callable[..., Any],
    model,
    predict: Callable | None = None,
    artifact_path: str = "model",
    example=dataclasses.MISSING,
    **flavor_kwargs,
) -> None:
    """Log ``model`` with ``flavor_log_model`` (a ``tracklet.flavors.<name>.log_model``) into the call's run,
    honouring the shared options: nothing with ``log_models=False``; the input example (``call.state
    ["example"]`` unless ``example`` is given) with ``log_input_examples=True``; with
    ``log_model_signatures=True`` a signature inferred from ``predict(example)``, with False none at all."""
    from tracklet.flavors.signature import infer_signature

    cfg = call.config
    if not cfg.log_models:
        return
    if example is dataclasses.MISSING:
        example = call.state.get("example")
    signature = False  # the flavors' "no signature"; None would make them infer one
    if example is not None and cfg.log_model_signatures and predict is not None:
        try:
            signature = infer_signature(example, predict(example))
        except Exception as exc:  # noqa: BLE001 - the model can't predict on a few rows: logged without one
            warn(call, f"signature:{type(model).__name__}", f"tracklet: no signature for the model: {exc}")
    flavor_log_model(
        model,
        artifact_path=artifact_path,
        run_id=call.run_id,
        signature=signature,
        input_example=example if cfg.log_input_examples else None,
        **flavor_kwargs,
    )


# ----------------------------------------------------------------------------------------------- datasets
def log_datasets(call, inputs: list) -> None:
    """Record ``inputs`` (:func:`dataset_input` results; None entries are skipped) on the call's run, when
    ``log_datasets`` is on."""
    inputs = [i for i in inputs if i is not None]
    if inputs and call.config.log_datasets:
        call.logger.client.log_inputs(call.run_id, inputs)


# ------------------------------------------------------------------------------------ per-iteration metrics
@functools.lru_cache(maxsize=4096)  # called per metric per round from training callbacks: names repeat
def metric_key(*parts: str) -> str:
    """``"-"``-join ``parts`` into a valid metric key: ``@`` -> ``_at_``, other invalid characters -> ``_``."""
    key = "-".join(str(p) for p in parts).replace("@", "_at_")
    return _INVALID_KEY_CHARS.sub("_", key)


class IterationLog:
    """Per-iteration metrics of one training: hands them to the run's non-blocking logger, remembers them.

    ``record(step, metrics)`` from the framework's callback (training thread: it only appends). The first
    round is handed over at once, later ones in groups at most every ``HANDOFF_SECONDS`` (and at
    :meth:`finish`): waking the background writer per round costs more than a round's few metrics (measured:
    ~80 us/metric in 4-metric batches, ~17 us in 400-metric ones). Timestamps are the hand-over's.
    ``every_n`` logs every n-th round (and always the last). ``history`` keeps every round, logged or not.
    """

    HANDOFF_SECONDS = 1.0

    def __init__(self, logger, every_n: int = 1):
        self.logger = logger
        self.every_n = max(int(every_n or 1), 1)
        self.history: dict[int, dict[str, float]] = {}
        self.first_step: int | None = None
        self.last_step: int | None = None
        self._last_logged: int | None = None
        self._pending: list[tuple[int, dict]] = []
        self._handed_off = float("-inf")

    def record(self, step: int, metrics: dict[str, float]) -> None:
        """Remember the metrics of round ``step`` and log them if the round is due."""
        if self.first_step is None:
            self.first_step = step
        self.history[step] = metrics
        self.last_step = step
        if metrics and (step - self.first_step) % self.every_n == 0:
            self._pending.append((step, metrics))
            self._last_logged = step
            now = time.monotonic()
            if now - self._handed_off >= self.HANDOFF_SECONDS:
                self._handed_off = now
                self.hand_off()

    def hand_off(self) -> None:
        """Give the pending rounds to the logger (non-blocking: it queues them for its writer)."""
        pending, self._pending = self._pending, []
        for step, metrics in pending:
            self.logger.log_metrics(metrics, step=step)

    def finish(self) -> None:
        """Hand over what is pending, and the last round if ``every_n`` skipped it (a metric's latest value
        is then its final one). Call it after training and from ``on_error``."""
        last = self.last_step
        if last is not None and self._last_logged != last and self.history.get(last):
            self._pending.append((last, self.history[last]))
            self._last_logged = last
        self.hand_off()


def raise_callback_error(state: dict) -> None:
    """Raise the first error the integration's callback swallowed during training (kept in
    ``state["errors"]``): the core then warns once (raises in strict mode) after training finished."""
    errors = state.get("errors")
    if errors:
        raise errors[0]
