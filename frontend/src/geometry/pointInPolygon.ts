import type { Point, Polygon } from "./types";

/**
 * Even-odd test of a point against a closed polygon.
 * Edges follow the top-left rule (half-open in y; a crossing counts when it lies strictly right of the
 * point), so a point on a left or top edge is inside and on a right or bottom edge is
 * outside, and two polygons sharing an edge never both contain a point on it. `rasterizePolygon` uses
 * the same rule, so a mask agrees with this test pixel by pixel.
 */
export function pointInPolygon(point: Point, polygon: Polygon): boolean {
  const [px, py] = point;
  const n = polygon.length;
  if (n < 3) return false;
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const [xi, yi] = polygon[i] as Point;
    const [xj, yj] = polygon[j] as Point;
    // Half-open interval [min y, max y): a horizontal edge never counts.
    if (yi <= py !== yj <= py) {
      const xCross = xi + ((py - yi) * (xj - xi)) / (yj - yi);
      if (xCross > px) inside = !inside;
    }
  }
  return inside;
}

/** Distance from a point to the segment a-b. */
export function distanceToSegment(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 === 0 ? 0 : ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/** Smallest distance from a point to the polygon's outline, and the index of the nearest edge's start. */
export function distanceToPolygon(point: Point, polygon: Polygon): { distance: number; edge: number } {
  let best = Number.POSITIVE_INFINITY;
  let edge = -1;
  const n = polygon.length;
  for (let i = 0; i < n; i++) {
    const d = distanceToSegment(point, polygon[i] as Point, polygon[(i + 1) % n] as Point);
    if (d < best) {
      best = d;
      edge = i;
    }
  }
  return { distance: best, edge };
}
