/**
 * The viewport block shared by both pages: the Cornerstone element (data-testid="viewport") inside a
 * wrapper that also holds the SVG overlay, wheel handling (plain / shift / ctrl) and cine playback.
 */
import type { ApiClient } from "../api/client";
import type { SeriesMeta } from "../api/types";
import { Cine } from "../viewer/cine";
import { StackView } from "../viewer/stackView";
import { h } from "./dom";
import { Overlay } from "./overlay";

export interface WheelHandlers {
  /** Plain wheel. */
  scroll(direction: 1 | -1): void;
  /** Shift+wheel. */
  shiftScroll(direction: 1 | -1): void;
}

export class ViewerShell {
  readonly wrapper: HTMLDivElement;
  readonly element: HTMLDivElement;
  readonly view: StackView;
  readonly overlay: Overlay;
  readonly cine: Cine;
  readonly info: HTMLDivElement;

  constructor(
    parent: HTMLElement,
    series: SeriesMeta,
    api: ApiClient,
    wheel: WheelHandlers,
    cineStep: () => void,
    onCineState: (playing: boolean) => void,
  ) {
    this.element = h("div", { class: "cs-element", "data-testid": "viewport" });
    this.info = h("div", { class: "viewport-info", "data-testid": "viewport-info" });
    this.wrapper = h("div", { class: "viewport-wrapper" }, this.element, this.info);
    parent.appendChild(this.wrapper);
    this.view = new StackView(this.element, series, api);
    this.overlay = new Overlay(this.wrapper, (p) => this.view.imageToCanvas(p));
    this.cine = new Cine(cineStep, Math.max(10, series.frame_time_ms ?? 40), onCineState);
    this.wrapper.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        e.stopPropagation();
        // Shift+wheel is reported as horizontal scrolling on some platforms.
        const delta = e.deltaY !== 0 ? e.deltaY : e.deltaX;
        if (delta === 0) return;
        const direction = delta > 0 ? 1 : -1;
        if (e.ctrlKey || e.metaKey) this.view.zoomBy(direction > 0 ? 1 / 1.1 : 1.1);
        else if (e.shiftKey) wheel.shiftScroll(direction);
        else wheel.scroll(direction);
      },
      { capture: true, passive: false },
    );
  }

  destroy(): void {
    this.cine.stop();
    this.view.destroy();
  }
}
