/** The outline of a stored contour: freehand points as they are, spline control points sampled. */
import type { ContourData } from "../api/types";
import { type Point, sampleClosedCatmullRom } from "../geometry";

export function contourPolygon(contour: Pick<ContourData, "points" | "mode">): Point[] {
  return contour.mode === "spline" ? sampleClosedCatmullRom(contour.points, 12) : contour.points.slice();
}

/** Copy of a contour moved to another slice/phase. */
export function moveContour(contour: ContourData, slice: number, phase: number): ContourData {
  return { ...contour, slice, phase, points: contour.points.map((p): Point => [p[0], p[1]]) };
}
