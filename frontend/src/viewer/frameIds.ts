/** Image ids for our frame API: "atrium:<seriesId>:<frameIndex>". Pure, so tests and tools share it. */

export const SCHEME = "atrium";

export function frameImageId(seriesId: number, frame: number): string {
  return `${SCHEME}:${seriesId}:${frame}`;
}

export function parseFrameImageId(imageId: string): { seriesId: number; frame: number } | null {
  const match = /^atrium:(\d+):(\d+)$/.exec(imageId);
  if (match === null) return null;
  return { seriesId: Number(match[1]), frame: Number(match[2]) };
}

/** Flattened frame index of a cine's (slice, phase): slice * P + phase. */
export function cineFrameIndex(slice: number, phase: number, nPhases: number): number {
  return slice * nPhases + phase;
}

/** The frame a case page opens on: the middle slice's first phase of a cine (S, P, H, W), else frame 0. */
export function openingFrame(series: { layout: string; shape: readonly number[] }): number {
  const shape = series.shape;
  if (series.layout !== "cine" || shape.length !== 4) return 0;
  return cineFrameIndex(Math.floor((shape[0] ?? 1) / 2), 0, shape[1] ?? 1);
}
