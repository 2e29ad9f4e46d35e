"""Find the business card in a phone photo and flatten it, before any text is read.

Reps photograph a card lying on a desk: the card may fill a third of the frame, with a printed
page, a pen and a mug around it. Reading the whole frame costs time (detection time grows with
the area) and lets the words of the page beside the card into the fields. So the card is found
first, on a small copy of the photo, and only the card is read:

1. The photo is shrunk to `FIND_SIDE` px on its long side (finding the outline needs no detail).
2. Edges (Canny, thresholds from the median brightness) and, separately, regions that stand out
   from the desk in colour (Otsu thresholds on grey and saturation) give outlines (OpenCV's
   `findContours`); each outline's convex hull is simplified to a quadrilateral
   (`approxPolyDP`, or the minimum-area rectangle when the hull is rectangular enough).
3. A candidate must cover 2.5-85% of the frame, be convex, fill its own rectangle, and have the
   sides of a card: 85.6-90 x 54-55 mm is 1.55-1.75, allowed 1.35-2.1 for perspective. The page
   (1.41, usually cut by the frame's edge) and a sticky note (1.0) fail that test; among those
   that pass, the largest with the best-shaped sides wins.
4. The four corners are mapped back to the full-size photo and the card is warped flat
   (`warpPerspective`) to `CARD_LONG_SIDE` px on its long side, a little inside its edges.

No card found (a scan, a screenshot, a card filling the frame, a card on paper of its own
colour): `find_card` returns None and the caller reads the whole photo, as before.

Why OpenCV: `opencv-python` already comes with rapidocr-onnxruntime (its detector uses it), and its
contour tools are the standard, well-tested way to do this; nothing here is hand-written geometry
beyond choosing among candidates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

FIND_SIDE = 640          # px: the long side of the copy the outline is looked for in
CARD_LONG_SIDE = 1000    # px: the long side of the flattened card handed to OCR (type of 6-7 pt is ~20 px)
MIN_AREA, MAX_AREA = 0.025, 0.85   # share of the frame a card can cover
MIN_RATIO, MAX_RATIO = 1.35, 2.1   # long side / short side of a card seen at a slight angle
MIN_SOLIDITY = 0.8       # a card's outline fills its quadrilateral
PAGE_LINES = 8           # a group of this many lines of one angle is printed paper, not a card
INSET = 0.006            # cut this share off each edge so the desk's edge is not read as a line


@dataclass(frozen=True)
class CardOutline:
    """The card's corners in the photo (upper-left, upper-right, lower-right, lower-left as seen in
    the photo) and how card-like the outline is (0-1)."""

    corners: tuple[tuple[float, float], ...]
    score: float

    @property
    def portrait(self) -> bool:
        (a, b, c, d) = self.corners
        across = (math.dist(a, b) + math.dist(d, c)) / 2
        down = (math.dist(a, d) + math.dist(b, c)) / 2
        return down > across


def find_card(image: Image.Image) -> CardOutline | None:
    """The card's outline in `image` (an RGB photo), or None when no single card stands out."""
    scale = FIND_SIDE / max(image.size)
    small = image if scale >= 1 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
    scale = min(scale, 1.0)
    rgb = np.asarray(small)
    frame_area = rgb.shape[0] * rgb.shape[1]
    best: tuple[float, np.ndarray] | None = None
    for mask in _outline_masks(rgb):
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(contour) < MIN_AREA * frame_area * 0.8:
                continue
            quad = _quadrilateral(contour)
            if quad is None:
                continue
            if cv2.contourArea(contour) < MIN_SOLIDITY * cv2.contourArea(quad):
                continue  # a ragged blob (a block of text closed into one) only spans a quadrilateral
            score = _card_score(quad, frame_area, rgb.shape)
            if score and (best is None or score > best[0]):
                best = (score, quad)
    if best is None:
        return None
    score, quad = best
    corners = _widen_banded(_order(quad / scale))
    return CardOutline(corners=tuple((float(x), float(y)) for x, y in corners), score=round(score, 3))


def flatten(image: Image.Image, outline: CardOutline, long_side: int = CARD_LONG_SIDE) -> Image.Image:
    """The card cut out of the photo and warped to a rectangle: landscape when its longer sides
    run across the photo, portrait otherwise (the page orientation is settled later, by OCR)."""
    a, b, c, d = (np.array(p, dtype=np.float32) for p in outline.corners)
    across = (np.linalg.norm(b - a) + np.linalg.norm(c - d)) / 2
    down = (np.linalg.norm(d - a) + np.linalg.norm(c - b)) / 2
    # Never enlarge more than twice: blown-up pixels add time, not detail.
    factor = min(long_side / max(across, down), 2.0)
    width, height = max(1, round(across * factor)), max(1, round(down * factor))
    ix, iy = INSET * width, INSET * height
    target = np.array([[-ix, -iy], [width + ix, -iy], [width + ix, height + iy], [-ix, height + iy]],
                      dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(np.array([a, b, c, d]), target)
    flat = cv2.warpPerspective(np.asarray(image), matrix, (width, height), flags=cv2.INTER_AREA
                               if factor < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(flat)


BANDED_RATIO = 1.85   # above this the outline is likely a card's white part without its coloured band
CARD_RATIO = 1.7


def _widen_banded(corners: np.ndarray) -> np.ndarray:
    """A card with a coloured band along one long edge (company name printed in it) often shows only
    its white part's outline: the band melts into a dark desk. Such an outline is too long for its
    width; widen it on both long edges back to a card's proportions so the band is read too."""
    a, b, c, d = corners
    across = (np.linalg.norm(b - a) + np.linalg.norm(c - d)) / 2
    down = (np.linalg.norm(d - a) + np.linalg.norm(c - b)) / 2
    ratio = max(across, down) / max(1.0, min(across, down))
    if ratio <= BANDED_RATIO:
        return corners
    # Which long edge the band is on is not known: widen both by the whole missing share (a strip
    # of desk on the other side costs nothing; a lost company name does).
    grow = ratio / CARD_RATIO - 1
    if across >= down:
        left, right = (d - a) * grow, (c - b) * grow
        return np.array([a - left, b - right, c + right, d + left], dtype=np.float32)
    top, bottom = (b - a) * grow, (c - d) * grow
    return np.array([a - top, b + top, c + bottom, d - bottom], dtype=np.float32)


def _outline_masks(rgb: np.ndarray):
    """Binary images whose white blobs may be the card: edges closed into outlines, and regions
    darker/lighter or more/less coloured than the rest (Otsu)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    # Printed text (the page's and the card's own) is fine detail at this size; a median filter
    # wipes it out and keeps the card's long straight edges, so text does not glue the card's
    # outline to the page's.
    smooth = cv2.medianBlur(grey, 7)
    for source, low, high in ((grey, 20, 60), (smooth, 10, 40), (smooth, 25, 75)):
        edges = cv2.Canny(source, low, high)
        # Close the card's outline where the edge is faint (a white card on white paper) but keep
        # it apart from text: a small kernel.
        yield cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=1)
        if source is smooth:
            # A gap left where a corner is faint: close it (the blob's hull is then looked at).
            yield cv2.morphologyEx(edges, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    saturation = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[:, :, 1], (5, 5), 0)
    for channel in (grey, saturation):
        _, high = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        # Not closed: the card's own text leaves holes, which do not change its outer contour,
        # while closing would turn a line of large type (the name) into a card-shaped block.
        yield high
        yield 255 - high


def _quadrilateral(contour: np.ndarray) -> np.ndarray | None:
    # The outline's own polygon first: a card whose edge touches a pen or the page's edge is still
    # four straight sides, while the hull of the merged blob is not.
    perimeter = cv2.arcLength(contour, True)
    approx = cv2.approxPolyDP(contour, 0.02 * perimeter, True)
    if len(approx) == 4 and cv2.isContourConvex(approx):
        return approx.reshape(4, 2).astype(np.float32)
    hull = cv2.convexHull(contour)
    hull_area = cv2.contourArea(hull)
    if hull_area <= 0:
        return None
    perimeter = cv2.arcLength(hull, True)
    for epsilon in (0.02, 0.035, 0.05):
        approx = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            return approx.reshape(4, 2).astype(np.float32)
    # Rounded corners or a clipped corner: accept the minimum-area rectangle when the hull fills it.
    rect = cv2.minAreaRect(hull)
    box = cv2.boxPoints(rect)
    if hull_area / max(cv2.contourArea(box), 1.0) > 0.93:
        return box.astype(np.float32)
    return None


def _card_score(quad: np.ndarray, frame_area: float, shape) -> float:
    area = cv2.contourArea(quad)
    share = area / frame_area
    if not MIN_AREA <= share <= MAX_AREA:
        return 0.0
    a, b, c, d = _order(quad)
    across = (math.dist(a, b) + math.dist(d, c)) / 2
    down = (math.dist(a, d) + math.dist(b, c)) / 2
    ratio = max(across, down) / max(1.0, min(across, down))
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        return 0.0
    # Opposite sides of a card seen at a slight angle are nearly equal; a page cut by the frame or
    # two objects merged into one blob are not.
    skew = max(abs(math.dist(a, b) - math.dist(d, c)) / max(across, 1),
               abs(math.dist(a, d) - math.dist(b, c)) / max(down, 1))
    if skew > 0.25:
        return 0.0
    height, width = shape[:2]
    touches = sum(1 for x, y in quad if x < 2 or y < 2 or x > width - 3 or y > height - 3)
    if touches >= 2:
        return 0.0  # cut by the frame's edge: the page, or a card too close to read whole
    shape_fit = 1.0 - min(abs(ratio - 1.65) / 0.6, 1.0) * 0.5 - skew
    return float(math.sqrt(share) * shape_fit)


def _order(quad: np.ndarray) -> np.ndarray:
    """Corners as upper-left, upper-right, lower-right, lower-left (by angle around the centre)."""
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    ordered = quad[np.argsort(angles)]   # y down: left, top, right, bottom going clockwise
    start = int(np.argmin(ordered[:, 0] + ordered[:, 1]))
    return np.roll(ordered, -start, axis=0)


def card_from_text(boxes: list, image_size: tuple[int, int]) -> CardOutline | None:
    """Second way to find the card, for when its outline does not stand out (a white card on white
    paper, wood grain running into its edge): from the text detector's line boxes on the whole photo.

    The card's lines share the card's angle and lie close together; a printed page beside it has
    its own angle. Among groups of lines at one angle, the card is the one whose largest type (the
    name) is well above its usual type: a page's body text is all one size. The group's rectangle,
    widened by a margin, is then read as the card."""
    lines = []
    for box in boxes:
        points = np.array(box, dtype=np.float32).reshape(-1, 2)
        (cx, cy), (w, h), angle = cv2.minAreaRect(points)
        if w < h:
            w, h, angle = h, w, angle + 90
        angle = ((angle + 90) % 180) - 90
        if w >= 1.5 * h and h >= 4:
            lines.append((points, cx, cy, w, h, angle))
    if len(lines) < 4:
        return None
    parent = list(range(len(lines)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (_, xi, yi, wi, hi, ai) in enumerate(lines):
        for j in range(i + 1, len(lines)):
            _, xj, yj, wj, hj, aj = lines[j]
            turn = abs(ai - aj)
            if min(turn, 180 - turn) > 3.0:
                continue
            if math.dist((xi, yi), (xj, yj)) < (wi + wj) / 2 + 2.5 * max(hi, hj):
                parent[root(i)] = root(j)
    groups: dict[int, list] = {}
    for i, line in enumerate(lines):
        groups.setdefault(root(i), []).append(line)
    best: tuple[float, list] | None = None
    for members in groups.values():
        if len(members) < 4:
            continue
        heights = sorted(m[4] for m in members)
        contrast = heights[-1] / heights[len(heights) // 2]
        if contrast < 1.5:
            continue  # all one type size: a page of text, not a card
        if best is None or contrast * math.sqrt(len(members)) > best[0]:
            best = (contrast * math.sqrt(len(members)), members)
    if best is None:
        return None
    members = best[1]
    # Cut only when there is something to leave out: a page of text (a large group of lines) beside
    # the card. On a scan or a close-up the "other" lines are the card's own, and cutting would lose them.
    if not any(len(group) >= PAGE_LINES for group in groups.values() if group is not members):
        return None
    points = np.concatenate([m[0] for m in members])
    (cx, cy), (w, h), angle = cv2.minAreaRect(points)
    margin = 1.2 * sorted(m[4] for m in members)[len(members) // 2]
    quad = cv2.boxPoints(((cx, cy), (w + 2 * margin, h + 2 * margin), angle))
    width, height = image_size
    quad[:, 0] = quad[:, 0].clip(0, width - 1)
    quad[:, 1] = quad[:, 1].clip(0, height - 1)
    corners = _order(quad.astype(np.float32))
    return CardOutline(corners=tuple((float(x), float(y)) for x, y in corners), score=0.0)
