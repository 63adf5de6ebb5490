import { describe, expect, it, vi } from "vitest";
import type { ContourData } from "../src/api/types";
import { polygonContainsPolygon, type Point } from "../src/geometry";
import { ContourIndex } from "../src/state/contourIndex";
import { contourPolygon, moveContour } from "../src/tools/contourShape";
import { checkEnclosure } from "../src/tools/enclosure";
import { describeKeys, matches, ShortcutMap } from "../src/tools/shortcuts";

const key = (k: string, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean; altKey: boolean; metaKey: boolean; code: string }> = {}) => ({
  key: k,
  code: mods.code ?? "",
  ctrlKey: mods.ctrlKey ?? false,
  metaKey: mods.metaKey ?? false,
  altKey: mods.altKey ?? false,
  shiftKey: mods.shiftKey ?? false,
});

function circle(cx: number, cy: number, r: number, n: number): Point[] {
  return Array.from({ length: n }, (_, i) => [cx + r * Math.cos((2 * Math.PI * i) / n), cy + r * Math.sin((2 * Math.PI * i) / n)]);
}

const lv = (structure: ContourData["structure"], points: Point[], mode: ContourData["mode"] = "freehand"): ContourData => ({
  structure,
  slice: 2,
  phase: 3,
  points,
  mode,
});

describe("shortcuts", () => {
  it("tells C from shift+C and ctrl+Z from ctrl+shift+Z", () => {
    expect(matches("c", key("c"))).toBe(true);
    expect(matches("c", key("C", { shiftKey: true }))).toBe(false);
    expect(matches("shift+c", key("C", { shiftKey: true }))).toBe(true);
    expect(matches("ctrl+z", key("z", { ctrlKey: true }))).toBe(true);
    expect(matches("ctrl+z", key("Z", { ctrlKey: true, shiftKey: true }))).toBe(false);
    expect(matches("ctrl+shift+z", key("Z", { ctrlKey: true, shiftKey: true }))).toBe(true);
    expect(matches("ctrl+z", key("z", { metaKey: true }))).toBe(true);
  });

  it("matches symbols whatever shift the layout needs, and digits by their key", () => {
    expect(matches("?", key("?", { shiftKey: true }))).toBe(true);
    expect(matches("[", key("["))).toBe(true);
    expect(matches("1", key("1", { code: "Digit1" }))).toBe(true);
    expect(matches("space", key(" "))).toBe(true);
    expect(matches("arrowleft", key("ArrowLeft"))).toBe(true);
    expect(matches("arrowleft", key("ArrowLeft", { shiftKey: true }))).toBe(false);
  });

  it("describes keys for the help panel", () => {
    expect(describeKeys("ctrl+shift+z")).toBe("Ctrl+Shift+Z");
    expect(describeKeys("arrowleft")).toBe("Left arrow");
  });

  it("runs the first matching shortcut and ignores keys typed into a form field", () => {
    const map = new ShortcutMap();
    const run = vi.fn();
    map.add("e", "Mark ED", run);
    const event = { ...key("e"), target: null, preventDefault: vi.fn() } as unknown as KeyboardEvent;
    expect(map.dispatch(event)).toBe(true);
    expect(run).toHaveBeenCalledOnce();
    const inInput = { ...key("e"), target: { closest: () => ({}) }, preventDefault: vi.fn() } as unknown as KeyboardEvent;
    expect(map.dispatch(inInput)).toBe(false);
    expect(run).toHaveBeenCalledOnce();
  });
});

describe("epicardium encloses endocardium", () => {
  it("accepts an epicardium around the endocardium", () => {
    expect(checkEnclosure(lv("lv_epi", circle(50, 50, 25, 40)), lv("lv_endo", circle(50, 50, 18, 40))).ok).toBe(true);
  });

  it("offers a freehand snap that encloses an endocardium poking through", () => {
    const endo = lv("lv_endo", circle(52, 50, 20, 40));
    const result = checkEnclosure(lv("lv_epi", circle(50, 50, 21, 40)), endo);
    expect(result.ok).toBe(false);
    expect(result.snapped).not.toBeNull();
    expect(polygonContainsPolygon(contourPolygon(result.snapped as ContourData), contourPolygon(endo))).toBe(true);
  });

  it("keeps a spline epicardium a spline when snapping its control points is enough", () => {
    const endo = lv("lv_endo", circle(50, 50, 15, 24));
    const epi = lv("lv_epi", circle(50, 50, 20, 8).map((p, i): Point => (i === 0 ? [60, 50] : p)), "spline");
    const result = checkEnclosure(epi, endo);
    expect(result.ok).toBe(false);
    expect(result.snapped?.mode).toBe("spline");
    expect(polygonContainsPolygon(contourPolygon(result.snapped as ContourData), contourPolygon(endo))).toBe(true);
  });
});

describe("contour index and copy", () => {
  it("finds own and model contours by slice and phase", () => {
    const index = new ContourIndex([
      { key: "a1", data: lv("lv_endo", circle(0, 0, 5, 8)), mine: true, source: "observer", author: "ann" },
      { key: "p1", data: lv("lv_epi", circle(0, 0, 8, 8)), mine: false, source: "model", author: "model" },
      { key: "a2", data: { ...lv("lv_endo", circle(0, 0, 5, 8)), phase: 4 }, mine: false, source: "observer", author: "bob" },
    ]);
    expect(index.mine(2, 3, "lv_endo")?.key).toBe("a1");
    expect(index.mine(2, 4, "lv_endo")).toBeUndefined();
    expect(index.model(2, 3).map((c) => c.key)).toEqual(["p1"]);
    expect([...(index.filled().get("2:3") ?? [])]).toEqual(["lv_endo"]);
    expect(index.modelFrames()).toEqual(new Set(["2:3"]));
  });

  it("copies a contour to another frame without sharing its points", () => {
    const source = lv("rv_endo", [[1, 1], [5, 1], [5, 5]]);
    const copy = moveContour(source, 4, 7);
    expect(copy).toMatchObject({ slice: 4, phase: 7, structure: "rv_endo", mode: "freehand" });
    (copy.points[0] as unknown as number[])[0] = 99;
    expect(source.points[0]).toEqual([1, 1]);
  });
});
