/** Decode the frame API's raw little-endian body into a typed array. Pure. */

export type FrameArray = Uint8Array | Uint16Array | Int16Array | Float32Array;

export function parseShape(header: string | null, fallback: readonly number[]): number[] {
  if (header === null || header.trim() === "") return [...fallback];
  return header.split(",").map((s) => Number.parseInt(s.trim(), 10));
}

export function decodePixels(buffer: ArrayBuffer, dtype: string, count: number): FrameArray {
  const kind = dtype.trim().toLowerCase();
  const make = (): FrameArray => {
    switch (kind) {
      case "uint8":
      case "u1":
        return new Uint8Array(buffer);
      case "uint16":
      case "<u2":
        return new Uint16Array(buffer);
      case "int16":
      case "<i2":
        return new Int16Array(buffer);
      case "float32":
      case "<f4":
        return new Float32Array(buffer);
      default:
        throw new Error(`unsupported frame dtype ${dtype}`);
    }
  };
  const array = make();
  if (array.length !== count) {
    throw new Error(`frame has ${array.length} ${kind} values, expected ${count}`);
  }
  return array;
}

export function minMax(array: FrameArray): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < array.length; i++) {
    const v = array[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return array.length === 0 ? [0, 0] : [lo, hi];
}
