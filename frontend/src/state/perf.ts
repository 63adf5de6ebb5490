/**
 * In-page timing record, readable as `window.__atriumPerf` by bench/ui.py and by anyone profiling in
 * devtools. Times are `performance.now()` values, i.e. milliseconds since the page's navigation started.
 * Bounded rings, so leaving it on costs nothing measurable over a long session.
 */

const RING = 2000;

export interface RenderMark {
  /** When the viewport's IMAGE_RENDERED listeners (overlay included) had run. */
  at: number;
  frame: number;
  /** Milliseconds spent in those listeners (the overlay redraw). */
  listenerMs: number;
}

export interface SaveMark {
  start: number;
  ms: number;
  method: string;
  ok: boolean;
}

export interface PerfRecord {
  /** performance.now() when the first image of the page was drawn together with its outlines. */
  firstImageMs: number | null;
  /** performance.now() when the case's annotation list was in the store. */
  annotationsLoadedMs: number | null;
  /** How Cornerstone draws: "cpu" or "gpu" (WebGL), chosen at start-up (viewer/renderBackend.ts). */
  renderPath: string | null;
  renders: RenderMark[];
  saves: SaveMark[];
  /** Forget the rings (the bench calls it between phases of a run). */
  clear(): void;
}

function push<T>(ring: T[], item: T): void {
  ring.push(item);
  if (ring.length > RING) ring.splice(0, ring.length - RING);
}

export const perf: PerfRecord = {
  firstImageMs: null,
  annotationsLoadedMs: null,
  renderPath: null,
  renders: [],
  saves: [],
  clear() {
    this.renders.length = 0;
    this.saves.length = 0;
  },
};

if (typeof window !== "undefined") (window as unknown as { __atriumPerf: PerfRecord }).__atriumPerf = perf;

export function markRender(frame: number, listenerMs: number): void {
  const at = performance.now();
  if (perf.firstImageMs === null) perf.firstImageMs = at;
  push(perf.renders, { at, frame, listenerMs });
}

export function markSave(method: string, start: number, ok: boolean): void {
  push(perf.saves, { start, ms: performance.now() - start, method, ok });
}
