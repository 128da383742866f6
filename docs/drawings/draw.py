"""The hand drawings of docs/look_sheet.png, stroke by stroke (not from the renderer).

Each drawing is a list of pen strokes written down by hand, the way a person draws a face
in ten seconds on the page (256 x 256 canvas, black pen on white), with a little pen wobble.
Run `python docs/drawings/draw.py` to redraw the PNGs beside this file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIDE = 256
HERE = Path(__file__).resolve().parent


def ellipse(cx, cy, rx, ry, start=0.0, end=360.0, n=40):
    a = np.radians(np.linspace(start, end, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


def polyline(*points):
    return np.asarray(points, float)


def smooth(points, n=40):
    """A Catmull-Rom-ish resampling of hand-placed points (a pen does not draw corners)."""
    points = np.asarray(points, float)
    t = np.linspace(0, 1, len(points))
    ts = np.linspace(0, 1, n)
    return np.stack([np.interp(ts, t, points[:, 0]), np.interp(ts, t, points[:, 1])], axis=1)


def ten_second_face():
    """An oval, two eyes, a line nose, a smile and the hair's crown, in drawing order."""
    return [
        ellipse(128, 132, 56, 72),
        ellipse(104, 124, 11, 6), ellipse(152, 124, 11, 6),
        polyline((128, 132), (124, 152), (131, 154)),
        ellipse(128, 164, 18, 8, 20, 160),
        smooth([(76, 110), (84, 70), (128, 52), (172, 70), (182, 110)]),
    ]


DRAWINGS = {
    # An oval, two eyes, a line nose, a smile, a few long hair lines.
    "ten_seconds": (3, [
        *ten_second_face(),
        smooth([(76, 100), (66, 160), (62, 220)]), smooth([(182, 100), (192, 160), (196, 222)]),
        smooth([(92, 66), (110, 90), (118, 104)]),
    ]),
    # Long hair to the shoulders, dot eyes, a small mouth, a neck.
    "long_hair": (3, [
        ellipse(128, 130, 52, 66),
        smooth([(70, 130), (64, 70), (100, 42), (156, 42), (192, 70), (188, 130)]),
        smooth([(70, 120), (58, 190), (50, 244)]), smooth([(188, 120), (200, 190), (206, 244)]),
        smooth([(82, 96), (120, 74), (160, 92), (178, 112)]),
        ellipse(106, 126, 4, 4), ellipse(150, 126, 4, 4),
        polyline((118, 168), (138, 168)),
        polyline((112, 194), (110, 226)), polyline((144, 194), (146, 226)),
    ]),
    # Big anime eyes with irises, a bob, a hook nose, an open mouth.
    "anime_eyes": (2, [
        smooth([(74, 120), (80, 168), (108, 196), (128, 202), (148, 196), (176, 168),
                (182, 120)]),
        smooth([(70, 150), (62, 90), (96, 50), (160, 50), (194, 90), (186, 150)]),
        smooth([(84, 100), (110, 84), (136, 96), (160, 84), (176, 100)]),
        ellipse(104, 128, 16, 14), ellipse(104, 130, 8, 10), ellipse(152, 128, 16, 14),
        ellipse(152, 130, 8, 10),
        polyline((92, 108), (116, 106)), polyline((140, 106), (164, 108)),
        polyline((128, 144), (124, 158), (130, 160)),
        ellipse(128, 176, 10, 6),
    ]),
    # A square jaw, almond eyes with brows, short spiky hair.
    "short_hair": (4, [
        polyline((80, 100), (80, 160), (100, 196), (128, 206), (156, 196), (176, 160),
                 (176, 100)),
        polyline((78, 104), (86, 66), (100, 78), (112, 54), (126, 74), (142, 52), (152, 76),
                 (170, 62), (178, 104)),
        smooth([(94, 126), (106, 120), (118, 126), (106, 131), (94, 126)]),
        smooth([(138, 126), (150, 120), (162, 126), (150, 131), (138, 126)]),
        polyline((92, 110), (118, 108)), polyline((138, 108), (164, 110)),
        polyline((128, 132), (128, 156)),
        polyline((112, 176), (128, 180), (144, 176)),
    ]),
    # The least a person draws: an oval, two dots, a line.
    "minimal": (5, [
        ellipse(128, 134, 54, 70),
        ellipse(108, 126, 3, 3), ellipse(148, 126, 3, 3),
        polyline((114, 170), (142, 170)),
    ]),
    # Long hair drawn close to the face, down past the shoulders: the "ten seconds" face
    # with its hair lines carried on to the paper's edge (no parting).
    "long_hair_close": (3, [
        *ten_second_face(),
        smooth([(76, 100), (64, 180), (58, 254)]), smooth([(182, 100), (194, 180), (200, 254)]),
    ]),
}


def draw(strokes, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    canvas = np.full((SIDE, SIDE), 255, np.uint8)
    for stroke in strokes:
        wobble = np.cumsum(rng.normal(0, 0.35, stroke.shape), axis=0)
        points = np.round((stroke + wobble) * 16).astype(np.int32)
        cv2.polylines(canvas, [points], False, 0, width, cv2.LINE_AA, 4)
    return canvas


def main() -> None:
    for seed, (name, (width, strokes)) in enumerate(DRAWINGS.items()):
        cv2.imwrite(str(HERE / f"{name}.png"), draw(strokes, width, seed))


if __name__ == "__main__":
    main()
