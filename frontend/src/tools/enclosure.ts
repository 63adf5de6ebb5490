/** The epicardium must enclose the endocardium: check one slice/phase and propose a snapped epicardium. */
import type { ContourData } from "../api/types";
import { type Point, polygonContainsPolygon, snapToEnclose } from "../geometry";
import { contourPolygon } from "./contourShape";

export interface EnclosureResult {
  ok: boolean;
  /** The epicardium points to store if the user accepts the snap (mode may become freehand). */
  snapped: ContourData | null;
}

export function checkEnclosure(epi: ContourData, endo: ContourData): EnclosureResult {
  const outer = contourPolygon(epi);
  const inner = contourPolygon(endo);
  if (polygonContainsPolygon(outer, inner)) return { ok: true, snapped: null };
  if (epi.mode === "spline") {
    // Push the control points out and check the sampled curve, growing the margin a few times.
    for (let margin = 1; margin <= 8; margin *= 2) {
      const controls = snapToEnclose(epi.points, inner, margin);
      const candidate: ContourData = { ...epi, points: controls };
      if (polygonContainsPolygon(contourPolygon(candidate), inner)) return { ok: false, snapped: candidate };
    }
  }
  const points: Point[] = snapToEnclose(outer, inner, 1);
  return { ok: false, snapped: { ...epi, points, mode: "freehand" } };
}
