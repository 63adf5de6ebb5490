/** A 2D affine map given by where it sends (0, 0), (1, 0) and (0, 1). Pure. */
import type { Point } from "../geometry";

/** [ox, oy, ax, ay, bx, by]: p -> o + p.x * a + p.y * b. */
export type Affine = readonly [number, number, number, number, number, number];

export function affineFrom(origin: Point, unitX: Point, unitY: Point): Affine {
  return [origin[0], origin[1], unitX[0] - origin[0], unitX[1] - origin[1], unitY[0] - origin[0], unitY[1] - origin[1]];
}

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] + m[2] * p[0] + m[4] * p[1], m[1] + m[3] * p[0] + m[5] * p[1]];
}
