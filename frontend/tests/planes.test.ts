import { describe, expect, it } from "vitest";
import { planeColour, planesOf } from "../src/ui/planes";

describe("planesOf", () => {
  it("takes the study's planes in the schema's order", () => {
    expect(planesOf({ planes: ["4CH", "Background", "Femur"] })).toEqual(["4CH", "Background", "Femur"]);
  });

  it("refuses a schema without planes, naming the problem", () => {
    expect(() => planesOf({})).toThrow(/lists no planes/);
    expect(() => planesOf({ planes: [] })).toThrow(/lists no planes/);
    expect(() => planesOf({ planes: ["4CH", 3] })).toThrow(/lists no planes/);
  });
});

describe("planeColour", () => {
  it("spreads hues evenly over the study's planes and greys out unknown ones", () => {
    expect(planeColour(0, 4)).toBe("hsl(0, 70%, 55%)");
    expect(planeColour(1, 4)).toBe("hsl(90, 70%, 55%)");
    expect(planeColour(-1, 4)).toBe("#666");
  });
});
