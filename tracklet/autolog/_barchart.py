"""Charts drawn with Pillow: the feature-importance bar chart here; the drawing helpers (font, ticks, PNG
encoding) are shared with :mod:`._charts` (curves and the confusion matrix).

Why not matplotlib: importing it costs about a second and one ``tight_layout`` + ``savefig`` a few hundred
milliseconds, which alone would exceed our overhead budget on a seconds-long fit. Pillow (which matplotlib
itself depends on, so it is there wherever matplotlib is) imports in ~50 ms and draws this in a few ms.
"""

from __future__ import annotations

import functools
import io
import math

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]
_WIDTH, _ROW, _TOP, _BOTTOM, _MAX_LABEL = 720, 20, 44, 48, 260


@functools.lru_cache(maxsize=8)  # loading the scalable font costs milliseconds; charts ask for the same sizes
def font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
    except TypeError:
        return ImageFont.load_default()


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def fit_text(draw, text: str, face, width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text, font=face) <= width:
        return text
    while text and draw.textlength(text + "...", font=face) > width:
        text = text[:-1]
    return text + "..."


def barh_png(
    names: list[str],
    values: list[list[float]],
    title: str,
    xlabel: str = "Importance",
    series: list[str] | None = None,
) -> bytes:
    """PNG bytes of a horizontal bar chart: one row per name (top to bottom as given), one bar per series
    (``values[i][j]`` = row i, series j), a legend when there are several series."""
    from PIL import Image, ImageDraw

    small, title_font = font(12), font(15)
    n_rows, n_series = len(names), max((len(v) for v in values), default=1)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    labels = [fit_text(probe, str(n), small, _MAX_LABEL) for n in names]
    label_w = max((probe.textlength(s, font=small) for s in labels), default=0)
    x0, x1 = int(16 + label_w + 8), _WIDTH - 24
    row_h = _ROW if n_series == 1 else max(_ROW, 7 * n_series + 6)
    top = _TOP + (22 if series and n_series > 1 else 0)  # room for a one-line legend under the title
    height = max(top + n_rows * row_h + _BOTTOM, 200)
    y0, y1 = top, height - _BOTTOM
    flat = [v for row in values for v in row]
    lo, hi = min(0.0, *flat), max(0.0, *flat)
    if hi == lo:
        hi = lo + 1.0
    pad = (hi - lo) * 0.04
    lo, hi = (lo - pad if lo < 0 else lo), (hi + pad if hi > 0 else hi)

    def x(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    img = Image.new("RGB", (_WIDTH, height), "white")
    draw = ImageDraw.Draw(img)
    for t in nice_ticks(lo, hi):
        xt = x(t)
        draw.line([(xt, y0), (xt, y1)], fill="#e6e6e6")
        draw.line([(xt, y1), (xt, y1 + 4)], fill="black")
        draw.text((xt, y1 + 6), f"{t:g}", font=small, fill="black", anchor="mt")
    bar_h = (row_h * 0.8) / n_series
    for i, (label, row) in enumerate(zip(labels, values, strict=True)):
        yc = y0 + (i + 0.5) * (y1 - y0) / max(n_rows, 1)
        for j, v in enumerate(row):
            bar_top = yc - row_h * 0.4 + j * bar_h
            left, right = sorted((x(0.0), x(v)))
            draw.rectangle(
                [(left, bar_top), (max(right, left + 1), bar_top + bar_h - 1)],
                fill=PALETTE[j % len(PALETTE)],
            )
        draw.text((x0 - 6, yc), label, font=small, fill="black", anchor="rm")
    if lo < 0:
        draw.line([(x(0.0), y0), (x(0.0), y1)], fill="#444444")
    draw.rectangle([(x0, y0), (x1, y1)], outline="black")
    draw.text(((x0 + x1) / 2, 14), title, font=title_font, fill="black", anchor="mt")
    draw.text(((x0 + x1) / 2, height - 8), xlabel, font=small, fill="black", anchor="mb")
    if series and n_series > 1:
        widths = [18 + probe.textlength(str(n), font=small) + 14 for n in series]
        lx = (x0 + x1 - sum(widths)) / 2
        for j, (name, w) in enumerate(zip(series, widths, strict=True)):
            draw.rectangle([(lx, 38), (lx + 12, 48)], fill=PALETTE[j % len(PALETTE)])
            draw.text((lx + 18, 43), str(name), font=small, fill="black", anchor="lm")
            lx += w
    return png_bytes(img)


def png_bytes(img) -> bytes:
    """PNG bytes of a Pillow image, as a 64-colour palette: 5x smaller and ~2x faster to encode than RGB,
    with no visible loss for these charts."""
    from PIL import Image

    buf = io.BytesIO()
    img.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(buf, format="PNG")
    return buf.getvalue()
