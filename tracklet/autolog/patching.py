"""safe_patch over wrapt: the only module that touches wrapt.

Every patch is recorded as ``(owner, attribute, original)`` so :func:`revert_patches` restores the
original object exactly (``vars(owner)[attribute] is original``). A reverted wrapper that someone still
holds (a bound method taken earlier, ``from module import fn``) calls straight through.

The path of one patched training call (:func:`safe_patch`)::

    disabled / suppressed / nested in another patched call / hooks.applies() is False -> original only
    open the managed run (reuse the active run, or create one tagged mlflow.autologging=<name>)
    hooks.before(call) -> original(*args, **kwargs) exactly once -> hooks.after(call, result)
    the steps ``after`` deferred with :func:`defer`: handed to the post-fit worker (:mod:`.deferred`)
    flush the RunLogger; end the run if we created it: FINISHED, FAILED (user error) or KILLED (Ctrl-C)
      (after the deferred steps, in the worker, when there were any; the run leaves the active-run stack now)

A patched call on an instance with a post-fit task still pending waits for it first (a ``warm_start`` refit
must not change the model that task is measuring).

The user's exceptions propagate unchanged. Ours are reported once per integration as an AutologWarning
and the result is returned; the run still ends FINISHED with whatever was logged. In strict mode
(``TRACKLET_AUTOLOG_STRICT=1``) ours raise.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
import types
from dataclasses import dataclass, field

import wrapt

from tracklet.autolog import deferred, session
from tracklet.autolog.config import AutologConfig, get_config, lock

_MISSING = object()


class _BoundWrapper(wrapt.BoundFunctionWrapper):
    """A patched method bound to an instance: pickles and deep-copies like a bound method (joblib with
    processes pickles ``model.predict``)."""

    def __reduce_ex__(self, protocol):
        if self._self_instance is None:  # reached through the class: a plain function
            return (session.resolve_global, (self.__module__, self.__qualname__))
        return (getattr, (self._self_instance, self.__name__))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        import copy

        if self._self_instance is None:
            return self
        return getattr(copy.deepcopy(self._self_instance, memo), self.__name__)


class _Wrapper(wrapt.FunctionWrapper):
    """A FunctionWrapper that copies as itself and pickles as the original (a worker process unpickles
    the unpatched function), like a plain function would."""

    __bound_function_wrapper__ = _BoundWrapper

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce_ex__(self, protocol):
        original = self.__wrapped__
        return (session.resolve_global, (original.__module__, original.__qualname__))


class PatchHooks:
    """The steps around one patched training function; subclass per function."""

    manage_run: bool = True  # create/reuse a managed run around the call
    allow_nested_from: tuple[str, ...] = ()  # integrations whose outer call this inner call may log into

    def applies(self, instance, args: tuple, kwargs: dict) -> bool:
        """Whether this call is autologged at all (e.g. not for preprocessing-only estimators). Runs
        before any run is created; a nested patched call under a call that doesn't apply isn't logged."""
        return True

    def before(self, call: Call) -> None:
        """Log params, capture what ``after`` needs in ``call.state``; may add our own callbacks to
        ``call.kwargs``."""

    def after(self, call: Call, result) -> None:
        """Log metrics, artifacts and the model once the original returned ``result``."""

    def on_error(self, call: Call, exc: BaseException) -> None:
        """The user's training raised ``exc`` (it propagates after this)."""


@dataclass
class Call:
    """One patched call in progress (``session.current()`` inside it)."""

    integration: str
    instance: object | None
    args: tuple
    kwargs: dict
    bound: inspect.BoundArguments | None
    run_id: str | None
    logger: session.RunLogger | None
    config: AutologConfig
    state: dict = field(default_factory=dict)
    parent: Call | None = None
    logging: bool = True  # False for a call that runs without logging (its nested calls don't log either)
    post_fit: list = field(default_factory=list)  # (step, args) that ``after`` deferred (see defer)


def defer(call: Call, step, *args) -> None:
    """From ``after``: run ``step(call, *args)`` once ``after`` returns -- for a top-level call on the post-fit
    worker (:mod:`.deferred`) unless ``TRACKLET_AUTOLOG_DEFER_POST_FIT=false``, else at once on the training
    thread. The call's logging is flushed and the run it created ended after its steps. ``args`` must be what
    the step needs as of now: the user may change the estimator once ``fit`` returned (pass a snapshot)."""
    call.post_fit.append((step, args))


class LightHooks:
    """Hooks for calls that never open a run (predict, metric functions): ``before`` returns a state
    (``None``: nothing to do), ``after`` sees the result, ``cleanup`` always runs."""

    def before(self, instance, args: tuple, kwargs: dict):
        return None

    def after(self, state, instance, args: tuple, kwargs: dict, result) -> None:
        pass

    def cleanup(self, state) -> None:
        pass


@dataclass
class _Patch:
    integration: str
    owner: object
    attribute: str
    original: object
    wrapper: object
    active: bool = True
    signature: inspect.Signature | None = None


_patches: dict[str, list[_Patch]] = {}


def _raw_attribute(owner, attribute: str):
    """The object stored under ``attribute`` (for classes: in the first class of the MRO defining it)."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if attribute in vars(klass):
                return vars(klass)[attribute]
        raise AttributeError(f"{owner.__qualname__} has no attribute {attribute!r}")
    return getattr(owner, attribute)


def _own_attribute(owner, attribute: str):
    try:
        return vars(owner).get(attribute, _MISSING)
    except TypeError:
        return getattr(owner, attribute, _MISSING)


def is_patched(owner, attribute: str) -> bool:
    """True if ``owner.attribute`` currently holds one of our active wrappers."""
    current = _own_attribute(owner, attribute)
    return any(p.wrapper is current and p.active for ps in _patches.values() for p in ps)


def _install(integration: str, owner, attribute: str, make_wrapper) -> _Patch | None:
    with lock:
        current = _own_attribute(owner, attribute)
        for p in _patches.get(integration, ()):
            if p.active and p.wrapper is current and current is not _MISSING:
                return None  # already patched by this integration
        raw = _raw_attribute(owner, attribute)
        record = _Patch(integration, owner, attribute, current, None)
        record.wrapper = _Wrapper(raw, make_wrapper(record))
        setattr(owner, attribute, record.wrapper)
        _patches.setdefault(integration, []).append(record)
        return record


def safe_patch(integration: str, owner, attribute: str, hooks: PatchHooks) -> None:
    """Wrap ``owner.attribute`` (a function, method or descriptor) so each call is autologged by
    ``hooks`` with the guarantees in this module's docstring."""
    if isinstance(hooks, type):
        hooks = hooks()

    def make_wrapper(record: _Patch):
        def wrapper(wrapped, instance, args, kwargs):
            if not record.active:
                return wrapped(*args, **kwargs)
            return _patched_call(record, hooks, wrapped, instance, args, kwargs)

        return wrapper

    _install(integration, owner, attribute, make_wrapper)


def _light_wrapper(record: _Patch, hooks: LightHooks):
    integration = record.integration

    def wrapper(wrapped, instance, args, kwargs):
        if not record.active or get_config(integration).disable:
            return wrapped(*args, **kwargs)
        try:
            state = hooks.before(instance, args, kwargs)
        except Exception as exc:
            session.report_error(integration, exc, get_config(integration).silent)
            return wrapped(*args, **kwargs)
        if state is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
            try:
                hooks.after(state, instance, args, kwargs, result)
            except Exception as exc:
                session.report_error(integration, exc, get_config(integration).silent)
            return result
        finally:
            try:
                hooks.cleanup(state)
            except Exception as exc:
                session.report_error(integration, exc, get_config(integration).silent)

    return wrapper


def wrap_light(integration: str, owner, attribute: str, hooks: LightHooks) -> None:
    """Wrap ``owner.attribute`` with :class:`LightHooks` (no run, no Call object; cheap when
    ``before`` returns None). The original runs exactly once; our exceptions are reported, not raised."""
    _install(integration, owner, attribute, lambda record: _light_wrapper(record, hooks))


def wrap_functions_everywhere(integration: str, functions: dict) -> dict:
    """Wrap module-level functions (``{function: LightHooks}``) and rebind every module-level name bound
    to them in loaded modules -- so ``from sklearn.metrics import f1_score`` run before autolog was enabled
    is captured too. The defining module keeps the original (it still pickles by reference; internal
    calls between functions of that module are not wrapped). Returns ``{function: wrapper}``."""
    replacements, out = {}, {}
    with lock:
        for fn, hooks in functions.items():
            record = _Patch(integration, None, getattr(fn, "__name__", "?"), fn, None)
            record.wrapper = _Wrapper(fn, _light_wrapper(record, hooks))
            _patches.setdefault(integration, []).append(record)
            replacements[id(fn)] = (fn, record.wrapper)
            out[fn] = record.wrapper
        rebind_references(integration, replacements)
    return out


def wrap_raw(integration: str, owner, attribute: str, wrapper) -> None:
    """Install a plain wrapt ``wrapper(wrapped, instance, args, kwargs)``, recorded for revert. The
    wrapper is bypassed once reverted. It must itself call ``wrapped`` exactly once and keep our
    exceptions away from the user."""

    def make_wrapper(record: _Patch):
        def outer(wrapped, instance, args, kwargs):
            if not record.active:
                return wrapped(*args, **kwargs)
            return wrapper(wrapped, instance, args, kwargs)

        return outer

    _install(integration, owner, attribute, make_wrapper)


def rebind_references(integration: str, replacements: dict) -> int:
    """Rebind module-level names bound to an original object to its patched replacement, in every
    loaded module (``from sklearn.metrics import f1_score`` executed before autolog was enabled).
    ``replacements`` maps ``id(original) -> (original, replacement)``. Returns the number rebound."""
    count = 0
    with lock:
        for module in list(sys.modules.values()):
            if not isinstance(module, types.ModuleType):
                continue
            try:
                namespace = vars(module)
                items = list(namespace.items())
            except Exception:  # noqa: BLE001 - lazy/odd module objects
                continue
            for name, value in items:
                hit = replacements.get(id(value))
                if (
                    hit is None
                    or hit[0] is not value
                    or getattr(value, "__module__", None) == getattr(module, "__name__", None)
                ):
                    continue
                try:
                    namespace[name] = hit[1]
                except Exception:  # noqa: BLE001 - read-only namespace
                    continue
                _patches.setdefault(integration, []).append(_Patch(integration, module, name, value, hit[1]))
                count += 1
    return count


def replace_attribute(integration: str, owner, attribute: str, replacement) -> None:
    """Set ``owner.attribute = replacement``, recorded so revert restores the current value."""
    with lock:
        original = _own_attribute(owner, attribute)
        setattr(owner, attribute, replacement)
        _patches.setdefault(integration, []).append(_Patch(integration, owner, attribute, original, replacement))


def revert_patches(integration: str) -> None:
    """Restore every original patched by ``integration``, exactly, in reverse order (after pending post-fit
    tasks: an unpatched refit would not wait for them)."""
    deferred.wait_all()
    with lock:
        records = _patches.pop(integration, [])
        for p in reversed(records):
            p.active = False
            if p.owner is None:
                continue  # the wrapper record of wrap_functions_everywhere: its rebinds are restored
            if _own_attribute(p.owner, p.attribute) is not p.wrapper:
                continue  # someone re-bound it since; leave theirs (our wrapper calls straight through)
            try:
                if p.original is _MISSING:
                    delattr(p.owner, p.attribute)
                else:
                    setattr(p.owner, p.attribute, p.original)
            except Exception:  # noqa: BLE001 - a module namespace may have gone read-only
                pass


def patched_integrations() -> list[str]:
    return [name for name, ps in _patches.items() if ps]


# ---------------------------------------------------------------------- the patched call


def _signature(record: _Patch, wrapped) -> inspect.Signature:
    if record.signature is None:
        record.signature = inspect.signature(wrapped)
    return record.signature


def _patched_call(record: _Patch, hooks: PatchHooks, wrapped, instance, args, kwargs):
    integration = record.integration
    if instance is not None:
        deferred.wait_for(instance)  # its post-fit task must not see this call change the model
    config = get_config(integration)
    if config.disable or session.suppressed():
        return wrapped(*args, **kwargs)
    parent = session.current()
    if parent is not None:
        nested_ok = (
            parent.logging
            and parent.integration in hooks.allow_nested_from
            and (instance is None or parent.instance is not instance)
        )
        if not nested_ok:
            return wrapped(*args, **kwargs)
    else:
        try:
            applies = hooks.applies(instance, args, kwargs)
        except Exception as exc:
            session.report_error(integration, exc, config.silent)
            applies = False
        if not applies:
            return _run_unlogged(integration, instance, config, wrapped, args, kwargs)
        if config.exclusive:
            from tracklet.tracking import fluent

            if fluent.active_run() is not None:
                return wrapped(*args, **kwargs)
    try:
        bound = _signature(record, wrapped).bind_partial(*args, **kwargs)
    except TypeError:
        return wrapped(*args, **kwargs)  # the user's call doesn't match: let the original raise
    except ValueError:
        bound = None  # no introspectable signature (builtins)

    if parent is not None:
        call = Call(
            integration,
            instance,
            args,
            dict(kwargs),
            bound,
            parent.run_id,
            parent.logger,
            config,
            parent=parent,
        )
        return _run_logged(call, hooks, wrapped, created=False)

    try:
        if hooks.manage_run:
            run_id, created = session.open_run(integration, config)
        else:
            from tracklet.tracking import fluent

            active = fluent.active_run()
            run_id, created = (active.info.run_id if active else None), False
        logger = session.RunLogger(integration, run_id, config, reused=not created) if run_id else None
    except Exception as exc:
        session.report_error(integration, exc, config.silent)
        return wrapped(*args, **kwargs)
    call = Call(integration, instance, args, dict(kwargs), bound, run_id, logger, config)
    return _run_logged(call, hooks, wrapped, created)


def _run_unlogged(integration, instance, config, wrapped, args, kwargs):
    """Run the original with a non-logging marker in the context, so nested patched calls skip too."""
    marker = Call(integration, instance, args, kwargs, None, None, None, config, logging=False)
    token = session._current.set(marker)
    try:
        return wrapped(*args, **kwargs)
    finally:
        session._current.reset(token)


def _safely(call: Call, step, *args) -> bool:
    try:
        with deferred.own_steps():
            step(call, *args)
        return True
    except Exception as exc:
        session.report_error(call.integration, exc, call.config.silent)
        return False


def _run_logged(call: Call, hooks: PatchHooks, wrapped, created: bool):
    token = session._current.set(call)
    error: BaseException | None = None
    later: contextvars.Context | None = None  # the context the deferred steps run in, on the worker
    try:
        ok = _safely(call, hooks.before)
        try:
            result = wrapped(*call.args, **call.kwargs)
        except BaseException as exc:
            error = exc
            if ok:
                _safely(call, hooks.on_error, exc)
            raise
        if ok:
            _safely(call, hooks.after, result)
            if call.post_fit:
                if call.parent is None and deferred.enabled():
                    later = contextvars.copy_context()  # this call is current there: nested calls don't log
                else:
                    _run_post_fit(call)
        return result
    except BaseException as exc:  # strict mode: ours raised; count it as a failure of the call
        error = error or exc
        raise
    finally:
        session._current.reset(token)
        if later is None or error is not None or not _finish_later(call, created, later):
            _finish(call, created, error)


def _run_post_fit(call: Call) -> None:
    """Run the steps ``after`` deferred; each failure is reported (strict mode: the first raises once all ran)."""
    first = None
    steps, call.post_fit = call.post_fit, []
    for step, args in steps:
        try:
            with deferred.own_steps():
                step(call, *args)
        except Exception as exc:
            try:
                session.report_error(call.integration, exc, call.config.silent)
            except Exception as strict:
                first = first or strict
    if first is not None:
        raise first


def _finish_later(call: Call, created: bool, context: contextvars.Context) -> bool:
    """Take the run off the active-run stack now; run the deferred steps, the flush and the end of the run on
    the post-fit worker. False (reported) if the run could not be detached: finish here instead."""
    try:
        end = session.detach_run(call.run_id) if created else None
    except Exception as exc:
        session.report_error(call.integration, exc, call.config.silent)
        return False
    task = functools.partial(_post_fit_task, call, created, end)
    try:
        deferred.submit(task, owner=call.instance, context=context)
    except Exception:  # noqa: BLE001 - it can't be handed over: do it here, as without deferral
        context.run(task)
    return True


def _post_fit_task(call: Call, created: bool, end) -> None:
    try:
        _run_post_fit(call)
    finally:
        _finish(call, created, None, end)


def _finish(call: Call, created: bool, error: BaseException | None, end=None) -> None:
    """Flush the call's logging and end the run if this call created it (with ``end`` when it was detached
    already). Our failures here are reported (raised in strict mode only when no other exception is already
    propagating)."""
    failures = []
    with deferred.own_steps():
        if call.parent is None and call.logger is not None:
            try:
                call.logger.flush()
            except Exception as exc:
                failures.append(exc)
        if created:
            try:
                status = session.finish_status(error)
                if end is not None:
                    end(status)
                else:
                    session.close_run(call.run_id, status)
            except Exception as exc:
                failures.append(exc)
    for exc in failures:
        if error is not None:
            session.warn_once(
                (call.integration, "finish"),
                f"tracklet: {call.integration} autologging could not finish run {call.run_id}: {exc}",
                call.config.silent,
            )
        else:
            session.report_error(call.integration, exc, call.config.silent)
