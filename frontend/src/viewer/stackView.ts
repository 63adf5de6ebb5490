/**
 * One Cornerstone stack viewport over a series: shows frame i, prefetches its neighbours, converts between
 * image and canvas coordinates, and binds window/level (left drag, when not drawing), pan (middle drag)
 * and zoom (right drag, ctrl+wheel).
 */
import {
  Enums,
  getRenderingCapabilities,
  imageLoader,
  init as coreInit,
  isCornerstoneInitialized,
  RenderingEngine,
  setUseCPURendering,
  type Types,
} from "@cornerstonejs/core";
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
import { markRender, perf } from "../state/perf";
import { type Affine, affineFrom, applyAffine } from "./affine";
import { frameImageId, parseFrameImageId } from "./frameIds";
import { imageToWorld, registerAtriumLoader, registerSeries, worldToImage } from "./imageLoader";
import { chooseRenderPath, storedOverride } from "./renderBackend";

let toolsReady = false;
let counter = 0;

function initialise(api: ApiClient): void {
  if (!isCornerstoneInitialized()) {
    const path = chooseRenderPath(getRenderingCapabilities(), storedOverride());
    coreInit();
    setUseCPURendering(path === "cpu");
    perf.renderPath = path;
  }
  if (!toolsReady) {
    toolsInit();
    addTool(WindowLevelTool);
    addTool(PanTool);
    addTool(ZoomTool);
    toolsReady = true;
  }
  registerAtriumLoader(api);
}

/** Start loading frame `index` of a series before its viewport exists (while the rest of a case loads). */
export function warmFrame(api: ApiClient, series: SeriesMeta, index: number): void {
  // The loader needs no initialised Cornerstone: the request goes out first, the set-up runs meanwhile.
  registerAtriumLoader(api);
  registerSeries(series);
  imageLoader
    .loadAndCacheImage(frameImageId(series.id, index), { priority: 0, requestType: Enums.RequestType.Interaction })
    .catch(() => undefined);
  initialise(api);
}

export class StackView {
  readonly element: HTMLDivElement;
  private readonly engine: RenderingEngine;
  private readonly viewportId: string;
  private readonly toolGroupId: string;
  private readonly imageIds: string[];
  private current = -1;
  private affine: Affine | null = null;
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
      const start = performance.now();
      for (const listener of this.renderListeners) listener();
      // Only renders that put an image on screen count (the viewport also renders while still empty).
      const shown = (this.viewport.getCornerstoneImage() as Types.IImage | undefined)?.imageId;
      const frame = shown === undefined ? null : parseFrameImageId(shown)?.frame;
      if (frame !== null && frame !== undefined) markRender(frame, performance.now() - start);
    });
    element.addEventListener(Enums.Events.CAMERA_MODIFIED, () => {
      this.affine = null;
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
    return applyAffine(this.imageAffine(), point);
  }

  /**
   * Image -> canvas is affine on a stack viewport, so three viewport projections serve every point drawn
   * in one task (an overlay redraw projects hundreds). Dropped when the camera moves and after the task.
   */
  private imageAffine(): Affine {
    if (this.affine === null) {
      const project = (x: number, y: number): Point => {
        const canvas = this.viewport.worldToCanvas(imageToWorld(this.series, x, y));
        return [canvas[0], canvas[1]];
      };
      this.affine = affineFrom(project(0, 0), project(1, 0), project(0, 1));
      queueMicrotask(() => {
        this.affine = null;
      });
    }
    return this.affine;
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
