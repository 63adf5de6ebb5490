import { distanceToSegment } from "./pointInPolygon";
import type { Point, Polygon } from "./types";

/** Ramer-Douglas-Peucker on an open chain: keeps the ends and every point farther than `tolerance`. */
function rdp(chain: readonly Point[], tolerance: number): Point[] {
  if (chain.length < 3) return chain.slice();
  const keep = new Uint8Array(chain.length);
  keep[0] = 1;
  keep[chain.length - 1] = 1;
  const stack: [number, number][] = [[0, chain.length - 1]];
  while (stack.length > 0) {
    const [a, b] = stack.pop() as [number, number];
    let worst = -1;
    let worstDistance = tolerance;
    for (let i = a + 1; i < b; i++) {
      const d = distanceToSegment(chain[i] as Point, chain[a] as Point, chain[b] as Point);
      if (d > worstDistance) {
        worst = i;
        worstDistance = d;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([a, worst], [worst, b]);
    }
  }
  return chain.filter((_, i) => keep[i] === 1);
}

/**
 * Simplify a closed polygon, keeping every vertex farther than `tolerance` pixels from the outline of
 * the simplified one. The polygon is split at its vertex farthest from the first so the closing edge is
 * treated like any other.
 */
export function simplifyPolygon(polygon: Polygon, tolerance = 0.5): Point[] {
  const n = polygon.length;
  if (n <= 3) return polygon.slice();
  const first = polygon[0] as Point;
  let far = 0;
  let farDistance = -1;
  for (let i = 1; i < n; i++) {
    const p = polygon[i] as Point;
    const d = Math.hypot(p[0] - first[0], p[1] - first[1]);
    if (d > farDistance) {
      far = i;
      farDistance = d;
    }
  }
  const a = rdp(polygon.slice(0, far + 1), tolerance);
  const b = rdp([...polygon.slice(far), first], tolerance);
  const out = [...a, ...b.slice(1, -1)];
  return out.length >= 3 ? out : polygon.slice(0, 3);
}

/** Drop consecutive points closer than `minDistance` (freehand drags produce many). */
export function dropClosePoints(points: readonly Point[], minDistance: number): Point[] {
  const out: Point[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (last === undefined || Math.hypot(p[0] - last[0], p[1] - last[1]) >= minDistance) out.push(p);
  }
  return out;
}
