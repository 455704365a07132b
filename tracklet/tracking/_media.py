"""Saving figures and images for ``log_figure`` / ``log_image`` (matplotlib, plotly, numpy, PIL)."""

from __future__ import annotations

import os

from tracklet.exceptions import InvalidParameterValue


def save_figure(figure, path: str) -> None:
    """matplotlib: png/svg/pdf/jpg by extension; plotly: html (or an image when kaleido is installed)."""
    ext = os.path.splitext(path)[1].lower()
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        if ext not in (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".eps", ".ps"):
            raise InvalidParameterValue(
                f"log_figure: artifact_file {os.path.basename(path)!r} must end in .png, .svg, .pdf or .jpg "
                "for a matplotlib figure"
            )
        figure.savefig(path)
        return
    if module.startswith("plotly"):
        if ext == ".html":
            figure.write_html(path, include_plotlyjs="cdn")
        elif ext in (".png", ".jpeg", ".jpg", ".svg", ".pdf", ".webp"):
            figure.write_image(path)  # needs kaleido; plotly raises a clear error otherwise
        else:
            raise InvalidParameterValue(
                f"log_figure: artifact_file {os.path.basename(path)!r} must end in .html (or .png/.svg/.pdf with "
                "kaleido) for a plotly figure"
            )
        return
    raise InvalidParameterValue(
        f"log_figure: unsupported figure type {type(figure).__module__}.{type(figure).__name__}; "
        "expected a matplotlib Figure or a plotly Figure"
    )


def _to_pil(image):
    try:
        from PIL import Image
    except ImportError:
        raise InvalidParameterValue("log_image needs Pillow: pip install pillow") from None
    if isinstance(image, Image.Image):
        return image
    import numpy as np

    if not isinstance(image, np.ndarray):
        raise InvalidParameterValue(
            f"log_image: unsupported image type {type(image).__name__}; expected a numpy array or a PIL image"
        )
    arr = image
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidParameterValue(
            f"log_image: invalid image shape {image.shape}: expected HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA)"
        )
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise InvalidParameterValue(
                f"log_image: integer pixel values must be in the range [0, 255], got [{arr.min()}, {arr.max()}]"
            )
        arr = arr.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.size and not np.all(np.isfinite(arr)):
            raise InvalidParameterValue("log_image: float pixel values must be finite")
        arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype(np.uint8)
    else:
        raise InvalidParameterValue(f"log_image: unsupported pixel dtype {arr.dtype}")
    mode = {2: "L"}.get(arr.ndim) or ("RGB" if arr.shape[2] == 3 else "RGBA")
    return Image.fromarray(arr, mode=mode)


def save_image(image, path: str) -> None:
    img = _to_pil(image)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".jpg", ".jpeg") and img.mode == "RGBA":
        img = img.convert("RGB")
    img.save(path)
