import type { Point, Polygon } from "./types";

/** Shift every vertex by (dx, dy). */
export function translatePolygon(polygon: Polygon, dx: number, dy: number): Point[] {
  return polygon.map((p): Point => [p[0] + dx, p[1] + dy]);
}
