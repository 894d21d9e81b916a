"""Short synthetic contours both functionals test files try (openSMILE's edge cases: no frames left after dropping
zeros, 1-5 frames, constants, ramps)."""

from __future__ import annotations

import numpy as np


def edge_cases() -> dict[str, np.ndarray]:
    return {
        "all zeros": np.zeros(60),
        "1 frame": np.array([3.5]),
        "1 zero frame": np.array([0.0]),
        "2 frames": np.array([1.0, 2.0]),
        "3 frames": np.array([2.0, 0.0, 5.0]),
        "4 frames": np.array([1.0, 3.0, 2.0, 5.0]),
        "5 frames": np.array([1.0, 3.0, 2.0, 5.0, 4.0]),
        "constant": np.full(80, 2.5),
        "constant negative": np.full(30, -7.25),
        "ramp": np.linspace(-1, 4, 200),
    }
