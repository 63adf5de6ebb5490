/**
 * The plane names come from the study's label schema (the server fills it from ml/data/planes.py, in the
 * model's order); the tool keeps no list of its own.
 */
export function planesOf(schema: Record<string, unknown>): readonly string[] {
  const planes = schema["planes"];
  if (!Array.isArray(planes) || planes.length === 0 || !planes.every((p): p is string => typeof p === "string")) {
    throw new Error("this study's label schema lists no planes");
  }
  return planes;
}

export const BACKGROUND = "Background";

/** Distinct hues for the timeline, by class index. */
export function planeColour(index: number, count: number): string {
  return index < 0 ? "#666" : `hsl(${Math.round((index * 360) / Math.max(count, 1))}, 70%, 55%)`;
}
