"""Find the business card in a phone photo and flatten it, before any text is read.

Reps photograph a card lying on a desk: the card may fill a third of the frame, with a printed
page, a pen and a mug around it. Reading the whole frame costs time (detection time grows with
the area) and lets the words of the page beside the card into the fields. So the card is found
first, on a small copy of the photo, and only the card is read:

1. The photo is shrunk to `FIND_SIDE` px on its long side (finding the outline needs no detail).
2. Candidate outlines come two ways. Regions: edges (Canny) and regions that stand out from the
   desk (Otsu thresholds on grey and saturation) give contours (OpenCV's `findContours`), each
   simplified to a quadrilateral (`approxPolyDP`, or the minimum-area rectangle of a rectangular
   hull). Corners: straight edges (OpenCV's line segment detector, LSD, on a median-filtered copy
   that wipes out printed text and wood grain) that step from one colour to another meet at
   right angles; two sides meeting at a corner, each as long as the edge runs, span a card. A
   white card lying on white paper shows only the two sides its shadow falls on, and a card half
   on the page and half on the desk has no closed outline at all: corners still find them.
3. A candidate must cover 2.5-85% of the frame, have the sides of a card (85.6-90 x 54-55 mm is
   1.55-1.75, allowed 1.35-2.1 for perspective), nearly equal opposite sides, not be cut by the
   frame, and the colour must step across at least two of its sides (`_side_support`). The page
   (1.41, cut by the frame) and a sticky note (1.0) fail; among those that pass, the one whose
   sides show best, then the largest, wins.
4. The corners are mapped back to the full-size photo and the card is warped flat
   (`warpPerspective`) to `CARD_LONG_SIDE` px on its long side, a little inside its edges.
   The caller then checks the text (`cut_sides`): a line running into the cut-out's edge means
   the outline missed part of the card (a coloured band melted into the desk, an edge invisible
   against paper of the card's own colour), and the cut-out is widened on that side (`widen`).

No card found (a scan, a screenshot, a card filling the frame): `find_card` returns None and the
caller looks for the card's group of text lines (`card_from_text`), else reads the whole photo.

Why OpenCV: `opencv-python` already comes with rapidocr-onnxruntime (its detector uses it), and its
contour tools and line segment detector are the standard, well-tested way to do this; what is ours
is only how candidates are made from them and chosen.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import cv2
import numpy as np
from PIL import Image

FIND_SIDE = 640          # px: the long side of the copy the outline is looked for in
CARD_LONG_SIDE = 1000    # px: the long side of the flattened card handed to OCR (type of 6-7 pt is ~20 px)
MIN_AREA, MAX_AREA = 0.025, 0.85   # share of the frame a card can cover
MIN_RATIO, MAX_RATIO = 1.35, 2.1   # long side / short side of a card seen at a slight angle
MIN_SOLIDITY = 0.8       # a card's outline fills its quadrilateral
SAME_ANGLE = 2.0         # degrees: lines of one card (or one page) run this parallel
# The name's box is this much taller than the usual line of its card (a page of body text: ~1.1)
MIN_NAME_CONTRAST = 1.25
INSET = 0.006            # cut this share off each edge so the desk's edge is not read as a line
STEP = 12.0              # Lab distance across an edge that counts as the colour stepping there
EDGE_STEP = 15.0         # ... and that a straight edge must keep up (median) to make a card's side
GRAIN_OFFSETS = (2, 4, 7)  # px either side: a step holds at all three, a stripe of wood grain does not


@dataclass(frozen=True)
class CardOutline:
    """The card's corners in the photo (upper-left, upper-right, lower-right, lower-left as seen in
    the photo) and how card-like the outline is (0-1)."""

    corners: tuple[tuple[float, float], ...]
    score: float

    @property
    def portrait(self) -> bool:
        across, down = self._sides()
        return down > across

    @property
    def long_side(self) -> float:
        """The outline's longer extent in the photo's pixels."""
        return max(self._sides())

    def _sides(self) -> tuple[float, float]:
        (a, b, c, d) = self.corners
        return (math.dist(a, b) + math.dist(d, c)) / 2, (math.dist(a, d) + math.dist(b, c)) / 2


class _View:
    """The small copy of the photo the outline is looked for in, in the forms the steps need."""

    def __init__(self, image: Image.Image) -> None:
        self.scale = min(1.0, FIND_SIDE / max(image.size))
        small = image if self.scale >= 1 else image.resize(
            (max(1, round(image.width * self.scale)), max(1, round(image.height * self.scale))),
            Image.Resampling.BILINEAR, reducing_gap=2.0)
        self.rgb = np.asarray(small)
        self.height, self.width = self.rgb.shape[:2]
        self.grey = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)
        # Lab, lightly blurred: colour steps are measured in it (a dark blue card on a black desk
        # differs in colour more than in grey).
        self.lab = cv2.cvtColor(cv2.GaussianBlur(self.rgb, (5, 5), 0), cv2.COLOR_RGB2Lab).astype(np.float32)

    def step(self, points: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
        """Lab distance between each point moved `offset` px along `normal` and moved back as far
        (NaN where either falls outside the frame)."""
        a = np.rint(points + offset * normal).astype(int)
        b = np.rint(points - offset * normal).astype(int)
        inside = ((a[:, 0] >= 0) & (a[:, 0] < self.width) & (a[:, 1] >= 0) & (a[:, 1] < self.height)
                  & (b[:, 0] >= 0) & (b[:, 0] < self.width) & (b[:, 1] >= 0) & (b[:, 1] < self.height))
        out = np.full(len(points), np.nan)
        if inside.any():
            out[inside] = np.linalg.norm(self.lab[a[inside, 1], a[inside, 0]] - self.lab[b[inside, 1], b[inside, 0]],
                                         axis=1)
        return out

    def colours(self, points: np.ndarray) -> np.ndarray:
        """The Lab colours at `points` (rounded to pixels) that fall inside the frame."""
        points = np.rint(points).astype(int)
        inside = (points[:, 0] >= 0) & (points[:, 0] < self.width) & (points[:, 1] >= 0) & (points[:, 1] < self.height)
        return self.lab[points[inside, 1], points[inside, 0]]


def find_card(image: Image.Image) -> CardOutline | None:
    """The card's outline in `image` (an RGB photo), or None when no single card stands out."""
    view = _View(image)
    edges = _edges(view)
    best: tuple[float, np.ndarray] | None = None
    for quad in chain(_region_quads(view), _corner_quads(view, edges)):
        quad = _order(np.asarray(quad, dtype=np.float32))
        score = _card_score(view, quad)
        if score and (best is None or score > best[0]):
            best = (score, quad)
    if best is None:
        return None
    score, quad = best
    corners = _reach_outer_edges(view, quad, edges) / view.scale
    return CardOutline(corners=tuple((float(x), float(y)) for x, y in corners), score=round(score, 3))


def _card_matrix(outline: CardOutline, long_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The perspective transform from the photo to the flattened card, and the card's size."""
    a, b, c, d = (np.array(p, dtype=np.float32) for p in outline.corners)
    across = (np.linalg.norm(b - a) + np.linalg.norm(c - d)) / 2
    down = (np.linalg.norm(d - a) + np.linalg.norm(c - b)) / 2
    # Never enlarge more than twice: blown-up pixels add time, not detail.
    factor = min(long_side / max(across, down, 1.0), 2.0)
    width, height = max(1, round(across * factor)), max(1, round(down * factor))
    ix, iy = INSET * width, INSET * height
    target = np.array([[-ix, -iy], [width + ix, -iy], [width + ix, height + iy], [-ix, height + iy]],
                      dtype=np.float32)
    return cv2.getPerspectiveTransform(np.array([a, b, c, d]), target), (width, height)


def flatten(image: Image.Image, outline: CardOutline, long_side: int = CARD_LONG_SIDE) -> Image.Image:
    """The card cut out of the photo and warped to a rectangle: landscape when its longer sides
    run across the photo, portrait otherwise (the page orientation is settled later, by OCR)."""
    matrix, size = _card_matrix(outline, long_side)
    flat = cv2.warpPerspective(np.asarray(image), matrix, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(flat)


CUT_SHARE = 0.01   # a text box this close to the cut-out's border (share of its side) runs into it


def cut_sides(boxes: list, size: tuple[int, int]) -> set[str]:
    """The sides of a flattened card ("top", "bottom", "left", "right") that text runs into (or
    comes so close to that the outline may have cut it: cards print up to 2 mm from their edge)."""
    width, height = size
    near_x, near_y = CUT_SHARE * width, CUT_SHARE * height
    sides: set[str] = set()
    for box in boxes:
        xs = [x for x, _ in box]
        ys = [y for _, y in box]
        if min(ys) <= near_y:
            sides.add("top")
        if max(ys) >= height - 1 - near_y:
            sides.add("bottom")
        if min(xs) <= near_x:
            sides.add("left")
        if max(xs) >= width - 1 - near_x:
            sides.add("right")
    return sides


WIDEN = 0.3   # share of the card's width across the cut side added beyond it


def widen(outline: CardOutline, sides: set[str], size: tuple[int, int], image_size: tuple[int, int],
          long_side: int = CARD_LONG_SIDE) -> CardOutline:
    """The outline moved out on `sides` (of the card flattened to `size`) by `WIDEN` of the card's
    extent across them, within the photo. Worked out on the flattened card and mapped back, so a
    card seen at an angle is widened along its own sides."""
    matrix, _ = _card_matrix(outline, long_side)
    width, height = size
    left, top, right, bottom = 0.0, 0.0, float(width), float(height)
    if "top" in sides:
        top -= WIDEN * height
    if "bottom" in sides:
        bottom += WIDEN * height
    if "left" in sides:
        left -= WIDEN * width
    if "right" in sides:
        right += WIDEN * width
    flat = np.array([[[left, top], [right, top], [right, bottom], [left, bottom]]], dtype=np.float32)
    corners = cv2.perspectiveTransform(flat, np.linalg.inv(matrix))[0]
    corners[:, 0] = corners[:, 0].clip(0, image_size[0] - 1)
    corners[:, 1] = corners[:, 1].clip(0, image_size[1] - 1)
    return CardOutline(corners=tuple((float(x), float(y)) for x, y in corners), score=outline.score)


# ---------------------------------------------------------------- candidates: regions

def _region_quads(view: _View) -> Iterator[np.ndarray]:
    frame_area = view.width * view.height
    for mask in _outline_masks(view):
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            area = cv2.contourArea(contour)
            if area < MIN_AREA * frame_area * 0.8:
                continue
            quad = _quadrilateral(contour)
            if quad is not None and area >= MIN_SOLIDITY * cv2.contourArea(quad):
                # (a ragged blob, such as a block of text closed into one, only spans a quadrilateral)
                yield quad


def _outline_masks(view: _View) -> Iterator[np.ndarray]:
    """Binary images whose white blobs may be the card: edges closed into outlines, and regions
    darker/lighter or more/less coloured than the rest (Otsu)."""
    grey = cv2.GaussianBlur(view.grey, (5, 5), 0)
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
    saturation = cv2.GaussianBlur(cv2.cvtColor(view.rgb, cv2.COLOR_RGB2HSV)[:, :, 1], (5, 5), 0)
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


# ---------------------------------------------------------------- candidates: corners

_LSD = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD)
GRAIN_MEDIAN = 11     # px: a median this wide wipes out printed text and most wood grain at FIND_SIDE
MIN_SEGMENT = 12      # px: shorter segments are text strokes or noise
RUN_GAP = 12.0        # px: a straight edge broken for this long (a pen across it) still runs on
MIN_RUN = 20.0        # px: the shortest stretch of edge that counts
CORNER_REACH = 12.0   # px: an edge that stops this close to where it meets another makes a corner
MAX_EDGES = 40


class _Edge:
    """Collinear segments of one straight edge: direction, offset and the stretches they cover."""

    def __init__(self, segment: np.ndarray) -> None:
        x1, y1, x2, y2 = (float(v) for v in segment)
        self.theta = math.atan2(y2 - y1, x2 - x1) % math.pi
        self.along = np.array([math.cos(self.theta), math.sin(self.theta)])
        self.normal = np.array([-math.sin(self.theta), math.cos(self.theta)])
        self.offset = float(self.normal @ ((x1 + x2) / 2, (y1 + y2) / 2))
        self.spans: list[tuple[float, float]] = []
        self.add(segment)
        self.runs: list[list[float]] = []

    def add(self, segment: np.ndarray) -> None:
        x1, y1, x2, y2 = (float(v) for v in segment)
        ends = sorted((float(self.along @ (x1, y1)), float(self.along @ (x2, y2))))
        self.spans.append((ends[0], ends[1]))

    def close_gaps(self) -> None:
        runs: list[list[float]] = []
        for start, end in sorted(self.spans):
            if runs and start <= runs[-1][1] + RUN_GAP:
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
        self.runs = [run for run in runs if run[1] - run[0] >= MIN_RUN]

    def arm_ends(self, t: float) -> list[float]:
        """How far this edge runs away from position `t` where it meets another edge, for each
        stretch it runs (signed, along the edge); none when it also runs on past `t` (a T: a line
        of wood grain ending on the page's edge, which goes on)."""
        ends = []
        for sign in (1.0, -1.0):
            runs = sorted(sorted(((start - t) * sign, (end - t) * sign)) for start, end in self.runs)
            if any(start < -CORNER_REACH and end > -CORNER_REACH for start, end in runs):
                continue
            first = [end for start, end in runs if start <= CORNER_REACH and end >= MIN_RUN]
            if not first:
                continue
            reach = max(first)
            ends.append(sign * reach)
            for start, end in runs:   # the edge may go on after a gap (a pen lying across it)
                if reach < start <= reach + 5 * RUN_GAP:
                    reach = end
                    ends.append(sign * reach)
        return ends


def _edges(view: _View) -> list[_Edge]:
    """Straight edges across which the colour steps, strongest and longest first."""
    found = _LSD.detect(cv2.medianBlur(view.grey, GRAIN_MEDIAN))[0]
    if found is None:
        return []
    segments = found.reshape(-1, 4)
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    edges: list[_Edge] = []
    # Each edge's direction and offset, to test a segment against all of them at once.
    thetas, normals, offsets = np.zeros(0), np.zeros((0, 2)), np.zeros(0)
    for i in np.argsort(-lengths):
        if lengths[i] < MIN_SEGMENT:
            break
        x1, y1, x2, y2 = segments[i]
        turn = np.abs((math.atan2(y2 - y1, x2 - x1) % math.pi) - thetas)
        takes = (np.minimum(turn, math.pi - turn) <= math.radians(2.5)) \
            & (np.abs(normals @ (x1, y1) - offsets) < 3) & (np.abs(normals @ (x2, y2) - offsets) < 3)
        if takes.any():
            edges[int(np.argmax(takes))].add(segments[i])
            continue
        edge = _Edge(segments[i])
        edges.append(edge)
        thetas = np.append(thetas, edge.theta)
        normals = np.vstack([normals, edge.normal])
        offsets = np.append(offsets, edge.offset)
    strong = []
    for edge in edges:
        edge.close_gaps()
        if not edge.runs:
            continue
        t = np.concatenate([np.linspace(start, end, max(2, int((end - start) / 6))) for start, end in edge.runs])
        points = t[:, None] * edge.along + edge.offset * edge.normal
        # A step from one colour to another holds at every distance; a stripe (wood grain, a
        # pen's edge) does not.
        steps = np.fmin.reduce([view.step(points, edge.normal, offset) for offset in GRAIN_OFFSETS])
        steps = steps[~np.isnan(steps)]
        if not len(steps):
            continue
        edge.strength = float(np.median(steps))
        if edge.strength >= EDGE_STEP:
            strong.append(edge)
    strong.sort(key=lambda e: -e.strength * sum(end - start for start, end in e.runs))
    return strong[:MAX_EDGES]


def _corner_quads(view: _View, edges: list[_Edge]) -> Iterator[np.ndarray]:
    """Two edges that meet near a right angle and stop there: a corner. The card spans the two
    sides as far as each edge runs (the other two sides may be invisible)."""
    for i, first in enumerate(edges):
        for second in edges[i + 1:]:
            turn = abs(first.theta - second.theta)
            if math.degrees(min(turn, math.pi - turn)) < 65:
                continue
            corner = np.linalg.solve(np.array([first.normal, second.normal]), (first.offset, second.offset))
            if not (-5 <= corner[0] <= view.width + 5 and -5 <= corner[1] <= view.height + 5):
                continue
            for reach1 in first.arm_ends(float(first.along @ corner)):
                for reach2 in second.arm_ends(float(second.along @ corner)):
                    arm1, arm2 = reach1 * first.along, reach2 * second.along
                    yield np.array([corner, corner + arm1, corner + arm1 + arm2, corner + arm2])


def _reach_outer_edges(view: _View, quad: np.ndarray, edges: list[_Edge]) -> np.ndarray:
    """Move each side out to an edge running parallel to it just outside, along much of its length,
    when what lies between is a band of one colour (`_is_band`): the outline found was the card's
    white part, and the edge beyond is the outer edge of a coloured band printed along the card
    (its company name inside). Bands are crossed one after another, and a sliver of a few px
    between two edges (the white part's own rim) is stepped over, up to `BAND_REACH` of the card's
    extent across the side."""
    quad = quad.copy()
    for k in range(4):
        p, q = quad[k], quad[(k + 1) % 4]
        before, after = quad[(k - 1) % 4], quad[(k + 2) % 4]
        length = float(np.linalg.norm(q - p))
        direction = (q - p) / max(length, 1e-6)
        normal = np.array([-direction[1], direction[0]])
        inward = quad.mean(axis=0) - (p + q) / 2
        if normal @ inward > 0:
            normal = -normal   # pointing out of the card
        extent = abs(float(normal @ inward)) * 2
        theta = math.atan2(direction[1], direction[0]) % math.pi
        outside = []
        for edge in edges:
            turn = abs(edge.theta - theta)
            if min(turn, math.pi - turn) > math.radians(3) or edge.strength < BAND_EDGE_STEP:
                continue
            # The edge's own line, measured from the side's middle along the outward normal.
            distance = (edge.offset - float(edge.normal @ ((p + q) / 2))) / float(edge.normal @ normal)
            a, b = sorted((float(edge.along @ p), float(edge.along @ q)))
            covered = sum(max(0.0, min(b, end) - max(a, start)) for start, end in edge.runs)
            if 0.0 < distance <= BAND_REACH * extent and covered >= 0.3 * length:
                outside.append(distance)
        outside += _colour_steps(view, p, q, normal, BAND_REACH * extent)
        reached = start = 0.0
        for distance in sorted(set(round(d, 1) for d in outside)):
            # From the rim stepped over, or from the last band's edge: an edge seen inside a band
            # (its text's) moves the rim into the band's middle, where the text breaks the colour.
            if _is_band(view, p, q, normal, start, distance) \
                    or (start != reached and _is_band(view, p, q, normal, reached, distance)):
                reached = start = distance
            elif distance - start < RIM:
                start = distance
            else:
                break
        if reached:
            # Slide the side out along the two sides that meet it.
            for corner, neighbour in ((k, before), ((k + 1) % 4, after)):
                along = quad[corner] - neighbour
                along_n = float(along @ normal)
                quad[corner] = quad[corner] + (along * (reached / along_n) if abs(along_n) > 1e-6
                                               else reached * normal)
    return quad


RIM = 8.0          # px: two edges this close are one edge seen twice (a rim, a shadow), not a band
BAND_REACH = 0.4   # share of the card's extent across a side that a band along it may add
BAND_EDGE_STEP = 2 * EDGE_STEP   # a band's outer edge is printed ink against the desk: a clear step


def _colour_steps(view: _View, p: np.ndarray, q: np.ndarray, outward: np.ndarray, reach: float) -> list[float]:
    """Distances out from the side p-q (at least `RIM`) at which the colour steps along the whole
    side (found on the median colour along it, then checked point by point): the outer edge of a
    band that the line detector misses because it works on grey (a navy band on a dark grey desk
    is one grey, two colours)."""
    t = np.linspace(0.15, 0.85, 16)[:, None]
    along = p + t * (q - p)
    depths = np.arange(1.0, reach + 4.0)
    medians = np.full((len(depths), 3), np.nan, dtype=np.float32)
    for k, depth in enumerate(depths):
        colours = view.colours(along + depth * outward)
        if len(colours) >= 8:
            medians[k] = np.median(colours, axis=0)
    steps = np.full(len(depths), np.nan)
    steps[3:-3] = np.linalg.norm(medians[6:] - medians[:-6], axis=1)
    found = []
    for k in range(4, len(depths) - 4):
        depth = float(depths[k])
        if not (RIM <= depth <= reach and steps[k] >= STEP and steps[k] >= np.nanmax(steps[k - 2:k + 3])):
            continue
        # An edge steps all along the side; a row of the page's text beside the card steps between
        # its characters only.
        points = p + np.linspace(0.1, 0.9, 32)[:, None] * (q - p) + depth * outward
        if (np.nan_to_num(view.step(points, outward, 3)) >= STEP).mean() >= 0.8:
            found.append(depth)
    return found


def _is_band(view: _View, p: np.ndarray, q: np.ndarray, outward: np.ndarray, start: float, depth: float) -> bool:
    """True when the strip from `start` to `depth` px outside the side p-q is one even colour along the side,
    the same near the side and near its far edge (a band printed along the card), and another
    colour than what lies beyond it. Looked at above and below the band's middle, where its text
    (the company name) is printed; medians along the side, so a letter here and there does not count."""
    t = np.linspace(0.15, 0.85, 16)[:, None]
    along = p + t * (q - p)
    medians, spreads = [], []
    for offset in (start + 0.2 * (depth - start), start + 0.85 * (depth - start), depth + 4.0):
        colours = view.colours(along + offset * outward)
        if len(colours) < 8:
            return False
        median = np.median(colours, axis=0)
        medians.append(median)
        spreads.append(float(np.median(np.linalg.norm(colours - median, axis=1))))
    near, far, beyond = medians
    # Along a side running with wood grain the medians follow one stripe each (they differ from
    # depth to depth); across the grain they average out, but then they spread along the side.
    even = float(np.linalg.norm(near - far)) < 0.75 * STEP and max(spreads[:2]) < 0.75 * STEP
    return even and float(np.linalg.norm(far - beyond)) >= STEP


# ---------------------------------------------------------------- choosing

def _side_support(view: _View, p: np.ndarray, q: np.ndarray, inward: np.ndarray) -> float:
    """Share of the side p-q (its ends left out) along which the colour steps across it."""
    t = np.linspace(0.08, 0.92, 32)
    points = p + t[:, None] * (q - p)
    direction = (q - p) / max(float(np.linalg.norm(q - p)), 1e-6)
    normal = np.array([-direction[1], direction[0]])
    if normal @ inward < 0:
        normal = -normal
    # The side may be a pixel or two off the edge: the best of three parallel lines.
    best = np.zeros(len(points))
    for shift in (-2.0, 0.0, 2.0):
        best = np.fmax(best, np.nan_to_num(view.step(points + shift * normal, normal, 3)))
    return float((best >= STEP).mean())


def _card_score(view: _View, quad: np.ndarray) -> float:
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return 0.0
    share = cv2.contourArea(quad) / (view.width * view.height)
    if not MIN_AREA <= share <= MAX_AREA:
        return 0.0
    if any(x < -3 or y < -3 or x > view.width + 2 or y > view.height + 2 for x, y in quad):
        return 0.0
    touches = sum(1 for x, y in quad if x < 2 or y < 2 or x > view.width - 3 or y > view.height - 3)
    if touches >= 2:
        return 0.0  # cut by the frame's edge: the page, or a card too close to read whole
    a, b, c, d = quad
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
    centre = quad.mean(axis=0)
    sides = [(quad[k], quad[(k + 1) % 4]) for k in range(4)]
    support = [_side_support(view, p, q, centre - (p + q) / 2) for p, q in sides]
    if sorted(support)[-2] < 0.5:
        return 0.0  # fewer than two sides show: a shape the lines happen to make
    lengths = [math.dist(p, q) for p, q in sides]
    shown = sum(s * length for s, length in zip(support, lengths)) / sum(lengths)
    shape_fit = 1.0 - min(abs(ratio - 1.65) / 0.6, 1.0) * 0.5 - skew
    return float(shown ** 2 * math.sqrt(share) * shape_fit)


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

    Lines are grouped when they run at the same angle (within `SAME_ANGLE` degrees) and lie close
    together, in the lines' own frame: a card's lines are stacked a line or two apart. A printed
    page beside the card is, in nine photos out of ten, turned to another angle, so its lines form
    their own group. The card is the group whose largest type (the name) stands well above its
    usual type, which a page of body text never does; groups of lines close to it at its angle
    that are not a page (a column of contact lines set apart) are the card's too. Their rectangle,
    widened by a margin, is then read as the card (lines that cross its edge or run at another
    angle are left out after reading: `lines_on_card`)."""
    lines = []
    for box in boxes:
        points = np.array(box, dtype=np.float32).reshape(-1, 2)
        (cx, cy), (w, h), angle = cv2.minAreaRect(points)
        if w < h:
            w, h, angle = h, w, angle + 90
        angle = ((angle + 90) % 180) - 90
        if w >= 1.3 * h and h >= 4:
            lines.append((points, cx, cy, w, h, angle))
    if len(lines) < 3:
        return None
    parent = list(range(len(lines)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (_, xi, yi, wi, hi, ai) in enumerate(lines):
        direction = (math.cos(math.radians(ai)), math.sin(math.radians(ai)))
        for j in range(i + 1, len(lines)):
            _, xj, yj, wj, hj, aj = lines[j]
            turn = abs(ai - aj)
            if min(turn, 180 - turn) > SAME_ANGLE:
                continue
            dx, dy = xj - xi, yj - yi
            along = abs(dx * direction[0] + dy * direction[1]) - (wi + wj) / 2
            across = abs(-dx * direction[1] + dy * direction[0]) - (hi + hj) / 2
            size = max(hi, hj)
            if along < 2.0 * size and across < 1.5 * size:
                parent[root(i)] = root(j)
    groups: dict[int, list] = {}
    for i, line in enumerate(lines):
        groups.setdefault(root(i), []).append(line)
    best: tuple[float, list] | None = None
    for members in groups.values():
        if len(members) < 3:
            continue
        contrast = _type_contrast([m[4] for m in members])
        if contrast < MIN_NAME_CONTRAST:
            continue  # all one type size: a page of text, not a card
        if best is None or contrast * math.sqrt(len(members)) > best[0]:
            best = (contrast * math.sqrt(len(members)), members)
    if best is None:
        return None
    members = list(best[1])
    # A card's lines may fall into several groups (a name block and a column of contact lines set
    # apart): the groups at the card's angle, close to it and not a page of one type size, are its too.
    angle = float(np.median([m[5] for m in members]))
    points = np.concatenate([m[0] for m in members])
    (cx, cy), _, _ = cv2.minAreaRect(points)
    reach = CARD_PER_NAME * max(m[4] for m in members)
    for group in groups.values():
        if group is best[1] or _is_page(group):
            continue
        turn = abs(float(np.median([m[5] for m in group])) - angle) % 180
        near = min(math.dist((cx, cy), (m[1], m[2])) for m in group) <= reach
        if min(turn, 180 - turn) <= SAME_ANGLE and near:
            members += group
    points = np.concatenate([m[0] for m in members])
    (cx, cy), (w, h), angle = cv2.minAreaRect(points)
    # The group's rectangle misses what is not text (a logo, a QR code, the card's blank edge)
    # and, when a line's end was cut off by another angle or a gap, that end: a margin of a few
    # type heights along the lines and less across them.
    size = sorted(m[4] for m in members)[len(members) // 2]
    turn = abs(angle - members[0][5]) % 180
    w_along_lines = min(turn, 180 - turn) < 45
    grow_w, grow_h = (6 * size, 3 * size) if w_along_lines else (3 * size, 6 * size)
    quad = cv2.boxPoints(((cx, cy), (w + grow_w, h + grow_h), angle))
    width, height = image_size
    quad[:, 0] = quad[:, 0].clip(0, width - 1)
    quad[:, 1] = quad[:, 1].clip(0, height - 1)
    corners = _order(quad.astype(np.float32))
    return CardOutline(corners=tuple((float(x), float(y)) for x, y in corners), score=0.0)


PAGE_LINES = 6   # a group of this many lines all of one type size is printed paper
CARD_PER_NAME = 10   # a card's long side is about this many times its name's box height


def _is_page(group: list) -> bool:
    return len(group) >= PAGE_LINES and _type_contrast([m[4] for m in group]) < MIN_NAME_CONTRAST


def _type_contrast(heights: list[float]) -> float:
    """The largest type over the usual (median) type: the name stands out on a card, while a
    page's body text is all of one size."""
    ordered = sorted(heights)
    return ordered[-1] / max(ordered[len(ordered) // 2], 1e-6)


def lines_on_card(lines: list, size: tuple[int, int]) -> list:
    """The lines of a flattened card that are the card's own. A line cut by the edge of the cut-out
    (its box runs into the border) is a word of the page or desk around the card, or a line of a
    card the outline cut; a line turned against the card's own lines (more than `ASKEW` degrees
    off their direction) is printed on paper lying at another angle. Neither is read. `size` is the
    card's; a line that knows the size of the page it was read in (turned upright) goes by that."""
    kept = []
    for line in lines:
        width, height = line.page_size or size
        xs = [x for x, _ in line.box]
        ys = [y for _, y in line.box]
        if min(xs) <= EDGE_PX or min(ys) <= EDGE_PX or max(xs) >= width - 1 - EDGE_PX \
                or max(ys) >= height - 1 - EDGE_PX:
            continue
        kept.append(line)
    direction = _card_direction(kept)
    if direction is None:
        return kept
    return [line for line in kept if line.width < 2 * line.height or abs(_angle(line.box) - direction) <= ASKEW]


def _card_direction(lines: list) -> float | None:
    """The direction (degrees) the card's own lines run in, or None when too few lines tell.

    The length-weighted median of the lines' directions, unless a second set of lines runs at
    another angle: an outline that took in part of the printed page the card lies on holds the
    page's lines too, which may be longer and more. Then the set whose largest type stands out
    from its usual type (the name) is the card's; a page's body text is all of one size."""
    measured = [(_angle(line.box), line) for line in lines if line.width >= 2 * line.height]
    if len(measured) < 3:
        return None
    first = _weighted_median(measured)
    others = [(angle, line) for angle, line in measured if abs(angle - first) > ASKEW]
    if len(others) < 3:
        return first
    second = _weighted_median(others)
    # Each line to the nearer of the two directions (short lines too: the name may be one).
    near_first: list = []
    near_second: list = []
    for line in lines:
        angle = _angle(line.box)
        (near_first if abs(angle - first) <= abs(angle - second) else near_second).append(line)
    if _name_contrast(near_second) >= MIN_NAME_CONTRAST > _name_contrast(near_first):
        return second
    return first


def _weighted_median(measured: list) -> float:
    """The median direction weighted by length: long lines tell a direction best."""
    ordered = sorted(measured, key=lambda pair: pair[0])
    half, total = sum(line.width for _, line in ordered) / 2, 0.0
    for angle, line in ordered:
        total += line.width
        if total >= half:
            return angle
    return ordered[-1][0]


def _name_contrast(lines: list) -> float:
    """The largest type of `lines` over their usual type (1.0 for fewer than three lines)."""
    return _type_contrast([line.height for line in lines]) if len(lines) >= 3 else 1.0


def lines_in_card_group(lines: list) -> list:
    """The lines of a photo read whole (no card found in it) that lie on the card, when the lines
    read upright show one (`card_from_text`): the detector splits steep text into pieces, so a
    card lying turned on a printed page may be told from the page only once the page is upright.
    All the lines when no card shows."""
    if not lines:
        return lines
    size = lines[0].page_size or (math.ceil(max(line.right for line in lines)) + 1,
                                  math.ceil(max(line.bottom for line in lines)) + 1)
    outline = card_from_text([line.box for line in lines], size)
    if outline is None:
        return lines
    polygon = np.array(outline.corners, dtype=np.float32)
    return [line for line in lines
            if cv2.pointPolygonTest(polygon, tuple(float(v) for v in np.mean(line.box, axis=0)), False) >= 0]


EDGE_PX = 2     # a box this close to the cut-out's border was cut by it
ASKEW = 4.0     # degrees off the card's own lines: printed on something else


def _angle(box) -> float:
    (x0, y0), (x1, y1) = box[0], box[1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))
