import { describe, expect, it } from "vitest";
import { cineFrameIndex, frameImageId, parseFrameImageId } from "../src/viewer/frameIds";
import { decodePixels, minMax, parseShape } from "../src/viewer/pixels";

describe("frame ids", () => {
  it("round-trips series and frame through an image id", () => {
    expect(frameImageId(12, 345)).toBe("atrium:12:345");
    expect(parseFrameImageId("atrium:12:345")).toEqual({ seriesId: 12, frame: 345 });
    expect(parseFrameImageId("wadors:12:345")).toBeNull();
  });

  it("flattens a cine's slice and phase as slice * P + phase", () => {
    expect(cineFrameIndex(0, 0, 25)).toBe(0);
    expect(cineFrameIndex(3, 7, 25)).toBe(82);
  });
});

describe("raw frame decoding", () => {
  it("reads little-endian uint16 pixels and their range", () => {
    const bytes = new Uint8Array([0x01, 0x00, 0x00, 0x01, 0xff, 0xff, 0x10, 0x00]);
    const pixels = decodePixels(bytes.buffer, "uint16", 4);
    expect(Array.from(pixels)).toEqual([1, 256, 65535, 16]);
    expect(minMax(pixels)).toEqual([1, 65535]);
  });

  it("reads signed int16 pixels", () => {
    const pixels = decodePixels(new Int16Array([-1024, 0, 3071]).buffer, "int16", 3);
    expect(minMax(pixels)).toEqual([-1024, 3071]);
  });

  it("refuses a body whose size does not match the shape", () => {
    expect(() => decodePixels(new Uint8Array(10).buffer, "uint8", 12)).toThrow(/expected 12/);
    expect(() => decodePixels(new Uint8Array(4).buffer, "complex64", 1)).toThrow(/unsupported/);
  });

  it("parses the X-Frame-Shape header and falls back to the series shape", () => {
    expect(parseShape("192, 256", [1, 1])).toEqual([192, 256]);
    expect(parseShape(null, [64, 64])).toEqual([64, 64]);
  });
});
