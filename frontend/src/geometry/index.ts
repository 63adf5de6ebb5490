export type { Point, Polygon } from "./types";
export { polygonArea, polygonAreaMm2, signedArea } from "./area";
export { polygonCentroid } from "./centroid";
export { distanceToPolygon, distanceToSegment, pointInPolygon } from "./pointInPolygon";
export { maskCount, rasterizePolygon } from "./rasterize";
export { sampleClosedCatmullRom } from "./spline";
export { dropClosePoints, simplifyPolygon } from "./simplify";
export { polygonContainsPolygon, snapToEnclose, verticesOutside } from "./containment";
export { translatePolygon } from "./transform";
