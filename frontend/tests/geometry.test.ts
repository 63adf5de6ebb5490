import { describe, expect, it } from "vitest";
import {
  maskCount,
  type Point,
  pointInPolygon,
  polygonArea,
  polygonAreaMm2,
  polygonCentroid,
  polygonContainsPolygon,
  rasterizePolygon,
  sampleClosedCatmullRom,
  signedArea,
  simplifyPolygon,
  snapToEnclose,
} from "../src/geometry";

const square = (x0: number, y0: number, side: number): Point[] => [
  [x0, y0],
  [x0 + side, y0],
  [x0 + side, y0 + side],
  [x0, y0 + side],
];

describe("polygon area", () => {
  it("gives a 4x3 rectangle an area of 12", () => {
    expect(polygonArea([[0, 0], [4, 0], [4, 3], [0, 3]])).toBe(12);
  });

  it("gives the right triangle (0,0) (6,0) (0,4) an area of 12", () => {
    expect(polygonArea([[0, 0], [6, 0], [0, 4]])).toBe(12);
  });

  it("gives an L shape the sum of its two rectangles", () => {
    // 4x2 bottom bar plus a 2x2 block on top of its left half: 8 + 4.
    const l: Point[] = [[0, 0], [2, 0], [2, 2], [4, 2], [4, 4], [0, 4]];
    expect(polygonArea(l)).toBe(12);
  });

  it("flips the sign of the signed area when the winding is reversed", () => {
    const sq = square(0, 0, 2);
    expect(signedArea(sq)).toBe(4);
    expect(signedArea([...sq].reverse())).toBe(-4);
  });

  it("scales the area by the pixel spacing", () => {
    expect(polygonAreaMm2(square(0, 0, 10), [1.5, 2])).toBe(300);
  });

  it("gives degenerate polygons zero area", () => {
    expect(polygonArea([[0, 0], [1, 1]])).toBe(0);
    expect(polygonArea([[0, 0], [1, 1], [2, 2]])).toBe(0);
  });
});

describe("point in polygon", () => {
  const sq = square(0, 0, 10);

  it("finds the centre inside and a far point outside", () => {
    expect(pointInPolygon([5, 5], sq)).toBe(true);
    expect(pointInPolygon([15, 5], sq)).toBe(false);
    expect(pointInPolygon([-0.001, 5], sq)).toBe(false);
  });

  it("counts the left and top edges as inside and the right and bottom edges as outside", () => {
    expect(pointInPolygon([0, 5], sq)).toBe(true);
    expect(pointInPolygon([5, 0], sq)).toBe(true);
    expect(pointInPolygon([10, 5], sq)).toBe(false);
    expect(pointInPolygon([5, 10], sq)).toBe(false);
    expect(pointInPolygon([0, 0], sq)).toBe(true);
    expect(pointInPolygon([10, 10], sq)).toBe(false);
  });

  it("never puts a point on a shared edge inside both neighbours", () => {
    const left = square(0, 0, 10);
    const right = square(10, 0, 10);
    for (const y of [0, 2.5, 5, 9.99]) {
      const inside = [pointInPolygon([10, y], left), pointInPolygon([10, y], right)];
      expect(inside.filter(Boolean)).toHaveLength(1);
    }
  });

  it("treats a point level with a vertex correctly", () => {
    const diamond: Point[] = [[5, 0], [10, 5], [5, 10], [0, 5]];
    expect(pointInPolygon([5, 5], diamond)).toBe(true);
    expect(pointInPolygon([-1, 5], diamond)).toBe(false);
    expect(pointInPolygon([11, 5], diamond)).toBe(false);
  });

  it("excludes the notch of a concave polygon", () => {
    const u: Point[] = [[0, 0], [3, 0], [3, 10], [7, 10], [7, 0], [10, 0], [10, 12], [0, 12]];
    expect(pointInPolygon([5, 5], u)).toBe(false);
    expect(pointInPolygon([1, 5], u)).toBe(true);
    expect(pointInPolygon([5, 11], u)).toBe(true);
  });
});

describe("centroid", () => {
  it("puts a square's centroid at its centre", () => {
    expect(polygonCentroid(square(2, 4, 6))).toEqual([5, 7]);
  });

  it("puts a triangle's centroid at the mean of its vertices", () => {
    const [x, y] = polygonCentroid([[0, 0], [6, 0], [0, 3]]);
    expect(x).toBeCloseTo(2);
    expect(y).toBeCloseTo(1);
  });
});

describe("Catmull-Rom closed spline", () => {
  const controls: Point[] = [[10, 10], [30, 12], [35, 30], [20, 40], [8, 28]];

  it("passes through every control point", () => {
    const samples = sampleClosedCatmullRom(controls, 8);
    expect(samples).toHaveLength(controls.length * 8);
    controls.forEach((c, i) => {
      const s = samples[i * 8] as Point;
      expect(s[0]).toBeCloseTo(c[0], 10);
      expect(s[1]).toBeCloseTo(c[1], 10);
    });
  });

  it("is closed: the last sample lies between the last and the first control point", () => {
    const samples = sampleClosedCatmullRom(controls, 16);
    const last = samples[samples.length - 1] as Point;
    const first = controls[0] as Point;
    expect(Math.hypot(last[0] - first[0], last[1] - first[1])).toBeLessThan(3);
  });

  it("bulges a square's sides outward but stays inside the circle through its corners", () => {
    // Through the corners of a 20x20 square: more than the square (400), less than the circumcircle (200 pi).
    const samples = sampleClosedCatmullRom(square(-10, -10, 20), 32);
    const area = polygonArea(samples);
    expect(area).toBeGreaterThan(400);
    expect(area).toBeLessThan(Math.PI * 200);
  });
});

describe("rasterisation", () => {
  it("covers exactly the area of a square whose corners sit on pixel centres", () => {
    const mask = rasterizePolygon(square(2, 3, 10), 20, 20);
    expect(maskCount(mask)).toBe(100);
    expect(mask[3 * 20 + 2]).toBe(1);
    expect(mask[12 * 20 + 12]).toBe(0);
    expect(mask[12 * 20 + 11]).toBe(1);
  });

  it("covers the area of a half-pixel-offset square too", () => {
    expect(maskCount(rasterizePolygon(square(-0.5, -0.5, 8), 10, 10))).toBe(64);
  });

  it("agrees with point in polygon at every pixel centre", () => {
    const poly: Point[] = [[1.3, 2.2], [14.7, 1.1], [12.2, 9.9], [6.5, 5.5], [2.1, 13.8]];
    const mask = rasterizePolygon(poly, 16, 16);
    for (let r = 0; r < 16; r++) {
      for (let c = 0; c < 16; c++) expect(mask[r * 16 + c] === 1).toBe(pointInPolygon([c, r], poly));
    }
  });

  it("comes close to a circle's area", () => {
    const circle: Point[] = Array.from({ length: 180 }, (_, i) => [50 + 30 * Math.cos((i * Math.PI) / 90), 50 + 30 * Math.sin((i * Math.PI) / 90)]);
    const count = maskCount(rasterizePolygon(circle, 100, 100));
    expect(Math.abs(count - Math.PI * 900) / (Math.PI * 900)).toBeLessThan(0.01);
  });

  it("clips to the image", () => {
    expect(maskCount(rasterizePolygon(square(-5, -5, 10), 10, 10))).toBe(25);
  });
});

describe("containment and snapping", () => {
  it("sees a small square inside a big one and not the other way round", () => {
    expect(polygonContainsPolygon(square(0, 0, 20), square(5, 5, 5))).toBe(true);
    expect(polygonContainsPolygon(square(5, 5, 5), square(0, 0, 20))).toBe(false);
  });

  it("rejects a polygon that pokes out through an edge even when its vertices are inside", () => {
    const outer: Point[] = [[0, 0], [10, 0], [10, 10], [5, 4], [0, 10]];
    const inner: Point[] = [[2, 5], [8, 5], [8, 7], [2, 7]];
    expect(inner.every((p) => pointInPolygon(p, outer))).toBe(true);
    expect(polygonContainsPolygon(outer, inner)).toBe(false);
  });

  it("snaps an epicardium outward until it encloses the endocardium", () => {
    const circle = (r: number, n: number): Point[] =>
      Array.from({ length: n }, (_, i) => [50 + r * Math.cos((2 * Math.PI * i) / n), 50 + r * Math.sin((2 * Math.PI * i) / n)]);
    const endo = circle(20, 40);
    const epi = circle(25, 60).map((p, i): Point => (i < 10 ? [50 + (p[0] - 50) * 0.6, 50 + (p[1] - 50) * 0.6] : p));
    expect(polygonContainsPolygon(epi, endo)).toBe(false);
    const snapped = snapToEnclose(epi, endo, 1);
    expect(snapped).toHaveLength(epi.length);
    expect(polygonContainsPolygon(snapped, endo)).toBe(true);
    // Vertices that were already outside stay where they were.
    expect(snapped[30]).toEqual(epi[30]);
  });
});

describe("simplify", () => {
  it("drops collinear points of a densely sampled square and keeps its corners", () => {
    const dense: Point[] = [];
    for (let i = 0; i < 10; i++) dense.push([i, 0]);
    for (let i = 0; i < 10; i++) dense.push([10, i]);
    for (let i = 10; i > 0; i--) dense.push([i, 10]);
    for (let i = 10; i > 0; i--) dense.push([0, i]);
    const simple = simplifyPolygon(dense, 0.1);
    expect(simple).toHaveLength(4);
    expect(polygonArea(simple)).toBe(100);
  });

  it("keeps every vertex of a polygon with no redundant points", () => {
    const star: Point[] = Array.from({ length: 10 }, (_, i) => {
      const r = i % 2 === 0 ? 10 : 4;
      return [r * Math.cos((i * Math.PI) / 5), r * Math.sin((i * Math.PI) / 5)];
    });
    expect(simplifyPolygon(star, 0.5)).toHaveLength(10);
  });
});
