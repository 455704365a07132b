"""The classifier plots of scikit-learn autologging (confusion matrix, ROC and precision-recall curves), drawn
with Pillow as the feature-importance charts are (:mod:`._barchart`).

Why not matplotlib: in a fresh process its import alone was ~0.5 s and the three figures ~0.8 s more, all in
the training thread -- most of autolog's overhead on a seconds-long fit (issue 15). These draw in a few ms.
They show what scikit-learn's ``ConfusionMatrixDisplay`` / ``RocCurveDisplay`` / ``PrecisionRecallDisplay``
show: the row-normalised matrix with its values and a colour bar, the curves with AUC / AP in the legend.
"""

from __future__ import annotations

from tracklet.autolog._barchart import PALETTE, fit_text, font, nice_ticks, png_bytes

_W, _H = 600, 500
# viridis at 0, 1/8, ..., 1 (matplotlib's default colour map, which scikit-learn's display uses)
_VIRIDIS = [
    (68, 1, 84),
    (70, 50, 126),
    (54, 92, 141),
    (39, 127, 142),
    (31, 161, 135),
    (74, 193, 109),
    (160, 218, 57),
    (253, 231, 37),
]


def _viridis(v: float) -> tuple[int, int, int]:
    v = min(max(v, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(v), len(_VIRIDIS) - 2)
    f = v - i
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    return tuple(round(a[k] + (b[k] - a[k]) * f) for k in range(3))


def confusion_matrix_png(matrix, labels: list, title: str = "Normalized confusion matrix") -> bytes:
    """A heatmap of ``matrix`` (rows: true label, columns: predicted label; values in 0..1) with each cell's
    value written in it and a colour bar."""
    from PIL import Image, ImageDraw

    n = len(labels)
    small, title_font = font(12), font(15)
    img = Image.new("RGB", (_W, _H), "white")
    draw = ImageDraw.Draw(img)
    names = [fit_text(draw, str(lab), small, 90) for lab in labels]
    left = 40 + max((draw.textlength(s, font=small) for s in names), default=0)
    size = min(_W - left - 110, _H - 110)
    x0, y0, cell = left, 40, size / max(n, 1)
    lo, hi = 0.0, max(1e-12, max((float(v) for row in matrix for v in row), default=1.0))
    for i in range(n):
        for j in range(n):
            value = float(matrix[i][j])
            color = _viridis((value - lo) / (hi - lo))
            box = [(x0 + j * cell, y0 + i * cell), (x0 + (j + 1) * cell, y0 + (i + 1) * cell)]
            draw.rectangle(box, fill=color)
            if n <= 30:  # as scikit-learn: the value in each cell, dark on light colours and light on dark
                ink = "black" if sum(color) > 380 else "white"
                center = ((box[0][0] + box[1][0]) / 2, (box[0][1] + box[1][1]) / 2)
                draw.text(center, f"{value:.2g}", font=small, fill=ink, anchor="mm")
    draw.rectangle([(x0, y0), (x0 + n * cell, y0 + n * cell)], outline="black")
    for k, name in enumerate(names):
        draw.text((x0 - 6, y0 + (k + 0.5) * cell), name, font=small, fill="black", anchor="rm")
        draw.text((x0 + (k + 0.5) * cell, y0 + n * cell + 6), name, font=small, fill="black", anchor="mt")
    draw.text((x0 + n * cell / 2, y0 + n * cell + 28), "Predicted label", font=small, fill="black", anchor="mt")
    _vertical_text(img, (12, y0 + n * cell / 2), "True label", small)
    # colour bar
    bx, bw, top, bottom = x0 + n * cell + 24, 16, y0, y0 + n * cell
    for y in range(int(top), int(bottom)):
        draw.line([(bx, y), (bx + bw, y)], fill=_viridis(1 - (y - top) / max(bottom - top, 1)))
    draw.rectangle([(bx, top), (bx + bw, bottom)], outline="black")
    for t in nice_ticks(lo, hi):
        yt = bottom - (t - lo) / (hi - lo) * (bottom - top)
        draw.line([(bx + bw, yt), (bx + bw + 4, yt)], fill="black")
        draw.text((bx + bw + 7, yt), f"{t:g}", font=small, fill="black", anchor="lm")
    draw.text((x0 + n * cell / 2, 14), title, font=title_font, fill="black", anchor="mt")
    return png_bytes(img)


def curve_png(x, y, xlabel: str, ylabel: str, legend: str, title: str, step: bool = False) -> bytes:
    """A line chart of one curve on the unit square (ROC: ``x`` = false positive rate; precision-recall:
    ``x`` = recall, drawn as a step function when ``step``), with ``legend`` in the lower right."""
    from PIL import Image, ImageDraw

    small, title_font = font(12), font(15)
    img = Image.new("RGB", (_W, _H), "white")
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = 70, 40, _W - 30, _H - 60
    pad = 0.02

    def px(u: float, v: float) -> tuple[float, float]:
        return (
            x0 + (u + pad) / (1 + 2 * pad) * (x1 - x0),
            y1 - (v + pad) / (1 + 2 * pad) * (y1 - y0),
        )

    for t in nice_ticks(0.0, 1.0):
        gx, gy = px(t, t)
        draw.line([(gx, y0), (gx, y1)], fill="#eeeeee")
        draw.line([(x0, gy), (x1, gy)], fill="#eeeeee")
        draw.line([(gx, y1), (gx, y1 + 4)], fill="black")
        draw.line([(x0 - 4, gy), (x0, gy)], fill="black")
        draw.text((gx, y1 + 6), f"{t:g}", font=small, fill="black", anchor="mt")
        draw.text((x0 - 6, gy), f"{t:g}", font=small, fill="black", anchor="rm")
    points = _polyline(x, y, (x0, y0, x1, y1), pad, step)
    if len(points) > 1:
        draw.line(points, fill=PALETTE[0], width=2)
    draw.rectangle([(x0, y0), (x1, y1)], outline="black")
    draw.text(((x0 + x1) / 2, y1 + 24), xlabel, font=small, fill="black", anchor="mt")
    _vertical_text(img, (16, (y0 + y1) / 2), ylabel, small)
    draw.text(((x0 + x1) / 2, 14), title, font=title_font, fill="black", anchor="mt")
    lw = draw.textlength(legend, font=small) + 44
    lx, ly = x1 - lw - 10, y1 - 34
    draw.rectangle([(lx, ly), (lx + lw, ly + 24)], fill="white", outline="#cccccc")
    draw.line([(lx + 8, ly + 12), (lx + 30, ly + 12)], fill=PALETTE[0], width=2)
    draw.text((lx + 36, ly + 12), legend, font=small, fill="black", anchor="lm")
    return png_bytes(img)


def _polyline(x, y, box, pad: float, step: bool) -> list[tuple[float, float]]:
    """Pixel coordinates of the curve through ``(x, y)`` (a post-step when ``step``), computed with numpy and
    without consecutive points that fall on the same pixel (a 20,000-point curve is a few hundred segments)."""
    import numpy as np

    x0, y0, x1, y1 = box
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if step and len(xs) > 1:  # (x[k], y[k-1]) before each (x[k], y[k])
        xs = np.repeat(xs, 2)[1:]
        ys = np.repeat(ys, 2)[:-1]
    px = np.round(x0 + (xs + pad) / (1 + 2 * pad) * (x1 - x0))
    py = np.round(y1 - (ys + pad) / (1 + 2 * pad) * (y1 - y0))
    keep = np.ones(len(px), dtype=bool)
    keep[1:] = (np.diff(px) != 0) | (np.diff(py) != 0)
    return list(zip(px[keep].tolist(), py[keep].tolist(), strict=True))


def _vertical_text(img, center: tuple[float, float], text: str, face) -> None:
    """``text`` rotated by 90 degrees (reading upwards), centred on ``center``."""
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(img)
    w = int(probe.textlength(text, font=face)) + 4
    label = Image.new("RGB", (w, 18), "white")
    ImageDraw.Draw(label).text((w / 2, 9), text, font=face, fill="black", anchor="mm")
    rotated = label.rotate(90, expand=True)
    img.paste(rotated, (int(center[0] - rotated.width / 2), int(center[1] - rotated.height / 2)))
