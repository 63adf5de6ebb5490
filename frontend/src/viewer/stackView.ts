/**
 * One Cornerstone stack viewport over a series: shows frame i, prefetches its neighbours, converts between
 * image and canvas coordinates, and binds window/level (left drag, when not drawing), pan (middle drag)
 * and zoom (right drag, ctrl+wheel).
 */
import { Enums, imageLoader, init as coreInit, isCornerstoneInitialized, RenderingEngine, type Types } from "@cornerstonejs/core";
import {
  addTool,
  Enums as ToolEnums,
  init as toolsInit,
  PanTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
} from "@cornerstonejs/tools";
import type { ApiClient } from "../api/client";
import type { SeriesMeta } from "../api/types";
import type { Point } from "../geometry";
import { frameImageId } from "./frameIds";
import { imageToWorld, registerAtriumLoader, registerSeries, worldToImage } from "./imageLoader";

let toolsReady = false;
let counter = 0;

function initialise(api: ApiClient): void {
  if (!isCornerstoneInitialized()) coreInit();
  if (!toolsReady) {
    toolsInit();
    addTool(WindowLevelTool);
    addTool(PanTool);
    addTool(ZoomTool);
    toolsReady = true;
  }
  registerAtriumLoader(api);
}

export class StackView {
  readonly element: HTMLDivElement;
  private readonly engine: RenderingEngine;
  private readonly viewportId: string;
  private readonly toolGroupId: string;
  private readonly imageIds: string[];
  private current = -1;
  private renderListeners = new Set<() => void>();
  private resizeObserver: ResizeObserver | null = null;
  /** Frames to keep warm on either side of the current one. */
  prefetchRadius = 2;

  constructor(
    element: HTMLDivElement,
    readonly series: SeriesMeta,
    api: ApiClient,
  ) {
    initialise(api);
    registerSeries(series);
    this.element = element;
    counter += 1;
    this.viewportId = `atrium-viewport-${counter}`;
    this.toolGroupId = `atrium-tools-${counter}`;
    this.engine = new RenderingEngine(`atrium-engine-${counter}`);
    this.engine.enableElement({
      viewportId: this.viewportId,
      type: Enums.ViewportType.STACK,
      element,
      defaultOptions: { background: [0, 0, 0] as Types.Point3 },
    });
    this.imageIds = Array.from({ length: series.n_frames }, (_, i) => frameImageId(series.id, i));
    const group = ToolGroupManager.createToolGroup(this.toolGroupId);
    if (group === undefined) throw new Error("could not create the Cornerstone tool group");
    group.addViewport(this.viewportId, this.engine.id);
    group.addTool(WindowLevelTool.toolName);
    group.addTool(PanTool.toolName);
    group.addTool(ZoomTool.toolName);
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }] });
    group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }] });
    this.setWindowLevelOnLeftDrag(true);
    element.addEventListener(Enums.Events.IMAGE_RENDERED, () => {
      for (const listener of this.renderListeners) listener();
    });
    element.addEventListener("contextmenu", (e) => e.preventDefault());
    if (typeof ResizeObserver !== "undefined") {
      this.resizeObserver = new ResizeObserver(() => this.engine.resize(true, true));
      this.resizeObserver.observe(element);
    }
  }

  get viewport(): Types.IStackViewport {
    return this.engine.getViewport(this.viewportId) as Types.IStackViewport;
  }

  get frame(): number {
    return this.current;
  }

  /** Left drag adjusts window/level (true) or is left to the drawing tools (false). */
  setWindowLevelOnLeftDrag(on: boolean): void {
    const group = ToolGroupManager.getToolGroup(this.toolGroupId);
    if (group === undefined) return;
    if (on) {
      group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
    } else {
      group.setToolPassive(WindowLevelTool.toolName);
    }
  }

  /** Show frame `index` (flattened: slice * P + phase for a cine). */
  async show(index: number): Promise<void> {
    const clamped = Math.max(0, Math.min(this.imageIds.length - 1, index));
    const first = this.current < 0;
    this.current = clamped;
    if (first) {
      await this.viewport.setStack(this.imageIds, clamped);
      const window = this.series.window;
      if (window) {
        this.viewport.setProperties({
          voiRange: { lower: window.center - window.width / 2, upper: window.center + window.width / 2 },
        });
      }
      this.viewport.render();
    } else {
      await this.viewport.setImageIdIndex(clamped);
    }
    this.prefetch(clamped);
  }

  /** Warm the cache with the frames around `index` (and `extra`, e.g. the neighbouring phase). */
  prefetch(index: number, extra: number[] = []): void {
    const wanted = new Set<number>(extra);
    for (let d = 1; d <= this.prefetchRadius; d++) {
      wanted.add(index + d);
      wanted.add(index - d);
    }
    for (const i of wanted) {
      const id = this.imageIds[i];
      if (id === undefined) continue;
      imageLoader
        .loadAndCacheImage(id, { priority: 5, requestType: Enums.RequestType.Prefetch })
        .catch(() => undefined);
    }
  }

  onRender(listener: () => void): () => void {
    this.renderListeners.add(listener);
    return () => this.renderListeners.delete(listener);
  }

  /** Canvas (CSS pixel) position of an image point. */
  imageToCanvas(point: Point): Point {
    const canvas = this.viewport.worldToCanvas(imageToWorld(this.series, point[0], point[1]));
    return [canvas[0], canvas[1]];
  }

  canvasToImage(point: Point): Point {
    const world = this.viewport.canvasToWorld([point[0], point[1]]);
    return worldToImage(this.series, world);
  }

  /** Canvas pixels per image pixel (horizontal), for hit-testing tolerances. */
  scale(): number {
    const a = this.imageToCanvas([0, 0]);
    const b = this.imageToCanvas([1, 0]);
    return Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
  }

  zoomBy(factor: number): void {
    const viewport = this.viewport;
    viewport.setZoom(viewport.getZoom() * factor);
    viewport.render();
  }

  resetView(): void {
    this.viewport.resetCamera();
    this.viewport.resetProperties();
    const window = this.series.window;
    if (window) {
      this.viewport.setProperties({
        voiRange: { lower: window.center - window.width / 2, upper: window.center + window.width / 2 },
      });
    }
    this.viewport.render();
  }

  destroy(): void {
    this.resizeObserver?.disconnect();
    ToolGroupManager.destroyToolGroup(this.toolGroupId);
    this.engine.destroy();
  }
}
