import { describe, expect, it } from "vitest";
import { applyRangeLabel, labelAt } from "../src/state/ranges";

const entry = (key: string, plane: string, frame_start: number, frame_stop: number) => ({ key, data: { plane, frame_start, frame_stop } });

describe("range labels", () => {
  it("adds a label untouched when nothing overlaps", () => {
    const edits = applyRangeLabel([entry("a", "4CH", 0, 4)], { plane: "LVOT", frame_start: 10, frame_stop: 12 });
    expect(edits).toEqual({ update: [], remove: [], add: [{ plane: "LVOT", frame_start: 10, frame_stop: 12 }] });
  });

  it("splits a longer label of another plane around the new one", () => {
    const edits = applyRangeLabel([entry("a", "4CH", 0, 20)], { plane: "LVOT", frame_start: 5, frame_stop: 9 });
    expect(edits.update).toEqual([{ key: "a", data: { plane: "4CH", frame_start: 0, frame_stop: 4 } }]);
    expect(edits.add).toEqual([
      { plane: "LVOT", frame_start: 5, frame_stop: 9 },
      { plane: "4CH", frame_start: 10, frame_stop: 20 },
    ]);
  });

  it("trims the overlapped end of a neighbour and removes a label it covers completely", () => {
    const edits = applyRangeLabel([entry("a", "4CH", 0, 6), entry("b", "Femur", 8, 9)], { plane: "RVOT", frame_start: 5, frame_stop: 12 });
    expect(edits.update).toEqual([{ key: "a", data: { plane: "4CH", frame_start: 0, frame_stop: 4 } }]);
    expect(edits.remove).toEqual(["b"]);
  });

  it("merges with overlapping or adjacent labels of the same plane", () => {
    const edits = applyRangeLabel([entry("a", "4CH", 0, 4), entry("b", "4CH", 10, 12)], { plane: "4CH", frame_start: 5, frame_stop: 9 });
    expect(edits.remove.sort()).toEqual(["a", "b"]);
    expect(edits.add).toEqual([{ plane: "4CH", frame_start: 0, frame_stop: 12 }]);
  });

  it("accepts a range given backwards", () => {
    expect(applyRangeLabel([], { plane: "Lips", frame_start: 9, frame_stop: 3 }).add).toEqual([{ plane: "Lips", frame_start: 3, frame_stop: 9 }]);
  });

  it("finds the label covering a frame, ends included", () => {
    const labels = [entry("a", "4CH", 0, 4), entry("b", "Femur", 8, 9)];
    expect(labelAt(labels, 4)?.key).toBe("a");
    expect(labelAt(labels, 8)?.key).toBe("b");
    expect(labelAt(labels, 6)).toBeUndefined();
  });
});
