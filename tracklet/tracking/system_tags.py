"""The ``mlflow.*`` system tag names (one definition each) and the tags describing where a run comes from:
user, source script, git commit, a generated run name.

Git facts are read from the ``.git`` directory's files (no subprocess, no GitPython) so starting a run
stays fast.
"""

from __future__ import annotations

import configparser
import getpass
import os
import random
import sys

from tracklet.tracking.entities import SourceType

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
RUN_NAME = "mlflow.runName"
PARENT_RUN_ID = "mlflow.parentRunId"
NOTE = "mlflow.note.content"
AUTOLOGGING = "mlflow.autologging"
LOG_MODEL_HISTORY = "mlflow.log-model.history"
DATASET_CONTEXT = "mlflow.data.context"  # a tag of a dataset input (train / eval ...), not of the run


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:
        return False


def source_name_and_type() -> tuple[str, str]:
    if _in_notebook():
        return os.environ.get("JPY_SESSION_NAME", "notebook"), SourceType.NOTEBOOK
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    if path and path not in ("-c", "-m"):
        return os.path.abspath(path), SourceType.LOCAL
    return "<console>", SourceType.LOCAL


def _find_git_dir(start: str) -> str | None:
    d = os.path.abspath(start if os.path.isdir(start) else os.path.dirname(start) or ".")
    while True:
        candidate = os.path.join(d, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):  # worktree / submodule: "gitdir: <path>"
            try:
                with open(candidate) as f:
                    text = f.read().strip()
                if text.startswith("gitdir:"):
                    return os.path.normpath(os.path.join(d, text.split(":", 1)[1].strip()))
            except OSError:
                return None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _resolve_ref(git_dir: str, ref: str) -> str | None:
    for base in (git_dir, _common_dir(git_dir)):
        path = os.path.join(base, ref)
        if os.path.isfile(path):
            with open(path) as f:
                return f.read().strip() or None
        packed = os.path.join(base, "packed-refs")
        if os.path.isfile(packed):
            with open(packed) as f:
                for line in f:
                    parts = line.strip().split(" ")
                    if len(parts) == 2 and parts[1] == ref:
                        return parts[0]
    return None


def _common_dir(git_dir: str) -> str:
    path = os.path.join(git_dir, "commondir")
    if os.path.isfile(path):
        with open(path) as f:
            return os.path.normpath(os.path.join(git_dir, f.read().strip()))
    return git_dir


def git_tags(source_path: str) -> dict[str, str]:
    """Commit, branch and origin URL of the repository containing ``source_path`` (empty if none)."""
    try:
        git_dir = _find_git_dir(source_path)
        if not git_dir:
            return {}
        with open(os.path.join(git_dir, "HEAD")) as f:
            head = f.read().strip()
        tags: dict[str, str] = {}
        if head.startswith("ref:"):
            ref = head.split(":", 1)[1].strip()
            commit = _resolve_ref(git_dir, ref)
            if ref.startswith("refs/heads/"):
                tags[GIT_BRANCH] = ref[len("refs/heads/") :]
        else:
            commit = head
        if not commit:
            return {}  # repository without commits
        tags[GIT_COMMIT] = commit
        config = configparser.ConfigParser(strict=False)
        config.read(os.path.join(_common_dir(git_dir), "config"))
        url = config.get('remote "origin"', "url", fallback=None)
        if url:
            tags[GIT_REPO_URL] = url
        return tags
    except Exception:
        return {}


def context_tags() -> dict[str, str]:
    """The system tags for a new run started from this process."""
    name, source_type = source_name_and_type()
    tags = {USER: current_user(), SOURCE_NAME: name, SOURCE_TYPE: source_type}
    if source_type == SourceType.LOCAL and name != "<console>":
        tags.update(git_tags(name))
    else:
        tags.update(git_tags(os.getcwd()))
    return tags


_ADJECTIVES = (
    "able amazing bold brave bright calm capable clean clever colorful crisp curious dapper daring "
    "debonair eager efficient elegant enchanting fearless fun funny gentle gifted glamorous graceful "
    "handsome honorable hungry industrious intelligent judicious kindly languid likeable loud luminous "
    "magnificent marvelous mercurial merciful nebulous omniscient orderly painted peaceful polite "
    "powerful puzzled quick quiet rebellious redolent resilient righteous rogue rumbling salty secretive "
    "selective sedate serious shivering skillful sneaky spiffy stately suave tasteful thoughtful "
    "trusting unequaled upbeat useful valuable victorious vaunted wise worried youthful zealous"
).split()
_ANIMALS = (
    "ant ape asp auk bass bat bear bee bird boar bug calf carp cat chimp cod colt conch cow crab crane "
    "croc crow cub deer doe dog dolphin donkey dove duck eel elk fawn finch fish flea fly foal fowl fox "
    "frog gnat gnu goat goose grouse gull hare hawk hen hog horse hound jay kit kite koi lamb lark loon "
    "lynx mare midge mink mole moose moth mouse mule newt owl ox panda penguin perch pig pug quail ram "
    "rat ray robin roo seal shad shark sheep shoat shrew skink skunk sloth slug smelt snail snake squid "
    "stag steed stoat swan tern toad trout turtle vole wasp whale wolf worm wren yak zebra"
).split()


def generate_run_name() -> str:
    """A memorable ``adjective-animal-NNN`` name, as MLflow users expect."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}-{random.randint(0, 999)}"
