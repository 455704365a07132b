"""Runs, experiments and stores. Knows nothing about ML frameworks."""


def __getattr__(name):
    # lazy so `import tracklet` stays light
    if name in ("MlflowClient", "TrackletClient"):
        from tracklet.tracking.client import TrackletClient

        return TrackletClient
    raise AttributeError(name)


__all__ = ["MlflowClient", "TrackletClient"]
