/** The model's localisation heatmap (PNG from the server), laid over the image's extent on the canvas. */
import type { StackView } from "../viewer/stackView";
import { h } from "./dom";

export class HeatmapOverlay {
  readonly element: HTMLImageElement;
  visible = false;
  private frame = -1;

  constructor(
    parent: HTMLElement,
    private readonly view: StackView,
    private readonly url: (frame: number) => string,
  ) {
    this.element = h("img", { class: "heatmap", alt: "", "data-testid": "heatmap-overlay", hidden: true });
    this.element.addEventListener("error", () => {
      this.element.hidden = true;
    });
    parent.appendChild(this.element);
  }

  toggle(): boolean {
    this.visible = !this.visible;
    this.update(this.frame, true);
    return this.visible;
  }

  /** Show the heatmap of `frame` (when visible and `available`), placed on the image's pixels. */
  update(frame: number, available: boolean): void {
    this.frame = frame;
    if (!this.visible || !available) {
      this.element.hidden = true;
      return;
    }
    const src = this.url(frame);
    if (this.element.getAttribute("src") !== src) this.element.src = src;
    const [rows, cols] = this.view.series.shape.slice(-2) as [number, number];
    // Pixel centres are at integers, so the image's edges are half a pixel outside them.
    const a = this.view.imageToCanvas([-0.5, -0.5]);
    const b = this.view.imageToCanvas([cols - 0.5, rows - 0.5]);
    Object.assign(this.element.style, {
      left: `${Math.min(a[0], b[0])}px`,
      top: `${Math.min(a[1], b[1])}px`,
      width: `${Math.abs(b[0] - a[0])}px`,
      height: `${Math.abs(b[1] - a[1])}px`,
    });
    this.element.hidden = false;
  }
}
