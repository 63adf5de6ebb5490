import { signedArea } from "./area";
import type { Point, Polygon } from "./types";

/** Area centroid of a simple polygon; falls back to the vertex mean for degenerate (zero-area) input. */
export function polygonCentroid(polygon: Polygon): Point {
  const n = polygon.length;
  if (n === 0) return [0, 0];
  const a = signedArea(polygon);
  if (Math.abs(a) < 1e-12) {
    let sx = 0;
    let sy = 0;
    for (const [x, y] of polygon) {
      sx += x;
      sy += y;
    }
    return [sx / n, sy / n];
  }
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < n; i++) {
    const [x0, y0] = polygon[i] as Point;
    const [x1, y1] = polygon[(i + 1) % n] as Point;
    const cross = x0 * y1 - x1 * y0;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  }
  return [cx / (6 * a), cy / (6 * a)];
}
