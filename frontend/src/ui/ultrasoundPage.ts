/** The fetal-ultrasound case page: play a clip, label frames or frame ranges, model suggestion and heatmap. */
import type { FramePrediction, PlaneLabelData } from "../api/types";
import { applyRangeLabel, labelAt } from "../state/ranges";
import { store } from "../state/store";
import { ShortcutMap } from "../tools/shortcuts";
import type { CaseContext } from "./caseContext";
import { clear, h, toast } from "./dom";
import { HeatmapOverlay } from "./heatmap";
import { helpPanel } from "./helpPanel";
import { BACKGROUND, planeColour, planesOf } from "./planes";
import { addCommonShortcuts, buttonFactory, caseTitle, historyAndSubmit, toggleHelpPanel } from "./toolbar";
import { ViewerShell } from "./viewerShell";

const NUMBER_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];

export class UltrasoundPage {
  frame = 0;
  plane: string;
  rangeStart: number | null = null;
  rangeEnd: number | null = null;
  private readonly frames: number;
  private readonly planes: readonly string[];
  private readonly shell: ViewerShell;
  private readonly heatmap: HeatmapOverlay;
  private readonly shortcuts = new ShortcutMap();
  private suggestions = new Map<number, FramePrediction>();
  private readonly els: Record<string, HTMLElement> = {};

  constructor(
    private readonly root: HTMLElement,
    private readonly ctx: CaseContext,
  ) {
    this.frames = ctx.series.shape[0] ?? ctx.series.n_frames;
    this.planes = planesOf(ctx.caseInfo.study.label_schema);
    this.plane = this.planes[0] ?? BACKGROUND;
    root.classList.add("atrium-page", "ultrasound");
    const main = h("div", { class: "viewer-column" });
    const side = h("div", { class: "side-column" });
    this.registerShortcuts();
    // The viewport must be in the document before Cornerstone sizes its canvas.
    root.append(this.toolbar(), ctx.bannerEl, h("div", { class: "workspace" }, main, side));
    this.shell = new ViewerShell(
      main,
      ctx.series,
      ctx.api,
      { scroll: (d) => void this.go(this.frame + d), shiftScroll: (d) => void this.go(this.frame + 10 * d) },
      () => void this.go((this.frame + 1) % this.frames),
      (playing) => this.els["play"]?.classList.toggle("active", playing),
    );
    this.heatmap = new HeatmapOverlay(this.shell.wrapper, this.shell.view, (i) => ctx.api.heatmapUrl(ctx.series.id, i));
    main.append((this.els["timeline"] = h("div", { class: "timeline", "data-testid": "timeline" })));
    side.append(
      h("div", { class: "position", "data-testid": "position" }),
      this.labelForm(),
      (this.els["suggestion"] = h("div", { class: "model-suggestion", "data-testid": "model-suggestion" })),
      h("h3", {}, "Labels"),
      (this.els["labels"] = h("ul", { class: "label-list", "data-testid": "label-list" })),
      h("h3", {}, "Planes found in this clip"),
      (this.els["checklist"] = h("ul", { class: "plane-checklist", "data-testid": "plane-checklist" })),
      ctx.jobEl,
      helpPanel(this.shortcuts, [
        ["Wheel", "previous / next frame"],
        ["Shift+wheel", "10 frames"],
        ["Left drag", "window/level"],
        ["Right drag / Ctrl+wheel", "zoom"],
        ["Middle drag", "pan"],
      ]),
    );
    store.subscribe(() => this.refresh());
    ctx.onPredictions(() => this.loadSuggestions());
    this.shell.view.onRender(() => this.heatmap.update(this.frame, this.suggestions.has(this.frame)));
    this.shortcuts.attach();
    this.loadSuggestions();
    this.selectPlane(this.plane);
    void this.go(0);
  }

  private toolbar(): HTMLElement {
    const button = buttonFactory(this.els);
    return h(
      "div",
      { class: "toolbar" },
      caseTitle(this.ctx),
      h(
        "span",
        { class: "group" },
        button("step-back", "◂", "Previous frame (Left arrow)", () => void this.go(this.frame - 1)),
        button("play", "▶ Play", "Play/stop (Space)", () => this.shell.cine.toggle()),
        button("step-forward", "▸", "Next frame (Right arrow)", () => void this.go(this.frame + 1)),
        (this.els["frame"] = h("span", { class: "frame-counter", "data-testid": "frame-counter" })),
      ),
      ...historyAndSubmit(
        this.ctx,
        button,
        () => this.toggleHelp(),
        button("heatmap-toggle", "Heatmap", "Show/hide the model's heatmap (H)", () => this.toggleHeatmap()),
      ),
    );
  }

  private labelForm(): HTMLElement {
    const select = h("select", { "data-testid": "plane-select", name: "plane" });
    this.planes.forEach((p, i) => select.appendChild(h("option", { value: p }, `${NUMBER_KEYS[i] ?? " "} ${p}`)));
    select.addEventListener("change", () => this.selectPlane(select.value));
    const start = h("input", { type: "number", min: 1, max: this.frames, "data-testid": "range-start", name: "frame_start" });
    const end = h("input", { type: "number", min: 1, max: this.frames, "data-testid": "range-end", name: "frame_stop" });
    start.addEventListener("change", () => (this.rangeStart = start.value === "" ? null : Number(start.value) - 1));
    end.addEventListener("change", () => (this.rangeEnd = end.value === "" ? null : Number(end.value) - 1));
    this.els["select"] = select;
    this.els["start"] = start;
    this.els["end"] = end;
    const form = h(
      "form",
      { class: "frame-label-form", "data-testid": "frame-label-form" },
      h("label", {}, "Plane ", select),
      h("label", {}, "From frame ", start),
      h("label", {}, "to ", end),
      h("button", { type: "submit", "data-testid": "label-submit" }, "Label"),
      h("button", { type: "button", "data-testid": "label-frame", onclick: () => this.label(this.plane, this.frame, this.frame) }, "Label this frame only"),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.labelRange();
    });
    return form;
  }

  private registerShortcuts(): void {
    const s = this.shortcuts;
    s.add("space", "Play / stop", () => this.shell.cine.toggle())
      .add("arrowleft", "Previous frame", () => void this.go(this.frame - 1))
      .add("arrowright", "Next frame", () => void this.go(this.frame + 1))
      .add("shift+arrowleft", "10 frames back", () => void this.go(this.frame - 10))
      .add("shift+arrowright", "10 frames forward", () => void this.go(this.frame + 10))
      .add("[", "Mark range start at this frame", () => this.markRange("start"))
      .add("]", "Mark range end at this frame", () => this.markRange("end"));
    this.planes.slice(0, NUMBER_KEYS.length).forEach((p, i) => s.add(NUMBER_KEYS[i] as string, `Pick plane ${p}`, () => this.selectPlane(p)));
    s.add("b", "Pick Background", () => this.selectPlane(BACKGROUND))
      .add("enter", "Label the marked range (or this frame) with the picked plane", () => this.labelRange())
      .add("a", "Label this frame (or range) with the model's suggestion", () => this.acceptSuggestion())
      .add("h", "Show / hide the heatmap", () => this.toggleHeatmap())
      .add("delete", "Delete the label on this frame", () => this.deleteLabelAtFrame())
      .add("escape", "Clear the range / close help", () => {
        this.rangeStart = this.rangeEnd = null;
        this.toggleHelp(false);
        this.refresh();
      });
    addCommonShortcuts(s, () => this.shell.view.resetView(), () => this.toggleHelp());
  }

  private toggleHelp(show?: boolean): void {
    toggleHelpPanel(this.root, show);
  }

  private toggleHeatmap(): void {
    const on = this.heatmap.toggle();
    this.heatmap.update(this.frame, this.suggestions.has(this.frame));
    this.els["heatmap-toggle"]?.classList.toggle("active", on);
  }

  selectPlane(plane: string): void {
    this.plane = plane;
    const select = this.els["select"] as HTMLSelectElement | undefined;
    if (select !== undefined) select.value = plane;
  }

  markRange(which: "start" | "end"): void {
    if (which === "start") this.rangeStart = this.frame;
    else this.rangeEnd = this.frame;
    this.refresh();
  }

  async go(frame: number): Promise<void> {
    this.frame = Math.max(0, Math.min(this.frames - 1, frame));
    this.refreshPosition();
    await this.shell.view.show(this.frame);
    this.heatmap.update(this.frame, this.suggestions.has(this.frame));
  }

  private labelRange(): void {
    const start = this.rangeStart ?? this.frame;
    const end = this.rangeEnd ?? (this.rangeStart === null ? this.frame : Math.max(this.rangeStart, this.frame));
    this.label(this.plane, start, end);
    this.rangeStart = this.rangeEnd = null;
    this.refresh();
  }

  label(plane: string, start: number, end: number): void {
    const mine = store.list<PlaneLabelData>("plane_label").filter((e) => e.mine);
    const edits = applyRangeLabel(mine.map((e) => ({ key: e.key, data: e.data })), {
      plane,
      frame_start: Math.min(start, end),
      frame_stop: Math.max(start, end),
    });
    store.transaction(() => {
      for (const key of edits.remove) store.remove(key);
      for (const u of edits.update) store.update(u.key, u.data);
      for (const a of edits.add) store.add("plane_label", a);
    });
    toast(`Labelled frames ${Math.min(start, end) + 1}–${Math.max(start, end) + 1} as ${plane}`);
  }

  private acceptSuggestion(): void {
    const s = this.suggestions.get(this.frame);
    if (s === undefined) {
      toast("No model suggestion for this frame", "warn");
      return;
    }
    this.selectPlane(s.plane);
    this.labelRange();
  }

  private deleteLabelAtFrame(): void {
    const here = labelAt(store.list<PlaneLabelData>("plane_label").filter((e) => e.mine), this.frame);
    if (here !== undefined) store.remove(here.key);
  }

  private loadSuggestions(): void {
    this.suggestions.clear();
    for (const p of this.ctx.predictions) {
      const items = Array.isArray(p.data) ? p.data : [p.data];
      for (const item of items) {
        if (typeof item === "object" && item !== null && "frame" in item && "plane" in item) {
          const f = item as FramePrediction;
          this.suggestions.set(f.frame, f);
        }
      }
    }
    this.refresh();
  }

  private refreshPosition(): void {
    const counter = this.els["frame"];
    if (counter !== undefined) counter.textContent = `Frame ${this.frame + 1}/${this.frames}`;
    const position = this.root.querySelector('[data-testid="position"]');
    const mine = store.list<PlaneLabelData>("plane_label").filter((e) => e.mine);
    const here = labelAt(mine, this.frame);
    if (position !== null) position.textContent = `Frame ${this.frame + 1}/${this.frames} · ${here ? here.data.plane : "unlabelled"}`;
    this.shell.info.textContent = `F ${this.frame + 1}/${this.frames}`;
    const suggestion = this.suggestions.get(this.frame);
    const box = this.els["suggestion"];
    if (box !== undefined) {
      box.textContent = suggestion
        ? `Model suggests ${suggestion.plane} (${Math.round(suggestion.confidence * 100)}% confidence) — press A to accept`
        : "No model suggestion for this frame";
      box.dataset["plane"] = suggestion?.plane ?? "";
    }
    const marker = this.els["timeline"]?.querySelector<HTMLElement>(".cursor");
    if (marker) marker.style.left = `${(100 * (this.frame + 0.5)) / this.frames}%`;
  }

  /** Labels list, timeline, range inputs and the checklist (after any store change). */
  private refresh(): void {
    const mine = store.list<PlaneLabelData>("plane_label").filter((e) => e.mine).sort((a, b) => a.data.frame_start - b.data.frame_start);
    const list = this.els["labels"];
    if (list !== undefined) {
      clear(list);
      for (const e of mine) {
        list.appendChild(
          h(
            "li",
            { "data-testid": "label-item", "data-plane": e.data.plane, "data-start": e.data.frame_start, "data-stop": e.data.frame_stop },
            h("button", { type: "button", class: "link", onclick: () => void this.go(e.data.frame_start) }, `${e.data.frame_start + 1}–${e.data.frame_stop + 1}`),
            ` ${e.data.plane} `,
            h("button", { type: "button", class: "remove", title: "Delete this label", onclick: () => store.remove(e.key) }, "×"),
          ),
        );
      }
    }
    const timeline = this.els["timeline"];
    if (timeline !== undefined) {
      clear(timeline);
      for (const e of mine) {
        const left = (100 * e.data.frame_start) / this.frames;
        const width = (100 * (e.data.frame_stop - e.data.frame_start + 1)) / this.frames;
        timeline.appendChild(h("span", { class: "range", title: e.data.plane, style: `left:${left}%;width:${width}%;background:${planeColour(this.planes.indexOf(e.data.plane), this.planes.length)}` }));
      }
      if (this.rangeStart !== null) {
        const a = this.rangeStart;
        const b = this.rangeEnd ?? this.rangeStart;
        timeline.appendChild(h("span", { class: "pending", style: `left:${(100 * Math.min(a, b)) / this.frames}%;width:${(100 * (Math.abs(b - a) + 1)) / this.frames}%` }));
      }
      timeline.appendChild(h("span", { class: "cursor" }));
      timeline.onclick = (ev: MouseEvent) => {
        const rect = timeline.getBoundingClientRect();
        void this.go(Math.floor(((ev.clientX - rect.left) / rect.width) * this.frames));
      };
    }
    const start = this.els["start"] as HTMLInputElement | undefined;
    const end = this.els["end"] as HTMLInputElement | undefined;
    if (start !== undefined) start.value = this.rangeStart === null ? "" : String(this.rangeStart + 1);
    if (end !== undefined) end.value = this.rangeEnd === null ? "" : String(this.rangeEnd + 1);
    const checklist = this.els["checklist"];
    if (checklist !== undefined) {
      clear(checklist);
      const found = new Set(mine.map((e) => e.data.plane));
      const modelFound = new Set([...this.suggestions.values()].filter((s) => s.confidence >= 0.5).map((s) => s.plane));
      for (const plane of this.planes) {
        if (plane === BACKGROUND) continue;
        checklist.appendChild(
          h(
            "li",
            { "data-testid": `checklist-${plane}`, "data-found": found.has(plane) ? "true" : "false", class: found.has(plane) ? "found" : "" },
            found.has(plane) ? "☑ " : "☐ ",
            plane,
            modelFound.has(plane) && !found.has(plane) ? h("span", { class: "model-hint", title: "the model sees this plane" }, " (model)") : null,
          ),
        );
      }
    }
    this.refreshPosition();
  }
}
