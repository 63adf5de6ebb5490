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

  constructor(private readonly go: (slice: number, phase: number) => void) {
    this.element = h("div", { class: "grid-widget", "data-testid": "slice-phase-grid" });
  }

  render(model: GridModel): void {
    clear(this.element);
    this.cells = [];
    const header = h("div", { class: "grid-row grid-header" }, h("span", { class: "grid-label" }, ""));
    for (let p = 0; p < model.phases; p++) {
      const mark = p === model.ed ? "ED" : p === model.es ? "ES" : String(p + 1);
      header.appendChild(h("span", { class: `grid-col-label${mark === "ED" || mark === "ES" ? " marked" : ""}` }, mark));
    }
    this.element.appendChild(header);
    for (let s = 0; s < model.slices; s++) {
      const row = h("div", { class: "grid-row" }, h("span", { class: "grid-label" }, `S${s + 1}`));
      const cellsOfRow: HTMLElement[] = [];
      for (let p = 0; p < model.phases; p++) {
        const key = `${s}:${p}`;
        const filled = model.filled.get(key);
        const cell = h("button", {
          type: "button",
          class: "grid-cell",
          "data-testid": `grid-cell-${s}-${p}`,
          "data-structures": filled ? [...filled].sort().join(" ") : "",
          title: `slice ${s + 1}, phase ${p + 1}`,
          onclick: () => this.go(s, p),
        });
        if (model.model.has(key)) cell.classList.add("has-model");
        for (const st of model.structures) {
          if (filled?.has(st.id)) cell.appendChild(h("i", { class: "dot", style: `background:${st.colour}` }));
        }
        row.appendChild(cell);
        cellsOfRow.push(cell);
      }
      this.cells.push(cellsOfRow);
      this.element.appendChild(row);
    }
    this.setCurrent(model.current.slice, model.current.phase);
  }

  /** Cheap update while scrolling: move the outline only. */
  setCurrent(slice: number, phase: number): void {
    for (const cell of this.element.querySelectorAll(".grid-cell.current")) cell.classList.remove("current");
    this.cells[slice]?.[phase]?.classList.add("current");
  }
}
