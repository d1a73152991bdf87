"""Per-pixel core of the SynthFaces renderer, compiled with numba.

One call of :func:`render_scene` ray-casts, textures, shades and composites every 3D layer of
an image (long-hair curtain, inside of the hair shell, shoulders, neck, the head as a union of
ellipsoids, auto-exposure, front hair, hat) in a single pass per layer, pixel by pixel, with
no temporary arrays. The scene itself (which ellipsoids, colours and textures) is set up in
:mod:`clusterface.synth.render`; this module only knows numbers.

Numerics: float64 per pixel, no ``fastmath`` (no reassociation, no fused multiply-add
contraction), so the same inputs give the same pixels on any x86-64 or ARM machine.
Compiled functions are cached on disk (``cache=True``) so worker processes load them.

Array layouts (all float64 unless noted):
- ``defs`` (n, 24): one ellipsoid per row: centre (3) and radii (3) in its frame, the shape's
  rotation in that frame (9, row-major) and the frame-to-camera rotation (9, row-major).
- ``cam`` (13,): inverse alignment m00 m01 m10 m11 t0 t1 (pixels -> camera plane, y down),
  alignment a00 a01 a02 a10 a11 a12 (camera (x, -y) -> pixels), pixels per head unit.
- ``shading`` (10,): light direction (3), light colour x intensity (3), ambient / intensity,
  Blinn-Phong half vector (3).
- ``ident`` (10,): hair colour (3), skin colour (3), hair style code, hairline, hair parting
  sign, cranium depth radius.
- ``layers_i`` (m, 5) int64: ellipsoid row, phase (0 behind the head, 1 in front), surface
  (0 front, 1 inner back), albedo (0 flat, 1 hair, 2 shadowed hair), region (0 none,
  1 above a height: soft step of y - height, 2 hair-shell style region); ``layers_f`` (m, 8):
  specular, wrap, colour (3), region height, region width, depth test (0/1).
- ``solids_i`` (h, 3) int64: ellipsoid row, albedo (0 face texture, 1 ear, 2 hair bun),
  counts for exposure metering (0/1); ``solids_f`` (h,): smooth-union softness (0 = sharp edge).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_jit = nb.njit(cache=True, nogil=True)

# hair style codes (order of clusterface.synth.identity.HAIR_STYLES)
BALD, BUZZ, SHORT, FRINGE, SIDE_PART, LONG, CURLY, BUN = range(8)
# derived ellipsoid parameters (columns of the array made by _derive)
_K, _K0, _NM, _PM, _C, _MR, _BB, _WIN, _D = 0, 9, 12, 21, 30, 33, 34, 35, 39


@_jit
def _derive(defs: np.ndarray, cam: np.ndarray, size: int) -> np.ndarray:
    """Per ellipsoid: local-coordinate map K, k0, normal and point matrices, pixel window."""
    n = defs.shape[0]
    out = np.zeros((n, _D))
    full = np.zeros((3, 3))
    for e in range(n):
        c = defs[e, 0:3]
        r = defs[e, 3:6]
        rot = defs[e, 6:15].reshape(3, 3)
        frame = defs[e, 15:24].reshape(3, 3)
        for i in range(3):
            for j in range(3):
                acc = 0.0
                for k in range(3):
                    acc += frame[i, k] * rot[k, j]
                full[i, j] = acc
        cc = np.zeros(3)
        for i in range(3):
            cc[i] = frame[i, 0] * c[0] + frame[i, 1] * c[1] + frame[i, 2] * c[2]
        for i in range(3):
            k0 = 0.0
            for j in range(3):
                kij = full[j, i] / r[i]
                out[e, _K + 3 * i + j] = kij
                k0 += kij * cc[j]
                out[e, _NM + 3 * i + j] = full[i, j] / r[j]
                out[e, _PM + 3 * i + j] = rot[i, j] * r[j]
            out[e, _K0 + i] = k0
            out[e, _C + i] = c[i]
        out[e, _MR] = (r[0] + r[1] + r[2]) / 3.0
        b0, b1, b2 = out[e, _K + 2], out[e, _K + 5], out[e, _K + 8]
        out[e, _BB] = b0 * b0 + b1 * b1 + b2 * b2
        # pixel bounding box of the projection (x0 - 1, x1 + 2 as a safe margin for the soft edge)
        ex = math.sqrt((full[0, 0] * r[0]) ** 2 + (full[0, 1] * r[1]) ** 2 + (full[0, 2] * r[2]) ** 2)
        ey = math.sqrt((full[1, 0] * r[0]) ** 2 + (full[1, 1] * r[1]) ** 2 + (full[1, 2] * r[2]) ** 2)
        umin, umax, vmin, vmax = 1e30, -1e30, 1e30, -1e30
        for sx in (-1.0, 1.0):
            for sy in (-1.0, 1.0):
                px, py = cc[0] + sx * ex, -(cc[1] + sy * ey)
                u = cam[6] * px + cam[7] * py + cam[8]
                v = cam[9] * px + cam[10] * py + cam[11]
                umin, umax, vmin, vmax = min(umin, u), max(umax, u), min(vmin, v), max(vmax, v)
        out[e, _WIN + 0] = max(math.floor(vmin) - 1, 0)
        out[e, _WIN + 1] = min(math.ceil(vmax) + 2, size)
        out[e, _WIN + 2] = max(math.floor(umin) - 1, 0)
        out[e, _WIN + 3] = min(math.ceil(umax) + 2, size)
    return out


@_jit
def _span(d: np.ndarray, e: int, cam: np.ndarray, row: int) -> tuple[int, int]:
    """Columns [lo, hi) of ``row`` where ellipsoid e may have coverage > 0 (empty when lo >= hi).

    Along a row the silhouette function s of :func:`_hit` is a concave quadratic in the column;
    coverage is > 0 where s > -1 / (mean radius x pixels per unit). The interval is widened by a
    pixel on each side and clipped to the ellipsoid's window; :func:`_hit` decides exactly."""
    if row < d[e, _WIN] or row >= d[e, _WIN + 1]:
        return 0, 0
    w0, w1 = int(d[e, _WIN + 2]), int(d[e, _WIN + 3])
    bb = d[e, _BB]
    ab_a, ab_b, aa_a, aa_ab, aa_b = 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(3):
        kx, ky = d[e, _K + 3 * i], d[e, _K + 3 * i + 1]
        alpha_i = kx * cam[0] - ky * cam[2]
        beta_i = kx * (cam[1] * row + cam[4]) - ky * (cam[3] * row + cam[5]) - d[e, _K0 + i]
        bi = d[e, _K + 3 * i + 2]
        ab_a += alpha_i * bi
        ab_b += beta_i * bi
        aa_a += alpha_i * alpha_i
        aa_ab += alpha_i * beta_i
        aa_b += beta_i * beta_i
    c2 = ab_a * ab_a / bb - aa_a
    c1 = 2.0 * ab_a * ab_b / bb - 2.0 * aa_ab
    c0 = ab_b * ab_b / bb - aa_b + 1.0 + 1.0 / (d[e, _MR] * cam[12])
    if c2 > -1e-12:
        return w0, w1
    disc = c1 * c1 - 4.0 * c2 * c0
    if disc < 0.0:
        return 0, 0
    root = math.sqrt(disc)
    r_lo, r_hi = (-c1 + root) / (2.0 * c2), (-c1 - root) / (2.0 * c2)
    return max(w0, math.floor(r_lo) - 1), min(w1, math.ceil(r_hi) + 2)


@_jit
def _hit(d: np.ndarray, e: int, x: float, y: float, ppu: float) -> tuple[float, float, float, float, float, float]:
    """Orthographic ray at camera-plane (x, y): (soft coverage, a0, a1, a2, t_front, t_back)."""
    a0 = d[e, _K + 0] * x + d[e, _K + 1] * y - d[e, _K0 + 0]
    a1 = d[e, _K + 3] * x + d[e, _K + 4] * y - d[e, _K0 + 1]
    a2 = d[e, _K + 6] * x + d[e, _K + 7] * y - d[e, _K0 + 2]
    bb = d[e, _BB]
    ab = a0 * d[e, _K + 2] + a1 * d[e, _K + 5] + a2 * d[e, _K + 8]
    # s = 1 - |A_perp|^2: > 0 inside the silhouette, ~ 2 * signed distance / radius near it
    s = ab * ab / bb - (a0 * a0 + a1 * a1 + a2 * a2) + 1.0
    alpha = min(max(0.5 + s * (0.5 * d[e, _MR] * ppu), 0.0), 1.0)
    root = math.sqrt(max(s, 0.0) / bb)
    base = -ab / bb
    return alpha, a0, a1, a2, base + root, base - root


@_jit
def _local(d: np.ndarray, e: int, a0: float, a1: float, a2: float, t: float) -> tuple[float, float, float]:
    return a0 + t * d[e, _K + 2], a1 + t * d[e, _K + 5], a2 + t * d[e, _K + 8]


@_jit
def _normal(d: np.ndarray, e: int, q0: float, q1: float, q2: float) -> tuple[float, float, float]:
    n0 = d[e, _NM + 0] * q0 + d[e, _NM + 1] * q1 + d[e, _NM + 2] * q2
    n1 = d[e, _NM + 3] * q0 + d[e, _NM + 4] * q1 + d[e, _NM + 5] * q2
    n2 = d[e, _NM + 6] * q0 + d[e, _NM + 7] * q1 + d[e, _NM + 8] * q2
    inv = 1.0 / max(math.sqrt(n0 * n0 + n1 * n1 + n2 * n2), 1e-6)
    return n0 * inv, n1 * inv, n2 * inv


@_jit
def _point(d: np.ndarray, e: int, q0: float, q1: float, q2: float) -> tuple[float, float, float]:
    p0 = d[e, _PM + 0] * q0 + d[e, _PM + 1] * q1 + d[e, _PM + 2] * q2 + d[e, _C + 0]
    p1 = d[e, _PM + 3] * q0 + d[e, _PM + 4] * q1 + d[e, _PM + 5] * q2 + d[e, _C + 1]
    p2 = d[e, _PM + 6] * q0 + d[e, _PM + 7] * q1 + d[e, _PM + 8] * q2 + d[e, _C + 2]
    return p0, p1, p2


@_jit
def _clip01(v: float) -> float:
    return min(max(v, 0.0), 1.0)


@_jit
def _smooth_step(v: float, width: float) -> float:
    return _clip01(v / width + 0.5)


@_jit
def _reflect(i: int, n: int) -> int:
    """Index with mirror borders (edge texel repeated: ...cba|abc...|cba...)."""
    if 0 <= i < n:
        return i
    period = 2 * n
    i %= period
    return i if i < n else period - 1 - i


@_jit
def _sample_grey(tex: np.ndarray, u: float, v: float) -> float:
    """Bilinear sample of a 2D texture with mirrored borders."""
    h, w = tex.shape
    fu, fv = math.floor(u), math.floor(v)
    du, dv = u - fu, v - fv
    x0, x1 = _reflect(int(fu), w), _reflect(int(fu) + 1, w)
    y0, y1 = _reflect(int(fv), h), _reflect(int(fv) + 1, h)
    top = tex[y0, x0] * (1.0 - du) + tex[y0, x1] * du
    bottom = tex[y1, x0] * (1.0 - du) + tex[y1, x1] * du
    return top * (1.0 - dv) + bottom * dv


@_jit
def _sample_rgb(tex: np.ndarray, u: float, v: float) -> tuple[float, float, float]:
    """Bilinear sample of an (H, W, 3) texture with clamped borders."""
    h, w = tex.shape[0], tex.shape[1]
    u = min(max(u, 0.0), w - 1.0)
    v = min(max(v, 0.0), h - 1.0)
    x0, y0 = min(int(u), w - 2), min(int(v), h - 2)
    du, dv = u - x0, v - y0
    w00, w01, w10, w11 = (1.0 - du) * (1.0 - dv), du * (1.0 - dv), (1.0 - du) * dv, du * dv
    r = tex[y0, x0, 0] * w00 + tex[y0, x0 + 1, 0] * w01 + tex[y0 + 1, x0, 0] * w10 + tex[y0 + 1, x0 + 1, 0] * w11
    g = tex[y0, x0, 1] * w00 + tex[y0, x0 + 1, 1] * w01 + tex[y0 + 1, x0, 1] * w10 + tex[y0 + 1, x0 + 1, 1] * w11
    b = tex[y0, x0, 2] * w00 + tex[y0, x0 + 1, 2] * w01 + tex[y0 + 1, x0, 2] * w10 + tex[y0 + 1, x0 + 1, 2] * w11
    return r, g, b


@_jit
def _hair_region(ident: np.ndarray, shell_rz: float, x: float, y: float, z: float) -> float:
    """Soft hair coverage of a head-frame point on the hair shell, by style."""
    style, hl, part = int(ident[6]), ident[7], ident[8]
    w = min(max(z / shell_rz, -1.0), 1.0)
    if style == FRINGE:
        front = 0.42 + 0.025 * math.sin(x * 30.0) + 0.05 * x * x
    elif style == SIDE_PART:
        front = hl - 0.05 + 0.16 * min(max(x * part, -1.0), 1.0) + 0.1 * x * x
    elif style == CURLY:
        front = hl - 0.05 + 0.03 * math.sin(x * 22.0) + 0.12 * x * x
    else:
        front = hl + 0.2 * x * x
    side, back = (-0.35, -0.35) if style == LONG else (0.22, -0.55)
    if w >= 0:
        h = side + (front - side) * (w * math.sqrt(w))
    else:
        h = side + (back - side) * (-w)
    m = _smooth_step(y - h, 0.05)
    if style == BALD:
        m *= _smooth_step(0.45 - y, 0.05) * _smooth_step(0.35 - w, 0.1)
    return m


@_jit
def _hair_albedo(
    ident: np.ndarray, hair_tex: np.ndarray, x: float, y: float, z: float, buzz: bool
) -> tuple[float, float, float]:
    """Hair colour with a strand/curl pattern over (angle around the vertical axis, height)."""
    s = x / math.sqrt(x * x + z * z + 1e-4)
    around = s if z >= 0 else math.copysign(2.0, s) - s  # in [-2, 2]; front half in [-1, 1]
    h, w = hair_tex.shape
    g = _sample_grey(hair_tex, (around + 2.0) * (w / 4.0), (1.6 - y) * (h / 3.5))
    r, gg, b = g * ident[0], g * ident[1], g * ident[2]
    if buzz:
        r, gg, b = 0.55 * r + 0.45 * ident[3], 0.55 * gg + 0.45 * ident[4], 0.55 * b + 0.45 * ident[5]
    return r, gg, b


@_jit
def _shade_into(
    img: np.ndarray,
    row: int,
    col: int,
    alpha: float,
    alb: tuple[float, float, float],
    n: tuple[float, float, float],
    shading: np.ndarray,
    gain: float,
    spec: float,
    wrap: float,
) -> tuple[float, float, float]:
    """Wrapped Lambertian + Blinn-Phong; composite with coverage alpha; returns the shaded colour."""
    ndl = shading[0] * n[0] + shading[1] * n[1] + shading[2] * n[2]
    diffuse = _clip01((ndl + wrap) / (1.0 + wrap))
    k = shading[6] + diffuse
    highlight = 0.0
    if spec > 0:
        ndh = _clip01(shading[7] * n[0] + shading[8] * n[1] + shading[9] * n[2])
        ndh4 = ndh * ndh
        ndh4 *= ndh4
        ndh8 = ndh4 * ndh4
        highlight = ndh8 * ndh8 * ndh4 * spec  # ndh ** 20 without pow
    c0 = (alb[0] * k + highlight) * shading[3] * gain
    c1 = (alb[1] * k + highlight) * shading[4] * gain
    c2 = (alb[2] * k + highlight) * shading[5] * gain
    img[row, col, 0] += alpha * (c0 - img[row, col, 0])
    img[row, col, 1] += alpha * (c1 - img[row, col, 1])
    img[row, col, 2] += alpha * (c2 - img[row, col, 2])
    return c0, c1, c2


@_jit
def _layers(
    img: np.ndarray,
    depth: np.ndarray,
    d: np.ndarray,
    defs: np.ndarray,
    cam: np.ndarray,
    layers_i: np.ndarray,
    layers_f: np.ndarray,
    phase: int,
    shading: np.ndarray,
    gain: float,
    ident: np.ndarray,
    hair_tex: np.ndarray,
    cover: np.ndarray,
) -> None:
    """Composite every single-ellipsoid layer of ``phase`` (back to front); layers behind the head
    skip the pixels that the head covers completely (``cover`` = 1)."""
    ppu = cam[12]
    buzz = int(ident[6]) == BUZZ
    for li in range(layers_i.shape[0]):
        if layers_i[li, 1] != phase:
            continue
        e, back, albedo_kind, region = layers_i[li, 0], layers_i[li, 2] == 1, layers_i[li, 3], layers_i[li, 4]
        spec, wrap = layers_f[li, 0], layers_f[li, 1]
        depth_test = layers_f[li, 7] > 0
        for row in range(int(d[e, _WIN]), int(d[e, _WIN + 1])):
            lo, hi = _span(d, e, cam, row)
            for col in range(lo, hi):
                if phase == 0 and cover[row, col] >= 1.0:
                    continue
                x = cam[0] * col + cam[1] * row + cam[4]
                y = -(cam[2] * col + cam[3] * row + cam[5])
                alpha, a0, a1, a2, tf, tb = _hit(d, e, x, y, ppu)
                if alpha <= 0.0:
                    continue
                if depth_test and tf < depth[row, col] - 0.01:
                    continue
                q0, q1, q2 = _local(d, e, a0, a1, a2, tb if back else tf)
                p0, p1, p2 = _point(d, e, q0, q1, q2)
                if region == 1:
                    alpha *= _smooth_step(p1 - layers_f[li, 5], layers_f[li, 6])
                elif region == 2:
                    alpha *= _hair_region(ident, defs[e, 5], p0, p1, p2)
                if alpha <= 0.0:
                    continue
                n0, n1, n2 = _normal(d, e, q0, q1, q2)
                if back:
                    n0, n1, n2 = -n0, -n1, -n2
                if albedo_kind == 0:
                    alb = (layers_f[li, 2], layers_f[li, 3], layers_f[li, 4])
                else:
                    alb = _hair_albedo(ident, hair_tex, p0, p1, p2, buzz)
                    if albedo_kind == 2:
                        alb = (0.6 * alb[0], 0.6 * alb[1], 0.6 * alb[2])
                _shade_into(img, row, col, alpha, alb, (n0, n1, n2), shading, gain, spec, wrap)


@_jit
def _head_box(d: np.ndarray, solids_i: np.ndarray, size: int) -> tuple[int, int, int, int]:
    y0, y1, x0, x1 = size, 0, size, 0
    for k in range(solids_i.shape[0]):
        e = solids_i[k, 0]
        y0, y1 = min(y0, int(d[e, _WIN])), max(y1, int(d[e, _WIN + 1]))
        x0, x1 = min(x0, int(d[e, _WIN + 2])), max(x1, int(d[e, _WIN + 3]))
    return y0, y1, x0, x1


@_jit
def _head_cover(
    d: np.ndarray,
    cam: np.ndarray,
    solids_i: np.ndarray,
    solids_f: np.ndarray,
    depth: np.ndarray,
    winner: np.ndarray,
    cover: np.ndarray,
    surface: np.ndarray,
) -> None:
    """Union of the head's ellipsoids: nearest front depth, which solid is nearest, soft coverage, and
    ``surface`` (S, S, 6): the winner's unit-sphere point and the normal, blended across smooth seams
    (surfaces within a solid's softness of the front one share the normal, quadratic falloff)."""
    ppu = cam[12]
    n = solids_i.shape[0]
    lo = np.zeros(n, np.int64)
    hi = np.zeros(n, np.int64)
    alphas = np.zeros(n)
    depths = np.zeros(n)
    a = np.zeros((n, 3))
    y0, y1, _, _ = _head_box(d, solids_i, depth.shape[0])
    for row in range(y0, y1):
        c0, c1 = depth.shape[1], 0
        for k in range(n):
            lo[k], hi[k] = _span(d, solids_i[k, 0], cam, row)
            if lo[k] < hi[k]:
                c0, c1 = min(c0, lo[k]), max(c1, hi[k])
        for col in range(c0, c1):
            x = cam[0] * col + cam[1] * row + cam[4]
            y = -(cam[2] * col + cam[3] * row + cam[5])
            best, win, cov = -np.inf, -1, 0.0
            for k in range(n):
                alphas[k] = 0.0
                if col < lo[k] or col >= hi[k]:
                    continue
                alpha, a[k, 0], a[k, 1], a[k, 2], depths[k], _ = _hit(d, solids_i[k, 0], x, y, ppu)
                alphas[k] = alpha
                if alpha > 0.0 and depths[k] > best:
                    best, win = depths[k], k
                cov = max(cov, alpha)
            depth[row, col], winner[row, col], cover[row, col] = best, win, cov
            if win < 0:
                continue
            ew = solids_i[win, 0]
            q0, q1, q2 = _local(d, ew, a[win, 0], a[win, 1], a[win, 2], best)
            if solids_f[win] > 0:
                s0, s1, s2 = 0.0, 0.0, 0.0
                for k in range(n):
                    soft = solids_f[k]
                    if soft <= 0 or alphas[k] <= 0.0:
                        continue
                    wgt = _clip01(1.0 + (depths[k] - best) / soft)
                    wgt *= wgt
                    if wgt <= 0.0:
                        continue
                    e = solids_i[k, 0]
                    n0, n1, n2 = _normal(d, e, *_local(d, e, a[k, 0], a[k, 1], a[k, 2], depths[k]))
                    s0, s1, s2 = s0 + n0 * wgt, s1 + n1 * wgt, s2 + n2 * wgt
                inv = 1.0 / max(math.sqrt(s0 * s0 + s1 * s1 + s2 * s2), 1e-6)
                n0, n1, n2 = s0 * inv, s1 * inv, s2 * inv
            else:
                n0, n1, n2 = _normal(d, ew, q0, q1, q2)
            surface[row, col, 0], surface[row, col, 1], surface[row, col, 2] = q0, q1, q2
            surface[row, col, 3], surface[row, col, 4], surface[row, col, 5] = n0, n1, n2


@_jit
def _head_shade(
    img: np.ndarray,
    winner: np.ndarray,
    cover: np.ndarray,
    surface: np.ndarray,
    d: np.ndarray,
    solids_i: np.ndarray,
    shading: np.ndarray,
    ident: np.ndarray,
    face_tex: np.ndarray,
    tex_map: np.ndarray,
    hair_tex: np.ndarray,
) -> float:
    """Texture, shade and composite the head; returns the camera gain that meters the face's skin
    to the identity's own tone."""
    y0, y1, x0, x1 = _head_box(d, solids_i, img.shape[0])
    shaded_sum, albedo_sum, metered = 0.0, 0.0, 0
    for row in range(y0, y1):
        for col in range(x0, x1):
            k_win = winner[row, col]
            cov = cover[row, col]
            if k_win < 0 or cov <= 0.0:
                continue
            ew = solids_i[k_win, 0]
            q0, q1, q2 = surface[row, col, 0], surface[row, col, 1], surface[row, col, 2]
            n = (surface[row, col, 3], surface[row, col, 4], surface[row, col, 5])
            p0, p1, p2 = _point(d, ew, q0, q1, q2)
            kind = solids_i[k_win, 1]
            spec = 0.07
            if kind == 1:  # ear: darker concha
                concha = math.exp(-(q1 * q1 + (q2 + 0.1) ** 2) / 0.2)
                tone = 0.97 - 0.35 * concha
                alb = (tone * ident[3], tone * ident[4], tone * ident[5])
            elif kind == 2:  # hair bun
                alb = _hair_albedo(ident, hair_tex, p0, p1, p2, False)
                spec = 0.1
            else:  # painted face texture, fading to plain skin towards the sides
                u = (p0 - tex_map[0]) * tex_map[2]
                v = (tex_map[1] - p1) * tex_map[2]
                front = _clip01((p2 / ident[9] - 0.05) / 0.3)
                r, g, b = _sample_rgb(face_tex, u, v)
                alb = (
                    r * front + ident[3] * (1.0 - front),
                    g * front + ident[4] * (1.0 - front),
                    b * front + ident[5] * (1.0 - front),
                )
            c = _shade_into(img, row, col, cov, alb, n, shading, 1.0, spec, 0.25)
            if cov > 0.5 and solids_i[k_win, 2] == 1:
                shaded_sum += c[0] + c[1] + c[2]
                albedo_sum += alb[0] + alb[1] + alb[2]
                metered += 1
    if metered == 0:
        return 1.0
    shaded = shaded_sum / (3 * metered)
    return min(max(0.92 * (albedo_sum / (3 * metered)) / max(shaded, 1e-3), 0.6), 2.5)


@_jit
def render_scene(
    img: np.ndarray,
    defs: np.ndarray,
    cam: np.ndarray,
    shading: np.ndarray,
    ident: np.ndarray,
    layers_i: np.ndarray,
    layers_f: np.ndarray,
    solids_i: np.ndarray,
    solids_f: np.ndarray,
    face_tex: np.ndarray,
    tex_map: np.ndarray,
    hair_tex: np.ndarray,
) -> float:
    """Render all 3D layers into ``img`` (float32 (S, S, 3), holding the background); returns the
    exposure gain applied (the face is metered to the identity's skin tone)."""
    size = img.shape[0]
    d = _derive(defs, cam, size)
    # per-pixel buffers in 32 bits or less: two render workers share the caches of a 2-core machine
    depth = np.full((size, size), -np.inf, np.float32)
    winner = np.full((size, size), -1, np.int8)
    cover = np.zeros((size, size), np.float32)
    surface = np.empty((size, size, 6), np.float32)
    _head_cover(d, cam, solids_i, solids_f, depth, winner, cover, surface)
    _layers(img, depth, d, defs, cam, layers_i, layers_f, 0, shading, 1.0, ident, hair_tex, cover)
    gain = _head_shade(img, winner, cover, surface, d, solids_i, shading, ident, face_tex, tex_map, hair_tex)
    for row in range(size):
        for col in range(size):
            for ch in range(3):
                img[row, col, ch] *= gain
    _layers(img, depth, d, defs, cam, layers_i, layers_f, 1, shading, gain, ident, hair_tex, cover)
    return gain


@_jit
def _to_byte(v: float) -> np.uint8:
    return np.uint8(min(max(v * 255.0 + 0.5, 0.0), 255.0))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW16 = np.uint64(0xFFFF)
# sum of four 16-bit uniforms (Irwin-Hall): mean and standard deviation
_IH_MEAN = 4 * 65535 / 2
_IH_STD = math.sqrt(4 * (65536.0**2 - 1) / 12)


@_jit
def _gauss(seed: np.uint64, k: int) -> float:
    """Approximately standard-normal noise sample ``k`` of stream ``seed``: a SplitMix64 hash of the
    counter split into four 16-bit uniforms whose sum is near-Gaussian (bounded at +-3.46 sd)."""
    z = seed + np.uint64(k + 1) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    total = (z & _LOW16) + ((z >> np.uint64(16)) & _LOW16) + ((z >> np.uint64(32)) & _LOW16) + (z >> np.uint64(48))
    return (float(total) - _IH_MEAN) / _IH_STD


@_jit
def to_uint8(
    img: np.ndarray, exposure: float, noise_seed: np.uint64, noise_sigma: float, grayscale: bool
) -> np.ndarray:
    """Final camera response: exposure, additive Gaussian-like sensor noise of ``noise_sigma`` (counter-based
    stream ``noise_seed``), optional grayscale (ITU-R BT.601 luma of the clipped image), 8 bits."""
    h, w = img.shape[0], img.shape[1]
    out = np.empty((h, w, 3), np.uint8)
    noisy = noise_sigma > 0
    for row in range(h):
        for col in range(w):
            r = img[row, col, 0] * exposure
            g = img[row, col, 1] * exposure
            b = img[row, col, 2] * exposure
            if noisy:
                k = 3 * (row * w + col)
                r += _gauss(noise_seed, k) * noise_sigma
                g += _gauss(noise_seed, k + 1) * noise_sigma
                b += _gauss(noise_seed, k + 2) * noise_sigma
            if grayscale:
                r = g = b = 0.299 * _clip01(r) + 0.587 * _clip01(g) + 0.114 * _clip01(b)
            out[row, col, 0] = _to_byte(r)
            out[row, col, 1] = _to_byte(g)
            out[row, col, 2] = _to_byte(b)
    return out
