/** A 2-D point [x, y] in image pixel coordinates: x = column, y = row, pixel centres at integers. */
export type Point = readonly [number, number];
/** A closed polygon: the last vertex joins the first (never repeated). */
export type Polygon = readonly Point[];
