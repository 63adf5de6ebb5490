/** The cardiac short-axis case page: slice x phase navigation, LV/RV contours, ED/ES, model pre-annotations. */
import type { ContourData, ContourMode, PhasesData, Structure } from "../api/types";
import { type Point, polygonAreaMm2 } from "../geometry";
import { ContourIndex, type IndexedContour } from "../state/contourIndex";
import { store } from "../state/store";
import { ContourEditor } from "../tools/contourEditor";
import { contourPolygon, moveContour } from "../tools/contourShape";
import { checkEnclosure } from "../tools/enclosure";
import { ShortcutMap } from "../tools/shortcuts";
import { cineFrameIndex } from "../viewer/frameIds";
import type { CaseContext } from "./caseContext";
import { h, toast } from "./dom";
import { GridWidget } from "./grid";
import { helpPanel } from "./helpPanel";
import type { Shape } from "./overlay";
import { MODEL_COLOUR, OTHER_OBSERVER_COLOUR, STRUCTURES, structureInfo } from "./structures";
import { addCommonShortcuts, buttonFactory, caseTitle, historyAndSubmit, toggleHelpPanel } from "./toolbar";
import { ViewerShell } from "./viewerShell";

export class CardiacPage {
  slice = 0;
  phase = 0;
  structure: Structure = "lv_endo";
  mode: ContourMode = "freehand";
  /** Left drag draws (true) or sets window/level (false). */
  drawing = true;
  private index = new ContourIndex();
  private readonly slices: number;
  private readonly phases: number;
  private readonly shell: ViewerShell;
  private readonly editor: ContourEditor;
  private readonly grid: GridWidget;
  private readonly shortcuts = new ShortcutMap();
  private readonly els: Record<string, HTMLElement> = {};
  private redrawQueued = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly ctx: CaseContext,
  ) {
    const shape = ctx.series.shape;
    this.slices = shape.length === 4 ? (shape[0] ?? 1) : 1;
    this.phases = shape.length === 4 ? (shape[1] ?? 1) : (shape[0] ?? 1);
    this.slice = Math.floor(this.slices / 2);
    root.classList.add("atrium-page", "cardiac");
    const main = h("div", { class: "viewer-column" });
    const side = h("div", { class: "side-column" });
    this.grid = new GridWidget((s, p) => void this.go(s, p));
    this.registerShortcuts();
    // The viewport must be in the document before Cornerstone sizes its canvas.
    root.append(this.toolbar(), ctx.bannerEl, h("div", { class: "workspace" }, main, side));
    this.shell = new ViewerShell(
      main,
      ctx.series,
      ctx.api,
      { scroll: (d) => void this.go(this.slice + d, this.phase), shiftScroll: (d) => void this.stepPhase(d) },
      () => void this.stepPhase(1),
      (playing) => this.els["play"]?.classList.toggle("active", playing),
    );
    this.editor = new ContourEditor(this.shell.wrapper, {
      imageToCanvas: (p) => this.shell.view.imageToCanvas(p),
      canvasToImage: (p) => this.shell.view.canvasToImage(p),
      drawing: () => this.drawing,
      mode: () => this.mode,
      activeContour: () => {
        const c = this.index.mine(this.slice, this.phase, this.structure);
        return c === undefined ? null : { key: c.key, data: c.data };
      },
      commitNew: (points, mode) => this.commitNew(points, mode),
      commitEdit: (key, points) => this.commitEdit(key, points),
      changed: () => this.requestRedraw(),
    });
    side.append(
      h("div", { class: "position", "data-testid": "position" }),
      this.grid.element,
      (this.els["enclosure"] = h("div", { class: "enclosure-warning", "data-testid": "enclosure-warning", hidden: true })),
      (this.els["areas"] = h("table", { class: "areas", "data-testid": "contour-areas" })),
      (this.els["phases"] = h("div", { class: "phase-marks", "data-testid": "phase-marks" })),
      ctx.jobEl,
      helpPanel(this.shortcuts, [
        ["Left drag", "draw (freehand) / window-level when drawing is off (W)"],
        ["Click", "add a spline point; click the first point or Enter to close"],
        ["Drag a point", "move it"],
        ["Shift+click outline", "insert a point"],
        ["Alt+click point", "remove it"],
        ["Right drag / Ctrl+wheel", "zoom"],
        ["Middle drag", "pan"],
        ["Wheel / Shift+wheel", "slice / phase"],
      ]),
    );
    store.subscribe(() => this.rebuild());
    ctx.onPredictions(() => this.rebuild());
    this.shell.view.onRender(() => this.redraw());
    this.shortcuts.attach();
    this.rebuild();
    this.selectStructure("lv_endo");
    this.setDrawing(true);
    void this.go(this.slice, 0);
  }

  private toolbar(): HTMLElement {
    const button = buttonFactory(this.els);
    return h(
      "div",
      { class: "toolbar" },
      caseTitle(this.ctx),
      h(
        "span",
        { class: "group structures", role: "radiogroup" },
        ...STRUCTURES.map((s) => {
          const b = button(`structure-${s.id}`, `${s.hotkey} ${s.label}`, `${s.label} (${s.hotkey})`, () => this.selectStructure(s.id));
          b.style.setProperty("--structure-colour", s.colour);
          return b;
        }),
      ),
      h(
        "span",
        { class: "group" },
        button("mode-freehand", "Freehand", "Freehand drawing (F)", () => this.setMode("freehand")),
        button("mode-spline", "Spline", "Spline drawing (P)", () => this.setMode("spline")),
        button("tool-draw", "Draw", "Left drag draws (W toggles window/level)", () => this.setDrawing(!this.drawing)),
      ),
      h(
        "span",
        { class: "group" },
        button("copy-phase", "Copy ◂phase", "Copy from the neighbouring phase (C)", () => this.copyFrom("phase")),
        button("copy-slice", "Copy ◂slice", "Copy from the neighbouring slice (Shift+C)", () => this.copyFrom("slice")),
        button("accept-model", "Accept model", "Accept the model's contours here (A)", () => this.acceptModel()),
        button("delete-contour", "Delete", "Delete the selected structure's contour here (Delete)", () => this.deleteActive()),
      ),
      h(
        "span",
        { class: "group" },
        button("mark-ed", "ED", "Mark this phase end-diastolic (E)", () => this.markPhase("ed_phase")),
        button("mark-es", "ES", "Mark this phase end-systolic (S)", () => this.markPhase("es_phase")),
        button("play", "▶ Cine", "Play/stop (Space)", () => this.shell.cine.toggle()),
      ),
      ...historyAndSubmit(this.ctx, button, () => this.toggleHelp()),
    );
  }

  private registerShortcuts(): void {
    const s = this.shortcuts;
    for (const st of STRUCTURES) s.add(st.hotkey, `Select ${st.label}`, () => this.selectStructure(st.id));
    s.add("f", "Freehand drawing", () => this.setMode("freehand"))
      .add("p", "Spline drawing", () => this.setMode("spline"))
      .add("w", "Toggle left drag: draw / window-level", () => this.setDrawing(!this.drawing))
      .add("enter", "Close the spline being drawn", () => this.editor.finishSpline())
      .add("escape", "Cancel drawing / close help", () => {
        if (!this.editor.cancel()) this.toggleHelp(false);
      })
      .add("arrowup", "Previous slice", () => void this.go(this.slice - 1, this.phase))
      .add("arrowdown", "Next slice", () => void this.go(this.slice + 1, this.phase))
      .add("arrowleft", "Previous phase", () => void this.stepPhase(-1))
      .add("arrowright", "Next phase", () => void this.stepPhase(1))
      .add("space", "Play / stop cine", () => this.shell.cine.toggle())
      .add("c", "Copy contour from the neighbouring phase", () => this.copyFrom("phase"))
      .add("shift+c", "Copy contour from the neighbouring slice", () => this.copyFrom("slice"))
      .add("a", "Accept the model's contours on this image", () => this.acceptModel())
      .add("e", "Mark ED phase", () => this.markPhase("ed_phase"))
      .add("s", "Mark ES phase", () => this.markPhase("es_phase"))
      .add("delete", "Delete the selected structure's contour here", () => this.deleteActive());
    addCommonShortcuts(s, () => this.shell.view.resetView(), () => this.toggleHelp());
  }

  private toggleHelp(show?: boolean): void {
    toggleHelpPanel(this.root, show);
  }

  selectStructure(id: Structure): void {
    this.structure = id;
    for (const st of STRUCTURES) this.els[`structure-${st.id}`]?.classList.toggle("active", st.id === id);
    this.setDrawing(true);
    this.requestRedraw();
  }

  setMode(mode: ContourMode): void {
    this.mode = mode;
    this.editor.cancel();
    this.els["mode-freehand"]?.classList.toggle("active", mode === "freehand");
    this.els["mode-spline"]?.classList.toggle("active", mode === "spline");
  }

  setDrawing(on: boolean): void {
    this.drawing = on;
    this.shell.view.setWindowLevelOnLeftDrag(!on);
    const b = this.els["tool-draw"];
    if (b !== undefined) {
      b.textContent = on ? "Draw" : "Window/level";
      b.classList.toggle("active", on);
    }
    this.shell.wrapper.classList.toggle("drawing", on);
  }

  async go(slice: number, phase: number): Promise<void> {
    this.editor.cancel();
    this.slice = Math.max(0, Math.min(this.slices - 1, slice));
    this.phase = ((phase % this.phases) + this.phases) % this.phases;
    this.grid.setCurrent(this.slice, this.phase);
    this.updateSideInfo();
    const frame = cineFrameIndex(this.slice, this.phase, this.phases);
    await this.shell.view.show(frame);
    // The neighbouring phases matter most for cine, the neighbouring slices for scrolling.
    this.shell.view.prefetch(frame, [
      cineFrameIndex(this.slice, (this.phase + 1) % this.phases, this.phases),
      cineFrameIndex(this.slice, (this.phase + this.phases - 1) % this.phases, this.phases),
    ]);
    this.requestRedraw();
  }

  stepPhase(direction: number): Promise<void> {
    return this.go(this.slice, this.phase + direction);
  }

  private phasesEntry(): { key: string; data: PhasesData } | null {
    const entry = store.list<PhasesData>("phases").find((e) => e.mine);
    return entry === undefined ? null : { key: entry.key, data: entry.data };
  }

  markPhase(which: keyof PhasesData): void {
    const current = this.phasesEntry();
    const data: PhasesData = { ed_phase: current?.data.ed_phase ?? null, es_phase: current?.data.es_phase ?? null };
    data[which] = data[which] === this.phase ? null : this.phase;
    if (current === null) store.add("phases", data);
    else store.update(current.key, data);
  }

  private commitNew(points: Point[], mode: ContourMode): void {
    const data: ContourData = { structure: this.structure, slice: this.slice, phase: this.phase, points, mode };
    const existing = this.index.mine(this.slice, this.phase, this.structure);
    if (existing === undefined) store.add("contour", data);
    else store.update(existing.key, data);
  }

  private commitEdit(key: string, points: Point[]): void {
    const entry = store.get(key);
    if (entry === undefined) return;
    store.update(key, { ...(entry.data as ContourData), points });
  }

  copyFrom(axis: "phase" | "slice"): void {
    const candidates =
      axis === "phase"
        ? [[this.slice, (this.phase + this.phases - 1) % this.phases], [this.slice, (this.phase + 1) % this.phases]]
        : [[this.slice - 1, this.phase], [this.slice + 1, this.phase]];
    for (const [s, p] of candidates) {
      const source = this.index.mine(s as number, p as number, this.structure);
      if (source === undefined) continue;
      const copy = moveContour(source.data, this.slice, this.phase);
      this.commitNew(copy.points, copy.mode);
      toast(`Copied ${structureInfo(this.structure).label} from slice ${(s as number) + 1}, phase ${(p as number) + 1}`);
      return;
    }
    toast(`No ${structureInfo(this.structure).label} contour on the neighbouring ${axis}s to copy`, "warn");
  }

  acceptModel(): void {
    const model = this.index.model(this.slice, this.phase);
    if (model.length === 0) {
      toast("The model has no contours on this image", "warn");
      return;
    }
    store.transaction(() => {
      for (const m of model) {
        const data: ContourData = { ...m.data, slice: this.slice, phase: this.phase };
        const own = this.index.mine(this.slice, this.phase, m.data.structure);
        if (own === undefined) store.add("contour", data);
        else store.update(own.key, data);
      }
    });
    toast(`Accepted ${model.length} model contour${model.length === 1 ? "" : "s"}; edit them as your own`);
  }

  deleteActive(): void {
    const own = this.index.mine(this.slice, this.phase, this.structure);
    if (own !== undefined) store.remove(own.key);
  }

  /** Rebuild the frame index (store or predictions changed), then the grid and the overlay. */
  private rebuild(): void {
    const contours: IndexedContour[] = store.list<ContourData>("contour").map((e) => ({
      key: e.key,
      data: e.data,
      mine: e.mine,
      source: e.source,
      author: e.author,
    }));
    for (const p of this.ctx.predictions) {
      if (p.kind !== "contour") continue;
      contours.push({ key: `p${p.id}`, data: p.data as ContourData, mine: false, source: "model", author: `model ${p.model_version}` });
    }
    this.index = new ContourIndex(contours);
    const phases = this.phasesEntry()?.data ?? { ed_phase: null, es_phase: null };
    this.grid.render({
      slices: this.slices,
      phases: this.phases,
      current: { slice: this.slice, phase: this.phase },
      ed: phases.ed_phase,
      es: phases.es_phase,
      filled: this.index.filled(),
      model: this.index.modelFrames(),
      structures: STRUCTURES,
    });
    this.updateSideInfo();
    this.requestRedraw();
  }

  private updateSideInfo(): void {
    const position = this.root.querySelector('[data-testid="position"]');
    if (position !== null) position.textContent = `Slice ${this.slice + 1}/${this.slices} · Phase ${this.phase + 1}/${this.phases}`;
    this.shell.info.textContent = `S ${this.slice + 1}/${this.slices}  P ${this.phase + 1}/${this.phases}`;
    const phases = this.phasesEntry()?.data ?? { ed_phase: null, es_phase: null };
    const fmt = (v: number | null): string => (v === null ? "–" : String(v + 1));
    const marks = this.els["phases"];
    if (marks !== undefined) marks.textContent = `ED phase ${fmt(phases.ed_phase)} · ES phase ${fmt(phases.es_phase)}`;
    this.els["mark-ed"]?.classList.toggle("active", phases.ed_phase === this.phase);
    this.els["mark-es"]?.classList.toggle("active", phases.es_phase === this.phase);
    this.updateAreas();
    this.updateEnclosure();
  }

  private updateAreas(): void {
    const table = this.els["areas"];
    if (table === undefined) return;
    table.replaceChildren(
      ...STRUCTURES.map((st) => {
        const own = this.index.mine(this.slice, this.phase, st.id);
        const area = own === undefined ? "–" : `${(polygonAreaMm2(contourPolygon(own.data), this.ctx.series.pixel_spacing_mm) / 100).toFixed(2)} cm²`;
        return h("tr", {}, h("td", { style: `color:${st.colour}` }, st.label), h("td", { "data-testid": `area-${st.id}` }, area));
      }),
    );
  }

  private updateEnclosure(): void {
    const box = this.els["enclosure"];
    if (box === undefined) return;
    const epi = this.index.mine(this.slice, this.phase, "lv_epi");
    const endo = this.index.mine(this.slice, this.phase, "lv_endo");
    const result = epi !== undefined && endo !== undefined ? checkEnclosure(epi.data, endo.data) : null;
    if (result === null || result.ok || epi === undefined) {
      box.hidden = true;
      return;
    }
    const snapped = result.snapped;
    box.hidden = false;
    box.replaceChildren(
      h("strong", {}, "The LV epicardium does not enclose the endocardium here. "),
      snapped === null
        ? ""
        : h("button", { type: "button", "data-testid": "snap-epi", onclick: () => store.update(epi.key, snapped) }, "Snap epicardium outward"),
    );
  }

  requestRedraw(): void {
    if (this.redrawQueued) return;
    this.redrawQueued = true;
    requestAnimationFrame(() => {
      this.redrawQueued = false;
      this.redraw();
    });
  }

  /** Outlines of the shown frame: own (solid, handles on the active structure), others' (grey), model (dashed). */
  private redraw(): void {
    const shapes: Shape[] = [];
    for (const c of this.index.at(this.slice, this.phase)) {
      const info = structureInfo(c.data.structure);
      const dragging = this.editor.dragging !== null && this.editor.dragging.key === c.key ? this.editor.dragging.points : null;
      const data = dragging !== null ? { ...c.data, points: dragging } : c.data;
      const active = c.mine && c.data.structure === this.structure && this.drawing;
      shapes.push({
        points: contourPolygon(data),
        colour: c.source === "model" ? MODEL_COLOUR : c.mine ? info.colour : OTHER_OBSERVER_COLOUR,
        closed: true,
        dashed: c.source === "model",
        width: c.mine ? 2 : 1.5,
        fill: c.mine && active,
        handles: active ? data.points : undefined,
        testid: c.source === "model" ? `model-contour-${c.data.structure}` : c.mine ? `contour-${c.data.structure}` : `other-contour-${c.data.structure}`,
      });
    }
    const draft = this.editor.draft;
    if (draft !== null) {
      const outline = ContourEditor.draftOutline(draft);
      const colour = structureInfo(this.structure).colour;
      shapes.push({ points: outline, colour, closed: draft.mode === "spline" && draft.points.length >= 3, testid: "draft-contour", handles: draft.mode === "spline" ? draft.points : undefined });
    }
    this.shell.overlay.draw(shapes);
  }
}
