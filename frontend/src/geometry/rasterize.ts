import type { Point, Polygon } from "./types";

/**
 * Rasterise a closed polygon into a (height, width) row-major mask of 0/1.
 * Pixel (r, c) is set when its centre (x=c, y=r) is inside by `pointInPolygon`'s even-odd, top-left
 * rule, so a square with corners on pixel centres covers exactly its area in pixels.
 */
export function rasterizePolygon(polygon: Polygon, height: number, width: number): Uint8Array {
  const mask = new Uint8Array(height * width);
  const n = polygon.length;
  if (n < 3) return mask;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const [, y] of polygon) {
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const rowStart = Math.max(0, Math.ceil(minY));
  const rowStop = Math.min(height - 1, Math.floor(maxY));
  const crossings: number[] = [];
  for (let r = rowStart; r <= rowStop; r++) {
    crossings.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [xi, yi] = polygon[i] as Point;
      const [xj, yj] = polygon[j] as Point;
      if (yi <= r !== yj <= r) crossings.push(xi + ((r - yi) * (xj - xi)) / (yj - yi));
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Centres c with xa <= c < xb: the left crossing is inside, the right one outside.
      const from = Math.max(0, Math.ceil(crossings[k] as number));
      const to = Math.min(width - 1, Math.ceil(crossings[k + 1] as number) - 1);
      for (let c = from; c <= to; c++) mask[r * width + c] = 1;
    }
  }
  return mask;
}

/** Number of set pixels in a mask. */
export function maskCount(mask: Uint8Array): number {
  let count = 0;
  for (const v of mask) count += v;
  return count;
}
