"""Procedurally painted photo-like scenes for the sample collection (deterministic per seed).

Each scene is built from layered gradients, fractal noise and silhouettes, then given a little
film grain and vignetting so that thumbnails read as photographs rather than flat drawings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

Colour = tuple[float, float, float]
Size = tuple[int, int]


def _gradient(height: int, width: int, stops: Sequence[tuple[float, Colour]]) -> np.ndarray:
    """Vertical colour gradient through `stops` (position 0 = top, 1 = bottom), float RGB."""
    t = np.linspace(0.0, 1.0, height)
    positions = [p for p, _ in stops]
    column = np.stack([np.interp(t, positions, [c[i] for _, c in stops]) for i in range(3)], axis=-1)
    return np.repeat(column[:, None, :], width, axis=1).astype(np.float32)


def _fractal_line(n: int, rng: np.random.Generator, octaves: int = 7, persistence: float = 0.5) -> np.ndarray:
    """1-D fractal noise of length `n`, spanning [-1, 1]: a ridge line or a wavy horizon."""
    x = np.linspace(0.0, 1.0, n)
    total, amplitude = np.zeros(n), 1.0
    for octave in range(octaves):
        points = 2 ** (octave + 1) + 1
        total += amplitude * np.interp(x, np.linspace(0.0, 1.0, points), rng.uniform(-1, 1, points))
        amplitude *= persistence
    return 2 * (total - total.min()) / (total.max() - total.min() + 1e-9) - 1


def _fractal_noise(
    size: Size, rng: np.random.Generator, octaves: int = 6, stretch: Size = (1, 1)
) -> np.ndarray:
    """2-D fractal value noise in [0, 1] (clouds, mist, texture); `stretch` elongates features."""
    width, height = size
    total, amplitude, norm = np.zeros((height, width), np.float32), 1.0, 0.0
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((max(2, cells // stretch[1]), max(2, cells // stretch[0]))).astype(np.float32)
        layer = Image.fromarray(grid, "F").resize((width, height), Image.Resampling.BICUBIC)
        total += amplitude * np.asarray(layer)
        norm += amplitude
        amplitude *= 0.55
    total /= norm
    return (total - total.min()) / (total.max() - total.min() + 1e-6)


def _blend(canvas: np.ndarray, colour: Colour | np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Paint `colour` over `canvas` with per-pixel opacity `alpha` (H x W, 0..1)."""
    a = np.clip(alpha, 0.0, 1.0)[..., None]
    return canvas * (1 - a) + np.asarray(colour, np.float32) * a


def _glow(size: Size, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Gaussian falloff around `centre` (pixels), 1 at the centre."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * radius**2))


def _disc(size: Size, centre: tuple[float, float], radius: float, soft: float = 1.5) -> np.ndarray:
    """Antialiased filled circle as an opacity mask."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    d = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2)
    return np.clip((radius - d) / soft + 0.5, 0.0, 1.0)


def _below(ridge: np.ndarray, height: int, soft: float = 1.0) -> np.ndarray:
    """Opacity mask of everything under the per-column line `ridge` (pixel rows)."""
    y = np.arange(height, dtype=np.float32)[:, None]
    return np.clip((y - ridge[None, :]) / soft + 0.5, 0.0, 1.0)


def _stars(size: Size, rng: np.random.Generator, count: int, limit: float = 1.0) -> np.ndarray:
    """Sparse star field (H x W brightness), only in the top `limit` fraction of the frame."""
    width, height = size
    field = np.zeros((height, width), np.float32)
    ys = rng.integers(0, int(height * limit), count)
    xs = rng.integers(0, width, count)
    field[ys, xs] = rng.uniform(0.3, 1.0, count) ** 2
    halo = (
        np.roll(field, 1, 0) + np.roll(field, -1, 0) + np.roll(field, 1, 1) + np.roll(field, -1, 1)
    ) * 0.25
    return field + halo


def _finish(
    canvas: np.ndarray, rng: np.random.Generator, grain: float = 3.0, vignette: float = 0.25
) -> Image.Image:
    """Add film grain and a soft vignette, then quantise to an 8-bit RGB image."""
    height, width = canvas.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((x / width - 0.5) ** 2 + (y / height - 0.5) ** 2) / 0.5
    canvas = canvas * (1 - vignette * r2[..., None])
    canvas = canvas + rng.normal(0.0, grain, canvas.shape[:2])[..., None]
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")


def _mountains(
    canvas: np.ndarray,
    rng: np.random.Generator,
    layers: Sequence[tuple[float, float, Colour]],
    haze: Colour,
    snow: bool = False,
    haze_strength: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint ridges far to near: (base height, amplitude, colour) as fractions of the frame height.

    Far layers are blended toward `haze` (aerial perspective); the nearest ridge line is returned
    with the canvas so that callers can place things on it.
    """
    height, width = canvas.shape[:2]
    ridge = np.zeros(width)
    for index, (base, amplitude, colour) in enumerate(layers):
        depth = index / max(1, len(layers) - 1)
        ridge = height * (base - amplitude * (0.5 + 0.5 * _fractal_line(width, rng)))
        mask = _below(ridge, height)
        rock = _fractal_noise((width, height), rng, stretch=(1, 3))
        tone = np.asarray(colour, np.float32) * (0.82 + 0.3 * rock[..., None])
        fade = haze_strength * (1 - depth)
        tone = tone * (1 - fade) + np.asarray(haze, np.float32) * fade
        if snow and index == 0:
            snowline = ridge.min() + 0.4 * (ridge.max() - ridge.min()) + height * 0.08 * (rock - 0.5)
            cap = np.clip((snowline - np.arange(height)[:, None]) / 2.0, 0.0, 1.0)
            tone = _blend(tone, (236, 240, 250), cap * (0.7 + 0.3 * rock))
        canvas = _blend(canvas, tone, mask)
    return canvas, ridge


def alpine_sunset(size: Size, seed: int) -> Image.Image:
    """Layered mountain ranges at sunset under a pink and amber sky with a low sun."""
    rng = np.random.default_rng(seed)
    width, height = size
    sky = _gradient(
        height,
        width,
        [(0.0, (34, 40, 96)), (0.35, (150, 84, 140)), (0.55, (244, 140, 110)), (0.7, (255, 204, 140))],
    )
    sun = (width * 0.66, height * 0.5)
    sky = _blend(sky, (255, 220, 160), _glow(size, sun, height * 0.16) * 0.8)
    clouds = _fractal_noise(size, rng, stretch=(8, 1))
    sky = _blend(sky, (255, 170, 150), np.clip(clouds * 2.2 - 1.25, 0, 1) * 0.55)
    sky = _blend(sky, (255, 246, 220), _disc(size, sun, height * 0.045))
    canvas, _ = _mountains(
        sky,
        rng,
        [
            (0.62, 0.26, (150, 100, 150)),
            (0.72, 0.2, (102, 62, 110)),
            (0.84, 0.16, (62, 36, 74)),
            (0.96, 0.12, (28, 18, 38)),
        ],
        haze=(250, 170, 140),
        snow=True,
    )
    return _finish(canvas, rng)


def mountain_lake(size: Size, seed: int) -> Image.Image:
    """Snowy peaks and a pine shore mirrored in a calm lake, morning light."""
    rng = np.random.default_rng(seed)
    width, height = size
    shore = int(height * 0.6)
    sky = _gradient(shore, width, [(0.0, (70, 124, 196)), (0.7, (170, 200, 228)), (1.0, (226, 230, 232))])
    clouds = _fractal_noise((width, shore), rng, stretch=(3, 1))
    sky = _blend(sky, (250, 250, 252), np.clip(clouds * 2.4 - 1.3, 0, 1) * 0.9)
    land, _ = _mountains(
        sky,
        rng,
        [(0.72, 0.5, (84, 100, 140)), (0.9, 0.3, (56, 80, 84))],
        haze=(190, 206, 226),
        snow=True,
        haze_strength=0.35,
    )
    trees = np.full(width, float(shore))
    x = 0
    while x < width:
        tree_w = rng.uniform(0.012, 0.03) * width
        tree_h = rng.uniform(0.06, 0.16) * height
        xs = np.arange(int(x), min(width, int(x + tree_w)))
        trees[xs] = np.minimum(trees[xs], shore - tree_h * (1 - np.abs((xs - x) / tree_w * 2 - 1)))
        x += tree_w * rng.uniform(0.45, 0.8)
    land = _blend(land, (24, 44, 32), _below(trees, shore))
    ripple = _fractal_line(height - shore, rng, octaves=5) * width * 0.004
    rows = np.arange(height - shore)
    reflection = land[::-1][rows % shore]
    shift = (ripple[:, None] * np.sin(np.arange(width)[None, :] * 0.05 + rows[:, None] * 0.7)).astype(int)
    columns = np.clip(np.arange(width)[None, :] + shift, 0, width - 1)
    reflection = reflection[rows[:, None], columns]
    depth = (rows / max(1, height - shore))[:, None]
    water = _blend(reflection * 0.85, (40, 70, 100), 0.25 + 0.45 * depth)
    return _finish(np.concatenate([land, water], axis=0), rng, vignette=0.2)


def _dune_line(width: int, rng: np.random.Generator, count: int) -> np.ndarray:
    """Skyline of `count` asymmetric dunes (gentle windward side, steep lee side), 0..1 high."""
    x = np.linspace(0.0, 1.0, width)
    line = np.zeros(width)
    for centre in np.sort(rng.uniform(-0.1, 1.1, count)):
        spread = np.where(x < centre, rng.uniform(0.25, 0.4), rng.uniform(0.12, 0.18))
        line = np.maximum(line, rng.uniform(0.5, 1.0) * np.exp(-(((x - centre) / spread) ** 2)))
    return line


def desert_dunes(size: Size, seed: int) -> Image.Image:
    """Rolling sand dunes lit from the left, with blue-shadowed lee slopes, under a clear sky."""
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = _gradient(height, width, [(0.0, (36, 100, 182)), (0.4, (150, 196, 226)), (0.5, (232, 214, 190))])
    y = np.arange(height, dtype=np.float32)[:, None]
    grain = _fractal_noise(size, rng, stretch=(4, 1))
    for index, (base, amplitude) in enumerate(((0.5, 0.1), (0.62, 0.14), (0.78, 0.18), (0.98, 0.2))):
        ridge = height * (base - amplitude * _dune_line(width, rng, 2 + index // 2))
        slope = np.gradient(ridge)
        light = np.clip(0.9 - 0.9 * slope / (np.abs(slope).max() + 1e-6), 0.35, 1.15)
        light = np.convolve(light, np.full(width // 50, 50 / width), mode="same")
        below = np.clip((y - ridge[None, :]) / height, 0, None)
        fall = np.exp(-below / 0.03)
        shade = light[None, :] * fall + (0.95 - 1.2 * below) * (1 - fall)
        sand = np.asarray((226, 160, 96), np.float32) * (0.88 + 0.04 * index)
        shadow = np.asarray((96, 84, 120), np.float32)
        tone = sand * shade[..., None] + shadow * np.clip(1 - shade, 0, 1)[..., None]
        tone *= 0.97 + 0.035 * np.sin(y * 0.6 + grain * 25)[..., None]
        canvas = _blend(canvas, tone, _below(ridge, height, soft=1.2))
    return _finish(canvas, rng, grain=2.5, vignette=0.3)


def night_skyline(size: Size, seed: int) -> Image.Image:
    """City skyline at night: lit windows, a full moon and a violet glow on the horizon."""
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = _gradient(height, width, [(0.0, (8, 12, 36)), (0.55, (40, 34, 90)), (0.8, (140, 70, 120))])
    canvas += _stars(size, rng, width // 3, limit=0.5)[..., None] * 255 * 0.35
    moon = (width * 0.2, height * 0.2)
    canvas = _blend(canvas, (200, 210, 255), _glow(size, moon, height * 0.08) * 0.4)
    canvas = _blend(canvas, (246, 244, 228), _disc(size, moon, height * 0.05))
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for layer, (shade, top, bottom) in enumerate((((52, 44, 88), 0.35, 0.6), ((18, 16, 34), 0.45, 0.72))):
        x = -rng.uniform(0, 40)
        while x < width:
            w = rng.uniform(0.04, 0.1) * width
            roof = height * rng.uniform(top, bottom)
            draw.rectangle((x, roof, x + w, height), fill=shade)
            if rng.random() < 0.3:
                draw.rectangle((x + w * 0.45, roof - height * 0.05, x + w * 0.55, roof), fill=shade)
            cell = 6 + 3 * layer
            for wy in np.arange(roof + cell, height - cell, cell * 1.8):
                for wx in np.arange(x + cell * 0.6, x + w - cell, cell * 1.6):
                    if rng.random() < 0.3 + 0.15 * layer:
                        glow = rng.uniform(0.5, 1.0) * (0.55 + 0.45 * layer)
                        colour = tuple(int(c * glow) for c in (255, 214, 140))
                        draw.rectangle((wx, wy, wx + cell * 0.7, wy + cell), fill=colour)
            x += w + rng.uniform(0, 0.01) * width
    return _finish(np.asarray(image, np.float32), rng, grain=3.5, vignette=0.35)


def bauhaus_print(size: Size, seed: int) -> Image.Image:
    """Geometric poster in the Bauhaus manner: circles, arcs and bars on warm paper."""
    rng = np.random.default_rng(seed)
    width, height = size
    scale = 2
    image = Image.new("RGB", (width * scale, height * scale), (240, 232, 214))
    draw = ImageDraw.Draw(image)
    w, h = image.size
    red, blue, yellow, ink = (214, 64, 46), (30, 76, 150), (242, 186, 40), (28, 28, 30)
    draw.rectangle((0, h * 0.62, w, h), fill=(226, 214, 190))
    draw.ellipse((w * 0.12, h * 0.14, w * 0.62, h * 0.64), fill=red)
    draw.pieslice((w * 0.42, h * 0.36, w * 0.92, h * 0.86), 180, 360, fill=blue)
    draw.rectangle((w * 0.08, h * 0.7, w * 0.7, h * 0.76), fill=ink)
    draw.rectangle((w * 0.74, h * 0.08, w * 0.8, h * 0.58), fill=yellow)
    draw.ellipse((w * 0.66, h * 0.66, w * 0.86, h * 0.86), fill=yellow)
    draw.line((w * 0.05, h * 0.9, w * 0.95, h * 0.3), fill=ink, width=int(w * 0.008))
    draw.ellipse((w * 0.3, h * 0.8, w * 0.38, h * 0.88), fill=ink)
    image = image.resize(size, Image.Resampling.LANCZOS)
    paper = _fractal_noise(size, rng)[..., None]
    canvas = np.asarray(image, np.float32) * (0.93 + 0.1 * paper)
    return _finish(canvas, rng, grain=0.0, vignette=0.1)


def aurora(size: Size, seed: int) -> Image.Image:
    """Green and violet aurora curtains over a dark snowy ridge and a starry sky."""
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = _gradient(height, width, [(0.0, (4, 8, 24)), (0.7, (10, 34, 52)), (1.0, (16, 52, 60))])
    canvas += _stars(size, rng, width // 2, limit=0.8)[..., None] * 255 * 0.4
    y = np.arange(height, dtype=np.float32)[:, None]
    rays = _fractal_noise(size, rng, stretch=(1, 12))
    for base, amplitude in ((0.4, 0.14), (0.55, 0.1)):
        edge = height * (base + amplitude * _fractal_line(width, rng, octaves=4, persistence=0.4))[None, :]
        above = np.clip((edge - y) / (height * 0.3), 0, 1)
        curtain = (
            np.where(y <= edge, np.exp(-3.5 * above), np.exp(-(((y - edge) / 4) ** 2))) * rays**1.5 * 1.6
        )
        canvas = _blend(canvas, (80, 255, 160), curtain * 0.75)
        canvas = _blend(canvas, (190, 90, 220), curtain * above * 0.8)
    land, _ = _mountains(canvas, rng, [(0.8, 0.2, (40, 60, 80)), (0.97, 0.12, (4, 6, 10))], haze=(12, 30, 44))
    return _finish(land, rng, grain=3.0, vignette=0.3)


def green_meadow(size: Size, seed: int) -> Image.Image:
    """Rolling green hills under a summer sky with fair-weather clouds."""
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = _gradient(height, width, [(0.0, (52, 120, 210)), (0.55, (170, 210, 240))])
    clouds = _fractal_noise(size, rng, stretch=(2, 1))
    cloud_mask = np.clip(clouds * 3.0 - 1.6, 0, 1) * np.clip(
        1.3 - np.arange(height)[:, None] / height * 2, 0, 1
    )
    canvas = _blend(canvas, (252, 252, 255), cloud_mask)
    grass = _fractal_noise(size, rng, stretch=(1, 2))
    for index, base in enumerate((0.55, 0.68, 0.82)):
        ridge = height * (base - 0.1 * (0.5 + 0.5 * _fractal_line(width, rng, octaves=3)))
        shade = 0.75 + 0.12 * index
        tone = np.stack([70 + 60 * grass, 130 + 60 * grass, 40 + 30 * grass], axis=-1) * shade
        canvas = _blend(canvas, tone, _below(ridge, height, soft=1.5))
    return _finish(canvas, rng, grain=2.5, vignette=0.25)


SCENES: dict[str, Callable[[Size, int], Image.Image]] = {
    "alpine_sunset": alpine_sunset,
    "mountain_lake": mountain_lake,
    "desert_dunes": desert_dunes,
    "night_skyline": night_skyline,
    "bauhaus_print": bauhaus_print,
    "aurora": aurora,
    "green_meadow": green_meadow,
}
