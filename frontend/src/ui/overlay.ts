/**
 * SVG overlay on the viewport: redraws outlines given in image coordinates at every render, so zoom,
 * pan and frame changes keep them in place. Holds no state besides what it was last given.
 */
import type { Point } from "../geometry";
import { clear, svg } from "./dom";

export interface Shape {
  points: readonly Point[];
  colour: string;
  closed: boolean;
  dashed?: boolean;
  width?: number;
  /** Vertices drawn as handles (editable points). */
  handles?: readonly Point[];
  testid?: string;
  fill?: boolean;
}

export class Overlay {
  readonly element: SVGSVGElement;

  constructor(
    parent: HTMLElement,
    private readonly toCanvas: (p: Point) => Point,
  ) {
    this.element = svg("svg", { class: "atrium-overlay", "data-testid": "contour-overlay" });
    parent.appendChild(this.element);
  }

  draw(shapes: readonly Shape[]): void {
    const root = this.element;
    clear(root);
    for (const shape of shapes) {
      if (shape.points.length < 2) continue;
      const coords = shape.points.map((p) => this.toCanvas(p));
      const d =
        coords.map((c, i) => `${i === 0 ? "M" : "L"}${c[0].toFixed(1)},${c[1].toFixed(1)}`).join("") + (shape.closed ? "Z" : "");
      const attrs: Record<string, string | number> = {
        d,
        stroke: shape.colour,
        "stroke-width": shape.width ?? 2,
        fill: shape.fill ? shape.colour : "none",
        "fill-opacity": shape.fill ? 0.12 : 0,
        "stroke-linejoin": "round",
      };
      if (shape.dashed) attrs["stroke-dasharray"] = "6 4";
      if (shape.testid) attrs["data-testid"] = shape.testid;
      root.appendChild(svg("path", attrs));
      for (const handle of shape.handles ?? []) {
        const c = this.toCanvas(handle);
        root.appendChild(
          svg("circle", { cx: c[0].toFixed(1), cy: c[1].toFixed(1), r: 3.5, class: "handle", stroke: shape.colour }),
        );
      }
    }
  }
}
