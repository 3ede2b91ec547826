"""Compiled kernels for :mod:`simulations.compressibility.api` (no validation here).

* ``powered_sorted_row``: (|a|/max|a|)^p sorted ascending, by an LSD radix sort
  on the IEEE-754 bit patterns (for non-negative doubles the unsigned integer
  order of the bit pattern is the numeric order), 11-bit digits, passes whose
  digit is constant over the data are skipped. Measured against numpy's sort in
  ``bench/compressibility.py``.
* ``relative_from_sorted``: compensated (Kahan) cumulative sums from the small
  end, r[k] = (c_{n−k}/c_n)^{1/p}; made monotone against the last-ulp wobble
  that compensation can produce.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_BITS = 11
_RADIX = 1 << _BITS
_MASK = _RADIX - 1
_PASSES = 6  # 6 × 11 = 66 ≥ 64 bits


@njit(cache=True)
def _radix_sort_u64(keys, buf):
    """Sort uint64 ``keys`` in place (``buf`` is scratch of the same size)."""
    n = keys.shape[0]
    counts = np.zeros((_PASSES, _RADIX), dtype=np.int64)
    for i in range(n):
        v = keys[i]
        for d in range(_PASSES):
            counts[d, (v >> np.uint64(d * _BITS)) & np.uint64(_MASK)] += 1
    src = keys
    dst = buf
    swapped = False
    for d in range(_PASSES):
        # skip a pass whose digit is the same for every key
        trivial = False
        for b in range(_RADIX):
            if counts[d, b] == n:
                trivial = True
                break
            if counts[d, b] != 0:
                break
        if trivial:
            continue
        pos = np.empty(_RADIX, dtype=np.int64)
        acc = 0
        for b in range(_RADIX):
            pos[b] = acc
            acc += counts[d, b]
        shift = np.uint64(d * _BITS)
        for i in range(n):
            v = src[i]
            b = (v >> shift) & np.uint64(_MASK)
            dst[pos[b]] = v
            pos[b] += 1
        tmp = src
        src = dst
        dst = tmp
        swapped = not swapped
    if swapped:
        for i in range(n):
            keys[i] = src[i]


@njit(cache=True)
def powered_sorted_row(a, p, out):
    """out ← sort((|a| / max|a|)^p) ascending, float64; a zero row gives zeros."""
    n = a.shape[0]
    mx = 0.0
    for i in range(n):
        v = abs(np.float64(a[i]))
        if v > mx:
            mx = v
    if mx == 0.0:
        mx = 1.0
    inv = 1.0 / mx
    for i in range(n):
        v = abs(np.float64(a[i])) * inv
        if v > 1.0:  # inv rounding: keep the normalized maximum at 1
            v = 1.0
        if p == 2.0:
            out[i] = v * v
        elif p == 1.0:
            out[i] = v
        else:
            out[i] = v**p
    keys = out.view(np.uint64)
    buf = np.empty(n, dtype=np.uint64)
    _radix_sort_u64(keys, buf)


@njit(cache=True)
def powered_sorted_rows(a, p, out):
    """Row-wise ``powered_sorted_row`` over a 2-D array (the row loop stays compiled)."""
    for i in range(a.shape[0]):
        powered_sorted_row(a[i], p, out[i])


@njit(cache=True)
def relative_from_sorted(s, p, out):
    """Rows of ``s`` sorted ascending, non-negative; out[i, k] = (c_{n−k}/c_n)^{1/p}, k = 0..n."""
    m, n = s.shape
    c = np.empty(n + 1, dtype=np.float64)
    inv_p = 1.0 / p
    for i in range(m):
        tot = 0.0
        comp = 0.0
        c[0] = 0.0
        for j in range(n):
            y = s[i, j] - comp
            t = tot + y
            comp = (t - tot) - y
            tot = t
            c[j + 1] = tot if tot > c[j] else c[j]
        total = c[n]
        if total == 0.0:
            for k in range(n + 1):
                out[i, k] = 0.0
            continue
        inv_t = 1.0 / total
        for k in range(n + 1):
            q = c[n - k] * inv_t
            if q > 1.0:
                q = 1.0
            if p == 2.0:
                out[i, k] = np.sqrt(q)
            elif p == 1.0:
                out[i, k] = q
            else:
                out[i, k] = q**inv_p
        out[i, 0] = 1.0
        out[i, n] = 0.0


@njit(cache=True)
def kahan_sum(v):
    """Compensated sum of a 1-D float64 array (in the given order)."""
    tot = 0.0
    comp = 0.0
    for j in range(v.shape[0]):
        y = v[j] - comp
        t = tot + y
        comp = (t - tot) - y
        tot = t
    return tot


@njit(cache=True)
def count_prunable(s, ratio):
    """Largest m with (sum of the m smallest of sorted ``s``) ≤ ratio · (sum of all)."""
    n = s.shape[0]
    total = kahan_sum(s)
    if total == 0.0:
        return n
    thr = ratio * total
    tot = 0.0
    comp = 0.0
    for j in range(n):
        y = s[j] - comp
        t = tot + y
        comp = (t - tot) - y
        tot = t
        if tot > thr:
            return j
    return n
