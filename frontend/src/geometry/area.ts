import type { Polygon } from "./types";

/** Signed area by the shoelace formula: positive when the vertices run clockwise on screen (y down). */
export function signedArea(polygon: Polygon): number {
  const n = polygon.length;
  if (n < 3) return 0;
  let twice = 0;
  for (let i = 0; i < n; i++) {
    const [x0, y0] = polygon[i] as Polygon[number];
    const [x1, y1] = polygon[(i + 1) % n] as Polygon[number];
    twice += x0 * y1 - x1 * y0;
  }
  return twice / 2;
}

/** Unsigned area in square pixels. */
export function polygonArea(polygon: Polygon): number {
  return Math.abs(signedArea(polygon));
}

/** Area in mm² given the pixel spacing [row, col] in mm. */
export function polygonAreaMm2(polygon: Polygon, spacing: readonly [number, number]): number {
  return polygonArea(polygon) * spacing[0] * spacing[1];
}
