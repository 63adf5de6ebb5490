/**
 * The slice x phase grid: one cell per (slice, phase) with a dot per structure that has a contour,
 * the current cell outlined, ED/ES columns marked; clicking a cell goes there.
 */
import type { Structure } from "../api/types";
import { clear, h } from "./dom";

export interface GridModel {
  slices: number;
  phases: number;
  current: { slice: number; phase: number };
  ed: number | null;
  es: number | null;
  /** Structures with an own contour at (slice, phase), keyed "slice:phase". */
  filled: Map<string, Set<Structure>>;
  model: Set<string>;
  structures: readonly { id: Structure; colour: string }[];
}

export class GridWidget {
  readonly element: HTMLElement;
  private cells: HTMLElement[][] = [];
  private labels: HTMLElement[] = [];
  private shape = "";
  private current: HTMLElement | null = null;

  constructor(private readonly go: (slice: number, phase: number) => void) {
    this.element = h("div", { class: "grid-widget", "data-testid": "slice-phase-grid" });
  }

  /**
   * Bring the grid up to date. Cells are built once per grid size and then only touched where their
   * content changed: the store calls this on every edit and save, and a 10 x 30 grid is 300 buttons.
   */
  render(model: GridModel): void {
    const shape = `${model.slices}x${model.phases}`;
    if (shape !== this.shape) this.build(model.slices, model.phases);
    this.shape = shape;
    this.labels.forEach((label, p) => {
      const mark = p === model.ed ? "ED" : p === model.es ? "ES" : String(p + 1);
      if (label.textContent !== mark) label.textContent = mark;
      label.classList.toggle("marked", mark === "ED" || mark === "ES");
    });
    for (let s = 0; s < model.slices; s++) {
      for (let p = 0; p < model.phases; p++) {
        const cell = this.cells[s]?.[p];
        if (cell === undefined) continue;
        const key = `${s}:${p}`;
        const filled = model.filled.get(key);
        const structures = filled ? [...filled].sort().join(" ") : "";
        cell.classList.toggle("has-model", model.model.has(key));
        if (cell.dataset["structures"] === structures) continue;
        cell.dataset["structures"] = structures;
        clear(cell);
        for (const st of model.structures) {
          if (filled?.has(st.id)) cell.appendChild(h("i", { class: "dot", style: `background:${st.colour}` }));
        }
      }
    }
    this.setCurrent(model.current.slice, model.current.phase);
  }

  private build(slices: number, phases: number): void {
    clear(this.element);
    this.cells = [];
    this.current = null;
    const header = h("div", { class: "grid-row grid-header" }, h("span", { class: "grid-label" }, ""));
    this.labels = [];
    for (let p = 0; p < phases; p++) {
      const label = h("span", { class: "grid-col-label" }, String(p + 1));
      this.labels.push(label);
      header.appendChild(label);
    }
    this.element.appendChild(header);
    for (let s = 0; s < slices; s++) {
      const row = h("div", { class: "grid-row" }, h("span", { class: "grid-label" }, `S${s + 1}`));
      const cellsOfRow: HTMLElement[] = [];
      for (let p = 0; p < phases; p++) {
        const cell = h("button", {
          type: "button",
          class: "grid-cell",
          "data-testid": `grid-cell-${s}-${p}`,
          "data-structures": "",
          title: `slice ${s + 1}, phase ${p + 1}`,
          onclick: () => this.go(s, p),
        });
        row.appendChild(cell);
        cellsOfRow.push(cell);
      }
      this.cells.push(cellsOfRow);
      this.element.appendChild(row);
    }
  }

  /** Cheap update while scrolling: move the outline only. */
  setCurrent(slice: number, phase: number): void {
    const cell = this.cells[slice]?.[phase] ?? null;
    if (cell === this.current) return;
    this.current?.classList.remove("current");
    cell?.classList.add("current");
    this.current = cell;
  }
}
