"""Face texture: expression bands painted on row windows give the same texels as painting the whole texture."""

from __future__ import annotations

import numpy as np
import pytest

from clusterface.synth import texture
from clusterface.synth.people import make_identity

EXPRESSIONS = [
    # smile, mouth_open, eyes_closed, brows_raised, gaze
    (0.0, 0.0, False, 0.0, (0.0, 0.0)),
    (1.0, 1.0, False, 1.0, (0.3, 0.1)),
    (1.0 / 3, 2.0 / 3, True, 0.5, (-0.3, -0.1)),
    (2.0 / 3, 0.0, False, 0.0, (-0.15, 0.1)),
]


def _painted_whole(ident: object, seed: int, expr: tuple) -> np.ndarray:
    smile, mouth_open, closed, brows, gaze = expr
    tex = texture.static_texture(ident, seed).copy()  # type: ignore[arg-type]
    texture._paint_eyes(tex, ident, closed, gaze)  # type: ignore[arg-type]
    texture._paint_brows(tex, ident, brows)  # type: ignore[arg-type]
    texture._draw_mouth(tex, ident, smile, mouth_open)  # type: ignore[arg-type]
    return tex


@pytest.mark.parametrize("index", range(0, 24, 3))
def test_composed_bands_equal_whole_painting(index: int) -> None:
    ident = make_identity(5, index, index, "hard")
    for expr in EXPRESSIONS:
        smile, mouth_open, closed, brows, gaze = expr
        composed = texture._compose(ident, 5, smile, mouth_open, closed, brows, gaze)
        np.testing.assert_array_equal(composed, _painted_whole(ident, 5, expr))


def test_band_repaints_whole_texture_when_the_window_is_too_small() -> None:
    ident = make_identity(5, 1, 1, "default")
    static = texture.static_texture(ident, 5)
    key = ("test-eyes", 1, False)
    texture._BANDS.pop(key, None)
    lids = texture._lids(ident, False)
    mid = (lids.window[0] + lids.window[1]) // 2
    r0, rows = texture._band(
        static, key, lambda: (mid, mid + 2), lambda t, row0: texture._paint_eyes(t, ident, False, (0.0, 0.0), row0)
    )
    whole = static.copy()
    texture._paint_eyes(whole, ident, False, (0.0, 0.0))
    changed = np.flatnonzero((whole != static).any(axis=(1, 2)))
    assert r0 == changed[0] and r0 + len(rows) == changed[-1] + 1
    np.testing.assert_array_equal(rows, whole[r0 : r0 + len(rows)])
