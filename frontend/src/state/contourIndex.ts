/** Contours grouped by (slice, phase) so a frame change looks its outlines up without scanning a case. */
import type { ContourData, Structure } from "../api/types";

export interface IndexedContour {
  key: string;
  data: ContourData;
  mine: boolean;
  source: "observer" | "model";
  author: string;
}

export class ContourIndex {
  private byFrame = new Map<string, IndexedContour[]>();

  static frameKey(slice: number, phase: number): string {
    return `${slice}:${phase}`;
  }

  constructor(contours: Iterable<IndexedContour> = []) {
    for (const c of contours) {
      const key = ContourIndex.frameKey(c.data.slice, c.data.phase);
      const list = this.byFrame.get(key);
      if (list === undefined) this.byFrame.set(key, [c]);
      else list.push(c);
    }
  }

  at(slice: number, phase: number): readonly IndexedContour[] {
    return this.byFrame.get(ContourIndex.frameKey(slice, phase)) ?? [];
  }

  /** The observer's own contour of `structure` at (slice, phase). */
  mine(slice: number, phase: number, structure: Structure): IndexedContour | undefined {
    return this.at(slice, phase).find((c) => c.mine && c.data.structure === structure);
  }

  model(slice: number, phase: number, structure?: Structure): IndexedContour[] {
    return this.at(slice, phase).filter((c) => c.source === "model" && (structure === undefined || c.data.structure === structure));
  }

  /** Which structures the observer has drawn, per frame key. */
  filled(): Map<string, Set<Structure>> {
    const out = new Map<string, Set<Structure>>();
    for (const [key, list] of this.byFrame) {
      const mine = list.filter((c) => c.mine).map((c) => c.data.structure);
      if (mine.length > 0) out.set(key, new Set(mine));
    }
    return out;
  }

  modelFrames(): Set<string> {
    const out = new Set<string>();
    for (const [key, list] of this.byFrame) if (list.some((c) => c.source === "model")) out.add(key);
    return out;
  }
}
