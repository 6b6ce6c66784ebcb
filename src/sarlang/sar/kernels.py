"""numba kernels of the speckle filters (see :mod:`sarlang.sar.filters` for the definitions).

Every kernel reads a float32 intensity image, treats non-finite pixels as missing (they are
left out of every window and come out NaN), truncates windows at the image border (only
pixels inside count), and runs in parallel over blocks of rows. Window sums use float64.
A window of ``k`` pixels covers offsets ``-(k // 2) .. k - 1 - k // 2``, as in scipy.ndimage.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_BLOCK_ROWS = 32
# Fast-math flags that keep NaN and infinity semantics (the kernels test for missing pixels).
_FAST = {"contract", "arcp", "nsz", "afn", "reassoc"}

MODE_BOXCAR = 0
MODE_LEE = 1
MODE_KUAN = 2
MODE_GAMMA_MAP = 3
MODE_FROST = 4


@njit(cache=True, inline="always")
def _valid(v: float) -> bool:
    return math.isfinite(v)


@njit(cache=True, fastmath=_FAST)
def _row_sums(img, row, ox0, ox1, s, q, n):
    """Sliding sums over the horizontal window of every pixel of one row: s (values), q (squares), n (count)."""
    width = img.shape[1]
    ws = 0.0
    wq = 0.0
    wn = 0.0
    # prime the window of column 0: columns 0 .. ox1
    for c in range(min(width, ox1 + 1)):
        v = img[row, c]
        if _valid(v):
            ws += v
            wq += v * v
            wn += 1.0
    for c in range(width):
        s[c] = ws
        q[c] = wq
        n[c] = wn
        enter = c + ox1 + 1
        leave = c - ox0
        if enter < width:
            v = img[row, enter]
            if _valid(v):
                ws += v
                wq += v * v
                wn += 1.0
        if leave >= 0:
            v = img[row, leave]
            if _valid(v):
                ws -= v
                wq -= v * v
                wn -= 1.0


@njit(cache=True, inline="always")
def _moment_formula(mode, x, mean, var, cu2, param):
    """The filtered value from the centre pixel x and its window mean and variance."""
    if mode == MODE_BOXCAR:
        return mean
    if mean <= 0.0:
        return mean
    noise = cu2 * mean * mean  # speckle variance expected at this mean
    if mode == MODE_LEE or mode == MODE_KUAN:
        if var <= noise:
            return mean
        w = 1.0 - noise / var  # = 1 - Cu^2 / Ci^2
        if mode == MODE_KUAN:
            w /= 1.0 + cu2
        return mean + min(w, 1.0) * (x - mean)
    ci2 = var / (mean * mean)
    # Gamma MAP (Lopes, Touzi and Nezry 1990); param = number of looks
    ci = math.sqrt(ci2)
    cu = math.sqrt(cu2)
    if ci <= cu:
        return mean
    if ci >= math.sqrt(2.0) * cu:
        return x
    alpha = (1.0 + cu2) / (ci2 - cu2)
    b = alpha - param - 1.0
    d = mean * mean * b * b + 4.0 * alpha * param * mean * x
    return (b * mean + math.sqrt(max(d, 0.0))) / (2.0 * alpha)


@njit(parallel=True, cache=True, fastmath=_FAST)
def moment_filter(img, ky, kx, mode, cu2, param, ring_dist, ring_index, out, row_lo, row_hi, col_lo, col_hi):
    """Boxcar, Lee, Kuan, Gamma MAP and Frost: filters driven by the window mean and variance.

    This general version checks every pixel for being missing and truncates windows at the
    border; it fills ``out`` for rows ``row_lo:row_hi`` and columns ``col_lo:col_hi``. Row sums
    of the last ``ky`` rows live in a small ring buffer that stays in cache. For Frost,
    ``param`` is the damping factor and ``ring_index[dy, dx]`` the index of each window
    position's distance in ``ring_dist``.
    """
    height, width = img.shape
    oy0 = ky // 2
    oy1 = ky - 1 - oy0
    ox0 = kx // 2
    ox1 = kx - 1 - ox0
    n_blocks = (row_hi - row_lo + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    n_rings = ring_dist.shape[0]
    for b in prange(n_blocks):
        r0 = row_lo + b * _BLOCK_ROWS
        r1 = min(row_hi, r0 + _BLOCK_ROWS)
        hs = np.zeros((ky, width))
        hq = np.zeros((ky, width))
        hn = np.zeros((ky, width))
        weights = np.empty(n_rings)
        slots = np.empty(ky, np.int64)
        next_row = max(0, r0 - oy0)  # next row whose sums enter the ring
        for r in range(r0, r1):
            last = min(height - 1, r + oy1)
            while next_row <= last:
                slot = next_row % ky
                _row_sums(img, next_row, ox0, ox1, hs[slot], hq[slot], hn[slot])
                next_row += 1
            first = max(0, r - oy0)
            n_slots = last - first + 1
            for k in range(n_slots):  # integer modulo is slow: once per row, not per pixel
                slots[k] = (first + k) % ky
            for c in range(col_lo, col_hi):
                x = img[r, c]
                if not _valid(x):
                    out[r, c] = np.nan
                    continue
                s = 0.0
                q = 0.0
                n = 0.0
                for k in range(n_slots):
                    slot = slots[k]
                    s += hs[slot, c]
                    q += hq[slot, c]
                    n += hn[slot, c]
                inv_n = 1.0 / n
                mean = s * inv_n
                var = max(q * inv_n - mean * mean, 0.0)
                if mode != MODE_FROST:
                    out[r, c] = _moment_formula(mode, x, mean, var, cu2, param)
                    continue
                # Frost (Frost et al. 1982): weights exp(-K * Ci^2 * distance)
                damping = param * var / (mean * mean) if mean > 0.0 else 0.0
                for i in range(n_rings):
                    weights[i] = math.exp(-damping * ring_dist[i])
                acc = 0.0
                wsum = 0.0
                for dy in range(max(-oy0, -r), min(oy1, height - 1 - r) + 1):
                    rr = r + dy
                    for dx in range(max(-ox0, -c), min(ox1, width - 1 - c) + 1):
                        v = img[rr, c + dx]
                        if _valid(v):
                            w = weights[ring_index[dy + oy0, dx + ox0]]
                            acc += w * v
                            wsum += w
                out[r, c] = acc / wsum


@njit(parallel=True, cache=True, fastmath=_FAST)
def moment_filter_interior(img, ky, kx, mode, cu2, param, ring_dist, ring_index, ring_of_offset, out):
    """:func:`moment_filter` for the interior of an image without missing pixels.

    Fills rows ``ky // 2 .. height - (ky - 1 - ky // 2)`` and the same inset of columns, where
    every window lies inside the image. Every inner loop runs along a row, so LLVM vectorises
    it: window sums are built from shifted rows, and Frost's weighted sum from per-distance
    ring sums, ``sum_i exp(-K Ci^2 d_i) R_i``, with ``R_i`` the sum over the positions at distance
    ``d_i`` and ``ring_of_offset`` the ring of each window position (row-major).
    """
    height, width = img.shape
    oy0 = ky // 2
    oy1 = ky - 1 - oy0
    ox0 = kx // 2
    ox1 = kx - 1 - ox0
    c_lo = ox0
    c_hi = width - ox1
    if c_hi <= c_lo or height - oy1 <= oy0:
        return
    n = c_hi - c_lo
    inv_count = 1.0 / (ky * kx)
    n_rings = ring_dist.shape[0]
    ring_size = np.zeros(n_rings)
    if mode == MODE_FROST:
        for k in range(ky * kx):
            ring_size[ring_of_offset[k]] += 1.0
    rows = height - oy1 - oy0
    n_blocks = (rows + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    for b in prange(n_blocks):
        s = np.empty(n)
        q = np.empty(n)
        rings = np.empty((n_rings, n))
        for r in range(oy0 + b * _BLOCK_ROWS, min(height - oy1, oy0 + (b + 1) * _BLOCK_ROWS)):
            s[:] = 0.0
            q[:] = 0.0
            for dy in range(-oy0, oy1 + 1):
                row = img[r + dy]
                for dx in range(-ox0, ox1 + 1):
                    start = c_lo + dx
                    for i in range(n):
                        v = np.float64(row[start + i])
                        s[i] += v
                        q[i] += v * v
            centre = img[r]
            if mode != MODE_FROST:
                for i in range(n):
                    mean = s[i] * inv_count
                    var = max(q[i] * inv_count - mean * mean, 0.0)
                    out[r, c_lo + i] = _moment_formula(mode, centre[c_lo + i], mean, var, cu2, param)
                continue
            rings[:, :] = 0.0
            k = 0
            for dy in range(-oy0, oy1 + 1):
                row = img[r + dy]
                for dx in range(-ox0, ox1 + 1):
                    ring = rings[ring_of_offset[k]]
                    start = c_lo + dx
                    for i in range(n):
                        ring[i] += row[start + i]
                    k += 1
            for i in range(n):
                mean = s[i] * inv_count
                var = max(q[i] * inv_count - mean * mean, 0.0)
                damping = param * var / (mean * mean) if mean > 0.0 else 0.0
                acc = 0.0
                wsum = 0.0
                for j in range(n_rings):
                    w = math.exp(-damping * ring_dist[j])
                    acc += w * rings[j, i]
                    wsum += w * ring_size[j]
                out[r, c_lo + i] = acc / wsum


@njit(parallel=True, cache=True)
def median_filter(img, ky, kx):
    """Median of the valid pixels of each window (the mean of the two middle ones for an even count)."""
    height, width = img.shape
    out = np.empty((height, width), np.float32)
    oy0 = ky // 2
    oy1 = ky - 1 - oy0
    ox0 = kx // 2
    ox1 = kx - 1 - ox0
    n_blocks = (height + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    for b in prange(n_blocks):
        buf = np.empty(ky * kx, np.float32)
        for r in range(b * _BLOCK_ROWS, min(height, (b + 1) * _BLOCK_ROWS)):
            for c in range(width):
                if not _valid(img[r, c]):
                    out[r, c] = np.nan
                    continue
                n = 0
                for rr in range(max(0, r - oy0), min(height, r + oy1 + 1)):
                    for cc in range(max(0, c - ox0), min(width, c + ox1 + 1)):
                        v = img[rr, cc]
                        if _valid(v):
                            # insertion sort as we go: windows are small
                            j = n
                            while j > 0 and buf[j - 1] > v:
                                buf[j] = buf[j - 1]
                                j -= 1
                            buf[j] = v
                            n += 1
                if n % 2 == 1:
                    out[r, c] = buf[n // 2]
                else:
                    out[r, c] = 0.5 * (buf[n // 2 - 1] + buf[n // 2])
    return out


def _in_half(direction: int, dy: int, dx: int) -> bool:
    """Whether window offset (dy, dx) lies in one of the eight edge-aligned half windows of Lee (1981)."""
    if direction == 0:
        return dx <= 0  # left half
    if direction == 1:
        return dx >= 0  # right half
    if direction == 2:
        return dy <= 0  # upper half
    if direction == 3:
        return dy >= 0  # lower half
    if direction == 4:
        return dx - dy >= 0  # upper-right triangle (edge along the main diagonal)
    if direction == 5:
        return dx - dy <= 0  # lower-left triangle
    if direction == 6:
        return dx + dy <= 0  # upper-left triangle (edge along the anti-diagonal)
    return dx + dy >= 0  # lower-right triangle


def half_window_offsets() -> np.ndarray:
    """(8, 28, 2) offsets (dy, dx) of the eight edge-aligned 7x7 half windows of Lee (1981)."""
    table = np.zeros((8, 28, 2), dtype=np.int64)
    for direction in range(8):
        k = 0
        for dy in range(-3, 4):
            for dx in range(-3, 4):
                if _in_half(direction, dy, dx):
                    table[direction, k] = (dy, dx)
                    k += 1
        assert k == 28
    return table


@njit(parallel=True, cache=True, fastmath=_FAST)
def refined_lee(img, box3, sigma_v2, halves, out, row_lo, row_hi, col_lo, col_hi):
    """Refined Lee (Lee 1981) on a 7x7 window, for rows ``row_lo:row_hi`` and columns ``col_lo:col_hi``.

    ``box3`` is the 3x3 box mean of ``img`` and ``halves`` the table of :func:`half_window_offsets`.
    This general version checks for missing pixels and the border.
    """
    height, width = img.shape
    n_blocks = (row_hi - row_lo + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    for b in prange(n_blocks):
        sub = np.empty((3, 3))
        for r in range(row_lo + b * _BLOCK_ROWS, min(row_hi, row_lo + (b + 1) * _BLOCK_ROWS)):
            for c in range(col_lo, col_hi):
                x = img[r, c]
                if not _valid(x):
                    out[r, c] = np.nan
                    continue
                # 3x3 grid of 3x3 sub-window means, centred 2 pixels apart; a missing one
                # (outside the image) takes the centre's mean so that it shows no gradient.
                centre = box3[r, c]
                for i in range(3):
                    for j in range(3):
                        rr = r + 2 * (i - 1)
                        cc = c + 2 * (j - 1)
                        v = box3[rr, cc] if 0 <= rr < height and 0 <= cc < width else centre
                        sub[i, j] = v if _valid(v) else centre
                direction = _edge_direction(sub[0, 0], sub[0, 1], sub[0, 2], sub[1, 0], sub[1, 1], sub[1, 2], sub[2, 0], sub[2, 1], sub[2, 2])
                s = 0.0
                q = 0.0
                n = 0.0
                interior = 3 <= r < height - 3 and 3 <= c < width - 3
                for k in range(28):
                    rr = r + halves[direction, k, 0]
                    cc = c + halves[direction, k, 1]
                    if not interior and (rr < 0 or rr >= height or cc < 0 or cc >= width):
                        continue
                    v = img[rr, cc]
                    if _valid(v):
                        s += v
                        q += v * v
                        n += 1.0
                out[r, c] = _mmse(x, s, q, n, sigma_v2)


@njit(cache=True, inline="always")
def _edge_direction(b0, b1, b2, b3, b4, b5, b6, b7, b8):
    """Which of the eight half windows (see :func:`_in_half`) from the 3x3 grid of sub-window means (row-major)."""
    g_vertical_edge = abs(b2 + b5 + b8 - b0 - b3 - b6)
    g_horizontal_edge = abs(b6 + b7 + b8 - b0 - b1 - b2)
    g_diagonal_edge = abs(b1 + b2 + b5 - b3 - b6 - b7)
    g_antidiagonal_edge = abs(b0 + b1 + b3 - b5 - b7 - b8)
    best = g_vertical_edge
    kind = 0
    if g_horizontal_edge > best:
        best = g_horizontal_edge
        kind = 1
    if g_diagonal_edge > best:
        best = g_diagonal_edge
        kind = 2
    if g_antidiagonal_edge > best:
        kind = 3
    # keep the half whose outer sub-window mean is closer to the centre's
    if kind == 0:
        return 0 if abs(b3 - b4) <= abs(b5 - b4) else 1
    if kind == 1:
        return 2 if abs(b1 - b4) <= abs(b7 - b4) else 3
    if kind == 2:
        return 4 if abs(b2 - b4) <= abs(b6 - b4) else 5
    return 6 if abs(b0 - b4) <= abs(b8 - b4) else 7


@njit(cache=True, inline="always")
def _mmse(x, s, q, n, sigma_v2):
    """Lee's MMSE estimate from the sums of the selected pixels (s, squares q, count n)."""
    z = s / n
    var_z = max(q / n - z * z, 0.0)
    var_x = (var_z - z * z * sigma_v2) / (1.0 + sigma_v2)
    k = min(max(var_x / var_z, 0.0), 1.0) if var_z > 0.0 else 0.0
    return z + k * (x - z)


@njit(parallel=True, cache=True, fastmath=_FAST)
def refined_lee_interior(img, box3, sigma_v2, flat_halves, out):
    """:func:`refined_lee` for pixels 3 or more from the border of an image without missing pixels.

    ``flat_halves[d, k]`` is the k-th offset of half window d in a flattened row-major image.
    """
    height, width = img.shape
    flat = img.ravel()
    rows = height - 6
    n_blocks = (rows + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    for b in prange(n_blocks):
        for r in range(3 + b * _BLOCK_ROWS, min(height - 3, 3 + (b + 1) * _BLOCK_ROWS)):
            up = box3[r - 2]
            mid = box3[r]
            down = box3[r + 2]
            for c in range(3, width - 3):
                d = _edge_direction(up[c - 2], up[c], up[c + 2], mid[c - 2], mid[c], mid[c + 2], down[c - 2], down[c], down[c + 2])
                base = r * width + c
                s = 0.0
                q = 0.0
                for k in range(28):
                    v = np.float64(flat[base + flat_halves[d, k]])
                    s += v
                    q += v * v
                out[r, c] = _mmse(flat[base], s, q, 28.0, sigma_v2)


@njit(parallel=True, cache=True, fastmath=_FAST)
def lee_sigma(img, half, target_half, sigma_v2, eta1, eta2, sigma_vp2, z98, point_count):
    """Improved Lee sigma filter (Lee et al. 2009) on a (2 half + 1)^2 window."""
    height, width = img.shape
    out = np.empty((height, width), np.float32)
    n_blocks = (height + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    for b in prange(n_blocks):
        for r in range(b * _BLOCK_ROWS, min(height, (b + 1) * _BLOCK_ROWS)):
            for c in range(width):
                x = img[r, c]
                if not _valid(x):
                    out[r, c] = np.nan
                    continue
                # target window: point-target test and the a priori mean (MMSE over it)
                s = 0.0
                q = 0.0
                n = 0.0
                bright = 0
                for rr in range(max(0, r - target_half), min(height, r + target_half + 1)):
                    for cc in range(max(0, c - target_half), min(width, c + target_half + 1)):
                        v = img[rr, cc]
                        if _valid(v):
                            s += v
                            q += v * v
                            n += 1.0
                            if v >= z98:
                                bright += 1
                if bright >= point_count:
                    out[r, c] = x  # strong point target: kept as it is
                    continue
                m = s / n
                var = max(q / n - m * m, 0.0)
                prior = m
                if var > 0.0:
                    var_x = (var - m * m * sigma_v2) / (1.0 + sigma_v2)
                    prior = m + min(max(var_x / var, 0.0), 1.0) * (x - m)
                low = eta1 * prior
                high = eta2 * prior
                s = 0.0
                q = 0.0
                n = 0.0
                for rr in range(max(0, r - half), min(height, r + half + 1)):
                    for cc in range(max(0, c - half), min(width, c + half + 1)):
                        v = img[rr, cc]
                        if _valid(v) and low <= v <= high:
                            s += v
                            q += v * v
                            n += 1.0
                if n == 0.0:
                    out[r, c] = prior
                    continue
                z = s / n
                var_z = max(q / n - z * z, 0.0)
                var_x = (var_z - z * z * sigma_vp2) / (1.0 + sigma_vp2)
                k = min(max(var_x / var_z, 0.0), 1.0) if var_z > 0.0 else 0.0
                out[r, c] = z + k * (x - z)
    return out
