import { describe, expect, it } from "vitest";
import type { Annotation } from "../src/api/types";
import { markRender, markSave, perf } from "../src/state/perf";
import { AnnotationStore } from "../src/state/store";
import { affineFrom, applyAffine } from "../src/viewer/affine";
import { openingFrame } from "../src/viewer/frameIds";
import { chooseRenderPath } from "../src/viewer/renderBackend";

const ME = 7;

function contourAnnotation(id: number): Annotation {
  return {
    id,
    case: 1,
    kind: "contour",
    author: { id: ME, username: "me" },
    source: "observer",
    version: 1,
    data: { structure: "lv_endo", slice: 0, phase: 0, points: [[1, 1], [4, 1], [4, 4]], mode: "freehand" },
    deleted: false,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  } as Annotation;
}

describe("opening frame", () => {
  it("is the middle slice's first phase of a cine and frame 0 of a clip", () => {
    expect(openingFrame({ layout: "cine", shape: [10, 30, 128, 128] })).toBe(150);
    expect(openingFrame({ layout: "cine", shape: [9, 25, 64, 64] })).toBe(100);
    expect(openingFrame({ layout: "clip", shape: [60, 224, 288] })).toBe(0);
  });
});

describe("render path", () => {
  it("draws on the CPU with a software rasteriser or no WebGL, and on the GPU otherwise", () => {
    expect(chooseRenderPath({ webgl: true, softwareRasterizer: true }, null)).toBe("cpu");
    expect(chooseRenderPath({ webgl: false, softwareRasterizer: false }, null)).toBe("cpu");
    expect(chooseRenderPath({ webgl: true, softwareRasterizer: false }, null)).toBe("gpu");
  });

  it("follows a stored override, except GPU without WebGL", () => {
    expect(chooseRenderPath({ webgl: true, softwareRasterizer: true }, "gpu")).toBe("gpu");
    expect(chooseRenderPath({ webgl: true, softwareRasterizer: false }, "cpu")).toBe("cpu");
    expect(chooseRenderPath({ webgl: false, softwareRasterizer: false }, "gpu")).toBe("cpu");
    expect(chooseRenderPath({ webgl: true, softwareRasterizer: false }, "bogus")).toBe("gpu");
  });
});

describe("affine image-to-canvas map", () => {
  it("reproduces a zoom, pan and rotation from three projected points", () => {
    // canvas = R(30 deg) * 2.5 * p + (40, -7), computed by hand for each point.
    const c = Math.cos(Math.PI / 6) * 2.5;
    const s = Math.sin(Math.PI / 6) * 2.5;
    const project = (x: number, y: number): [number, number] => [c * x - s * y + 40, s * x + c * y - 7];
    const m = affineFrom(project(0, 0), project(1, 0), project(0, 1));
    for (const p of [[0, 0], [10, 3], [-2.5, 7.25], [127, 127]] as [number, number][]) {
      const [x, y] = applyAffine(m, p);
      const [ex, ey] = project(p[0], p[1]);
      expect(x).toBeCloseTo(ex, 9);
      expect(y).toBeCloseTo(ey, 9);
    }
  });
});

describe("perf record", () => {
  it("keeps the first image time and bounded rings of renders and saves", () => {
    perf.clear();
    perf.firstImageMs = null;
    markRender(3, 0.5);
    const first = perf.firstImageMs;
    expect(first).not.toBeNull();
    for (let i = 0; i < 2500; i++) markRender(i, 0.1);
    expect(perf.firstImageMs).toBe(first);
    expect(perf.renders).toHaveLength(2000);
    expect(perf.renders[perf.renders.length - 1]?.frame).toBe(2499);
    markSave("PUT", performance.now() - 5, true);
    expect(perf.saves[0]?.method).toBe("PUT");
    expect(perf.saves[0]?.ms).toBeGreaterThanOrEqual(5);
    perf.clear();
    expect(perf.renders).toHaveLength(0);
  });
});

describe("a store whose annotations are still loading", () => {
  it("refuses edits until the list is loaded, then takes them", () => {
    const s = new AnnotationStore();
    s.beginLoading(ME);
    expect(s.loading).toBe(true);
    const data = { structure: "lv_endo", slice: 0, phase: 1, points: [[0, 0], [3, 0], [3, 3]], mode: "freehand" };
    expect(() => s.add("contour", data)).toThrow(/still loading/);
    expect(() => s.transaction(() => undefined)).toThrow(/still loading/);
    expect(s.dirty).toBe(false);
    s.load([contourAnnotation(5)], ME);
    expect(s.loading).toBe(false);
    expect(s.list()).toHaveLength(1);
    s.add("contour", data);
    expect(s.list()).toHaveLength(2);
    expect(s.dirty).toBe(true);
  });

  it("tells its listeners when loading starts and when the list arrives", () => {
    const s = new AnnotationStore();
    let calls = 0;
    s.subscribe(() => {
      calls += 1;
    });
    s.beginLoading(ME);
    s.load([contourAnnotation(5)], ME);
    expect(calls).toBe(2);
    s.reset();
    expect(s.loading).toBe(false);
  });
});
