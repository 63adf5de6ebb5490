/**
 * Frame-range labels of an ultrasound clip: a new label wins over the frames it covers, so the
 * observer's ranges never overlap. Pure: returns the edits to make.
 */
import type { PlaneLabelData } from "../api/types";

export interface RangeEntry {
  key: string;
  data: PlaneLabelData;
}

export interface RangeEdits {
  update: { key: string; data: PlaneLabelData }[];
  remove: string[];
  add: PlaneLabelData[];
}

/** Edits that make `label` the only label on its frames, trimming or splitting the ranges it overlaps. */
export function applyRangeLabel(existing: readonly RangeEntry[], label: PlaneLabelData): RangeEdits {
  const edits: RangeEdits = { update: [], remove: [], add: [] };
  const start = Math.min(label.frame_start, label.frame_stop);
  const stop = Math.max(label.frame_start, label.frame_stop);
  let merged = { plane: label.plane, frame_start: start, frame_stop: stop };
  for (const { key, data } of existing) {
    const touches = data.frame_stop >= start - 1 && data.frame_start <= stop + 1;
    if (!touches) continue;
    if (data.plane === label.plane) {
      // Same plane, overlapping or adjacent: fold it into the new label.
      merged = {
        plane: label.plane,
        frame_start: Math.min(merged.frame_start, data.frame_start),
        frame_stop: Math.max(merged.frame_stop, data.frame_stop),
      };
      edits.remove.push(key);
      continue;
    }
    const overlaps = data.frame_stop >= start && data.frame_start <= stop;
    if (!overlaps) continue;
    const left = data.frame_start < start ? { ...data, frame_stop: start - 1 } : null;
    const right = data.frame_stop > stop ? { ...data, frame_start: stop + 1 } : null;
    if (left !== null && right !== null) {
      edits.update.push({ key, data: left });
      edits.add.push(right);
    } else if (left !== null) edits.update.push({ key, data: left });
    else if (right !== null) edits.update.push({ key, data: right });
    else edits.remove.push(key);
  }
  edits.add.unshift(merged);
  return edits;
}

/** The label covering `frame`, if any. */
export function labelAt<T extends { data: PlaneLabelData }>(labels: readonly T[], frame: number): T | undefined {
  return labels.find((l) => l.data.frame_start <= frame && frame <= l.data.frame_stop);
}
