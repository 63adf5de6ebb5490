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
