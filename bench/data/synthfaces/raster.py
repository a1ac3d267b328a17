"""SynthFaces kernels: vertex shading and z-buffer rasterisation, in numba and in pure numpy.

Both backends run the same IEEE float64 operations in the same order (no fast-math, no pow, sums
in triangle order), so they give bit-identical buffers; the tests check this.
Screen convention: x right, y down, pixel (r, c) has its centre at (c + 0.5, r + 0.5); larger
depth is nearer the camera. Triangles are drawn when they wind clockwise on screen
(counter-clockwise seen from outside in the y-up model frame): back faces are culled.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # the numpy backend still works
    numba = None

NUMBA_AVAILABLE = numba is not None


def shade_numpy(
    positions: np.ndarray,
    triangles: np.ndarray,
    albedo: np.ndarray,
    ks16: np.ndarray,
    ks64: np.ndarray,
    light: np.ndarray,
    half: np.ndarray,
    ambient: float,
) -> np.ndarray:
    """Gouraud vertex colours (display values in [0, 1]): Lambert + Blinn-Phong on linear albedo."""
    n = len(positions)
    p0, p1, p2 = positions[triangles[:, 0]], positions[triangles[:, 1]], positions[triangles[:, 2]]
    e1, e2 = p1 - p0, p2 - p0
    fx = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
    fy = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
    fz = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    flat = triangles.ravel()
    nx = np.bincount(flat, weights=np.repeat(fx, 3), minlength=n)
    ny = np.bincount(flat, weights=np.repeat(fy, 3), minlength=n)
    nz = np.bincount(flat, weights=np.repeat(fz, 3), minlength=n)
    length = np.sqrt(nx * nx + ny * ny + nz * nz)
    ok = length > 0.0
    safe = np.where(ok, length, 1.0)
    nx = np.where(ok, nx / safe, 0.0)
    ny = np.where(ok, ny / safe, 0.0)
    nz = np.where(ok, nz / safe, 0.0)
    diffuse = np.maximum(nx * light[0] + ny * light[1] + nz * light[2], 0.0)
    s = np.maximum(nx * half[0] + ny * half[1] + nz * half[2], 0.0)
    s = s * s
    s = s * s
    s = s * s
    s16 = s * s
    s = s16 * s16
    s64 = s * s
    spec = ks16 * s16 + ks64 * s64
    lit = ambient + (1.0 - ambient) * diffuse
    out = np.empty((n, 3))
    for ch in range(3):
        value = albedo[:, ch] * lit + spec
        out[:, ch] = np.sqrt(np.minimum(np.maximum(value, 0.0), 1.0))
    return out


def raster_numpy(
    sx: np.ndarray,
    sy: np.ndarray,
    sz: np.ndarray,
    colors: np.ndarray,
    triangles: np.ndarray,
    height: int,
    width: int,
    background: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered Gouraud raster, vectorised over (triangle, pixel) candidates; returns (image, zbuffer)."""
    image = np.empty((height, width, 3))
    image[:] = background
    zbuf = np.full((height, width), -np.inf)
    t0, t1, t2 = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    x0, y0, x1, y1, x2, y2 = sx[t0], sy[t0], sx[t1], sy[t1], sx[t2], sy[t2]
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    cmin = np.maximum(np.ceil(np.minimum(np.minimum(x0, x1), x2) - 0.5), 0.0)
    cmax = np.minimum(np.floor(np.maximum(np.maximum(x0, x1), x2) - 0.5), width - 1.0)
    rmin = np.maximum(np.ceil(np.minimum(np.minimum(y0, y1), y2) - 0.5), 0.0)
    rmax = np.minimum(np.floor(np.maximum(np.maximum(y0, y1), y2) - 0.5), height - 1.0)
    keep = np.flatnonzero((area < 0.0) & (cmin <= cmax) & (rmin <= rmax))
    if len(keep) == 0:
        return image, zbuf
    bw = (cmax[keep] - cmin[keep] + 1).astype(np.int64)
    bh = (rmax[keep] - rmin[keep] + 1).astype(np.int64)
    counts = bw * bh
    tri = np.repeat(keep, counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    bw_rep = np.repeat(bw, counts)
    col = np.repeat(cmin[keep].astype(np.int64), counts) + offset % bw_rep
    row = np.repeat(rmin[keep].astype(np.int64), counts) + offset // bw_rep
    px, py = col + 0.5, row + 0.5
    ax, ay, bx, by, cx, cy = x0[tri], y0[tri], x1[tri], y1[tri], x2[tri], y2[tri]
    w0 = (cx - bx) * (py - by) - (cy - by) * (px - bx)
    w1 = (ax - cx) * (py - cy) - (ay - cy) * (px - cx)
    w2 = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    inside = (w0 <= 0.0) & (w1 <= 0.0) & (w2 <= 0.0)
    tri, row, col, w0, w1, w2 = (
        tri[inside],
        row[inside],
        col[inside],
        w0[inside],
        w1[inside],
        w2[inside],
    )
    a = area[tri]
    b0, b1, b2 = w0 / a, w1 / a, w2 / a
    z = b0 * sz[t0[tri]] + b1 * sz[t1[tri]] + b2 * sz[t2[tri]]
    pixel = row * width + col
    # Winner per pixel: nearest depth, ties to the lowest triangle index (as the sequential kernel).
    order = np.lexsort((tri, -z, pixel))
    first = np.ones(len(order), bool)
    first[1:] = pixel[order[1:]] != pixel[order[:-1]]
    win = order[first]
    tri, b0, b1, b2 = tri[win], b0[win], b1[win], b2[win]
    flat_image = image.reshape(-1, 3)
    for ch in range(3):
        flat_image[pixel[win], ch] = (
            b0 * colors[t0[tri], ch] + b1 * colors[t1[tri], ch] + b2 * colors[t2[tri], ch]
        )
    zbuf.reshape(-1)[pixel[win]] = z[win]
    return image, zbuf


def _shade_loop(positions, triangles, albedo, ks16, ks64, light, half, ambient):
    """Sequential twin of shade_numpy (compiled by numba)."""
    n = positions.shape[0]
    normals = np.zeros((n, 3))
    for t in range(triangles.shape[0]):
        i0, i1, i2 = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        e1x = positions[i1, 0] - positions[i0, 0]
        e1y = positions[i1, 1] - positions[i0, 1]
        e1z = positions[i1, 2] - positions[i0, 2]
        e2x = positions[i2, 0] - positions[i0, 0]
        e2y = positions[i2, 1] - positions[i0, 1]
        e2z = positions[i2, 2] - positions[i0, 2]
        fx = e1y * e2z - e1z * e2y
        fy = e1z * e2x - e1x * e2z
        fz = e1x * e2y - e1y * e2x
        for k in range(3):
            v = triangles[t, k]
            normals[v, 0] += fx
            normals[v, 1] += fy
            normals[v, 2] += fz
    out = np.empty((n, 3))
    for v in range(n):
        nx, ny, nz = normals[v, 0], normals[v, 1], normals[v, 2]
        length = np.sqrt(nx * nx + ny * ny + nz * nz)
        if length > 0.0:
            nx, ny, nz = nx / length, ny / length, nz / length
        else:
            nx, ny, nz = 0.0, 0.0, 0.0
        diffuse = max(nx * light[0] + ny * light[1] + nz * light[2], 0.0)
        s = max(nx * half[0] + ny * half[1] + nz * half[2], 0.0)
        s = s * s
        s = s * s
        s = s * s
        s16 = s * s
        s = s16 * s16
        s64 = s * s
        spec = ks16[v] * s16 + ks64[v] * s64
        lit = ambient + (1.0 - ambient) * diffuse
        for ch in range(3):
            value = albedo[v, ch] * lit + spec
            out[v, ch] = np.sqrt(min(max(value, 0.0), 1.0))
    return out


def _raster_loop(sx, sy, sz, colors, triangles, image, zbuf):
    """Sequential z-buffer raster into preallocated buffers (compiled by numba)."""
    height, width = zbuf.shape
    for t in range(triangles.shape[0]):
        i0, i1, i2 = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        x0, y0, x1, y1, x2, y2 = sx[i0], sy[i0], sx[i1], sy[i1], sx[i2], sy[i2]
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if not area < 0.0:
            continue
        cmin = max(np.ceil(min(min(x0, x1), x2) - 0.5), 0.0)
        cmax = min(np.floor(max(max(x0, x1), x2) - 0.5), width - 1.0)
        rmin = max(np.ceil(min(min(y0, y1), y2) - 0.5), 0.0)
        rmax = min(np.floor(max(max(y0, y1), y2) - 0.5), height - 1.0)
        if cmin > cmax or rmin > rmax:
            continue
        for row in range(int(rmin), int(rmax) + 1):
            py = row + 0.5
            for col in range(int(cmin), int(cmax) + 1):
                px = col + 0.5
                w0 = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
                w1 = (x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)
                w2 = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
                if w0 <= 0.0 and w1 <= 0.0 and w2 <= 0.0:
                    b0, b1, b2 = w0 / area, w1 / area, w2 / area
                    z = b0 * sz[i0] + b1 * sz[i1] + b2 * sz[i2]
                    if z > zbuf[row, col]:
                        zbuf[row, col] = z
                        for ch in range(3):
                            image[row, col, ch] = (
                                b0 * colors[i0, ch] + b1 * colors[i1, ch] + b2 * colors[i2, ch]
                            )


if NUMBA_AVAILABLE:
    _shade_jit = numba.njit(cache=True, nogil=True)(_shade_loop)
    _raster_jit = numba.njit(cache=True, nogil=True)(_raster_loop)


def shade_numba(positions, triangles, albedo, ks16, ks64, light, half, ambient) -> np.ndarray:
    """Numba version of shade_numpy (bit-identical)."""
    return _shade_jit(positions, triangles, albedo, ks16, ks64, light, half, float(ambient))


def raster_numba(
    sx, sy, sz, colors, triangles, height, width, background
) -> tuple[np.ndarray, np.ndarray]:
    """Numba version of raster_numpy (bit-identical)."""
    image = np.empty((height, width, 3))
    image[:] = background
    zbuf = np.full((height, width), -np.inf)
    _raster_jit(sx, sy, sz, colors, triangles, image, zbuf)
    return image, zbuf
