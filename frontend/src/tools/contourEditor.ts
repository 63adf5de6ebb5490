/**
 * Mouse interaction for drawing and editing closed contours on a stack view.
 * Freehand: left drag draws, release closes. Spline: click control points, click the first one (or
 * press Enter, or double-click) to close. Editing: drag a point of the active structure's contour;
 * shift+click its outline inserts a point; alt+click a point removes it.
 * Left-button events are taken in the capture phase on the wrapper so Cornerstone's window/level tool
 * never sees them while drawing; right/middle/wheel go through to Cornerstone untouched.
 */
import type { ContourData, ContourMode } from "../api/types";
import { distanceToPolygon, dropClosePoints, type Point, simplifyPolygon } from "../geometry";
import { contourPolygon } from "./contourShape";

export interface EditableContour {
  key: string;
  data: ContourData;
}

export interface ContourEditorHost {
  imageToCanvas(p: Point): Point;
  canvasToImage(p: Point): Point;
  /** Is left-button drawing on (false: left drag is window/level)? */
  drawing(): boolean;
  mode(): ContourMode;
  /** The active structure's own contour on the shown frame, if any. */
  activeContour(): EditableContour | null;
  /** A new outline for the active structure on the shown frame (replaces any existing one). */
  commitNew(points: Point[], mode: ContourMode): void;
  commitEdit(key: string, points: Point[]): void;
  changed(): void;
}

export interface Draft {
  points: Point[];
  mode: ContourMode;
  /** Canvas position of the pointer, for the rubber band of a spline in progress. */
  cursor: Point | null;
}

const HANDLE_PX = 7;

export class ContourEditor {
  draft: Draft | null = null;
  /** Points of a contour being dragged (so the overlay shows them live). */
  dragging: { key: string; points: Point[]; index: number } | null = null;
  private readonly onDown = (e: MouseEvent): void => this.mouseDown(e);
  private readonly onMove = (e: MouseEvent): void => this.mouseMove(e);
  private readonly onHover = (e: MouseEvent): void => {
    if (this.draft?.mode === "spline") {
      this.draft.cursor = this.canvasPoint(e);
      this.host.changed();
    }
  };
  private readonly onUp = (e: MouseEvent): void => this.mouseUp(e);
  private readonly onDouble = (e: MouseEvent): void => {
    if (this.draft?.mode === "spline" && this.host.drawing()) {
      e.preventDefault();
      e.stopPropagation();
      this.finishSpline();
    }
  };
  private freehandActive = false;

  constructor(
    private readonly wrapper: HTMLElement,
    private readonly host: ContourEditorHost,
  ) {
    wrapper.addEventListener("mousedown", this.onDown, true);
    wrapper.addEventListener("mousemove", this.onHover, true);
    wrapper.addEventListener("dblclick", this.onDouble, true);
  }

  destroy(): void {
    this.wrapper.removeEventListener("mousedown", this.onDown, true);
    this.wrapper.removeEventListener("mousemove", this.onHover, true);
    document.removeEventListener("mousemove", this.onMove, true);
    this.wrapper.removeEventListener("dblclick", this.onDouble, true);
    document.removeEventListener("mouseup", this.onUp, true);
  }

  private canvasPoint(e: MouseEvent): Point {
    const rect = this.wrapper.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  }

  private nearestHandle(canvas: Point, points: readonly Point[]): number {
    let best = -1;
    let bestDistance = HANDLE_PX;
    points.forEach((p, i) => {
      const c = this.host.imageToCanvas(p);
      const d = Math.hypot(c[0] - canvas[0], c[1] - canvas[1]);
      if (d <= bestDistance) {
        best = i;
        bestDistance = d;
      }
    });
    return best;
  }

  private mouseDown(e: MouseEvent): void {
    if (e.button !== 0 || !this.host.drawing()) return;
    e.preventDefault();
    e.stopPropagation();
    const canvas = this.canvasPoint(e);
    const image = this.host.canvasToImage(canvas);
    if (this.draft?.mode === "spline") {
      this.addSplinePoint(canvas, image);
      return;
    }
    const active = this.host.activeContour();
    if (active !== null) {
      const handle = this.nearestHandle(canvas, active.data.points);
      if (handle >= 0 && e.altKey) {
        if (active.data.points.length > 3) {
          this.host.commitEdit(active.key, active.data.points.filter((_, i) => i !== handle));
        }
        return;
      }
      if (handle >= 0) {
        this.dragging = { key: active.key, points: active.data.points.slice(), index: handle };
        document.addEventListener("mouseup", this.onUp, true);
        document.addEventListener("mousemove", this.onMove, true);
        return;
      }
      if (e.shiftKey) {
        this.insertPoint(active, image);
        return;
      }
    }
    if (this.host.mode() === "spline") {
      this.draft = { points: [image], mode: "spline", cursor: canvas };
      this.host.changed();
      return;
    }
    this.draft = { points: [image], mode: "freehand", cursor: null };
    this.freehandActive = true;
    document.addEventListener("mouseup", this.onUp, true);
    document.addEventListener("mousemove", this.onMove, true);
    this.host.changed();
  }

  private insertPoint(active: EditableContour, image: Point): void {
    // Find the edge of the stored points (not the sampled spline) nearest to the click.
    const { distance, edge } = distanceToPolygon(image, active.data.points);
    const scale = Math.hypot(...diff(this.host.imageToCanvas([1, 0]), this.host.imageToCanvas([0, 0]))) || 1;
    if (edge < 0 || distance * scale > HANDLE_PX * 2) return;
    const points = active.data.points.slice();
    points.splice(edge + 1, 0, image);
    this.host.commitEdit(active.key, points);
  }

  private addSplinePoint(canvas: Point, image: Point): void {
    const draft = this.draft;
    if (draft === null) return;
    if (draft.points.length >= 3 && this.nearestHandle(canvas, [draft.points[0] as Point]) === 0) {
      this.finishSpline();
      return;
    }
    draft.points.push(image);
    this.host.changed();
  }

  /** Document-level move while a stroke or a point drag is in progress (so leaving the image is fine). */
  private mouseMove(e: MouseEvent): void {
    if (this.dragging !== null) {
      e.stopPropagation();
      this.dragging.points[this.dragging.index] = this.host.canvasToImage(this.canvasPoint(e));
      this.host.changed();
      return;
    }
    const draft = this.draft;
    if (draft === null) return;
    if (draft.mode === "freehand" && this.freehandActive) {
      e.stopPropagation();
      draft.points.push(this.host.canvasToImage(this.canvasPoint(e)));
      this.host.changed();
    }
  }

  private mouseUp(e: MouseEvent): void {
    document.removeEventListener("mouseup", this.onUp, true);
    document.removeEventListener("mousemove", this.onMove, true);
    if (this.dragging !== null) {
      const { key, points } = this.dragging;
      this.dragging = null;
      this.host.commitEdit(key, points);
      return;
    }
    if (this.draft?.mode === "freehand" && this.freehandActive) {
      this.freehandActive = false;
      this.draft.points.push(this.host.canvasToImage(this.canvasPoint(e)));
      const points = simplifyPolygon(dropClosePoints(this.draft.points, 0.25), 0.3);
      this.draft = null;
      if (points.length >= 3 && spans(points)) this.host.commitNew(points, "freehand");
      this.host.changed();
    }
  }

  /** Close the spline in progress (Enter, double-click, or click on its first point). */
  finishSpline(): void {
    const draft = this.draft;
    if (draft === null || draft.mode !== "spline") return;
    this.draft = null;
    const points = dropClosePoints(draft.points, 0.5);
    if (points.length >= 3) this.host.commitNew(points, "spline");
    this.host.changed();
  }

  /** Drop a drawing in progress (Escape). Returns whether there was one. */
  cancel(): boolean {
    const had = this.draft !== null || this.dragging !== null;
    this.draft = null;
    this.dragging = null;
    this.freehandActive = false;
    if (had) this.host.changed();
    return had;
  }

  /** Outline of a draft as it would be stored, for the overlay. */
  static draftOutline(draft: Draft): Point[] {
    return draft.mode === "spline" && draft.points.length >= 3
      ? contourPolygon({ points: draft.points, mode: "spline" })
      : draft.points;
  }
}

function diff(a: Point, b: Point): [number, number] {
  return [a[0] - b[0], a[1] - b[1]];
}

/** A contour must enclose some area: reject a click or a stroke along a line. */
function spans(points: readonly Point[]): boolean {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return Math.max(...xs) - Math.min(...xs) >= 1 && Math.max(...ys) - Math.min(...ys) >= 1;
}
