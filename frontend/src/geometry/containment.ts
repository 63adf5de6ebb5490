import { polygonCentroid } from "./centroid";
import { pointInPolygon } from "./pointInPolygon";
import type { Point, Polygon } from "./types";

function segmentsIntersect(a: Point, b: Point, c: Point, d: Point): boolean {
  const orient = (p: Point, q: Point, r: Point): number => (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
  const o1 = orient(a, b, c);
  const o2 = orient(a, b, d);
  const o3 = orient(c, d, a);
  const o4 = orient(c, d, b);
  return o1 * o2 < 0 && o3 * o4 < 0;
}

/** True when every vertex of `inner` lies inside `outer` and no edges of the two cross. */
export function polygonContainsPolygon(outer: Polygon, inner: Polygon): boolean {
  if (outer.length < 3 || inner.length < 3) return false;
  for (const p of inner) if (!pointInPolygon(p, outer)) return false;
  for (let i = 0; i < outer.length; i++) {
    const a = outer[i] as Point;
    const b = outer[(i + 1) % outer.length] as Point;
    for (let j = 0; j < inner.length; j++) {
      if (segmentsIntersect(a, b, inner[j] as Point, inner[(j + 1) % inner.length] as Point)) return false;
    }
  }
  return true;
}

/** Vertices of `inner` that lie outside `outer` (indices). */
export function verticesOutside(outer: Polygon, inner: Polygon): number[] {
  const out: number[] = [];
  inner.forEach((p, i) => {
    if (!pointInPolygon(p, outer)) out.push(i);
  });
  return out;
}

/**
 * Push `outer`'s vertices outward, along rays from `inner`'s centroid, until every vertex of `inner`
 * is enclosed with `margin` pixels to spare. Used to snap an epicardium onto an endocardium that pokes
 * through it. Returns a new polygon with the same number of vertices.
 */
export function snapToEnclose(outer: Polygon, inner: Polygon, margin = 1): Point[] {
  const centre = polygonCentroid(inner);
  // Radial extent of `inner` as a function of angle, sampled densely.
  const bins = 360;
  const reach = new Float64Array(bins);
  const m = inner.length;
  for (let j = 0; j < m; j++) {
    const a = inner[j] as Point;
    const b = inner[(j + 1) % m] as Point;
    const steps = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1])));
    for (let s = 0; s <= steps; s++) {
      const x = a[0] + ((b[0] - a[0]) * s) / steps - centre[0];
      const y = a[1] + ((b[1] - a[1]) * s) / steps - centre[1];
      const bin = angleBin(Math.atan2(y, x), bins);
      reach[bin] = Math.max(reach[bin] as number, Math.hypot(x, y));
    }
  }
  const snapped = outer.map((p): Point => {
    const dx = p[0] - centre[0];
    const dy = p[1] - centre[1];
    const r = Math.hypot(dx, dy);
    const angle = Math.atan2(dy, dx);
    const bin = angleBin(angle, bins);
    let need = 0;
    for (let k = -2; k <= 2; k++) need = Math.max(need, reach[(bin + k + bins) % bins] as number);
    need += margin;
    if (r >= need) return [p[0], p[1]];
    return [centre[0] + Math.cos(angle) * need, centre[1] + Math.sin(angle) * need];
  });
  return snapped;
}

function angleBin(angle: number, bins: number): number {
  const unit = (angle + Math.PI) / (2 * Math.PI);
  return Math.min(bins - 1, Math.max(0, Math.floor(unit * bins)));
}
