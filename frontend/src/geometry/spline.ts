import type { Point, Polygon } from "./types";

/**
 * Sample a closed uniform Catmull-Rom spline through `controls`.
 * Each span P1->P2 uses neighbours P0 and P3 (indices wrap) and is sampled at t = k / samplesPerSpan,
 * k = 0..samplesPerSpan-1, so every control point appears exactly in the output, at index
 * i * samplesPerSpan. Other tools that read a contour with mode "spline" must sample it the same way:
 * P(t) = 0.5 * (2 P1 + (P2 - P0) t + (2 P0 - 5 P1 + 4 P2 - P3) t^2 + (3 P1 - P0 - 3 P2 + P3) t^3).
 */
export function sampleClosedCatmullRom(controls: Polygon, samplesPerSpan = 12): Point[] {
  const n = controls.length;
  if (n < 3) return controls.map((p) => [p[0], p[1]] as Point);
  const out: Point[] = [];
  for (let i = 0; i < n; i++) {
    const p0 = controls[(i - 1 + n) % n] as Point;
    const p1 = controls[i] as Point;
    const p2 = controls[(i + 1) % n] as Point;
    const p3 = controls[(i + 2) % n] as Point;
    for (let k = 0; k < samplesPerSpan; k++) {
      const t = k / samplesPerSpan;
      out.push([catmullRom(p0[0], p1[0], p2[0], p3[0], t), catmullRom(p0[1], p1[1], p2[1], p3[1], t)]);
    }
  }
  return out;
}

function catmullRom(p0: number, p1: number, p2: number, p3: number, t: number): number {
  const t2 = t * t;
  const t3 = t2 * t;
  return 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (3 * p1 - p0 - 3 * p2 + p3) * t3);
}
