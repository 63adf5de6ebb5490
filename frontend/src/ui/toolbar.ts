/** The parts of a case page's toolbar that the cardiac and the ultrasound pages share. */
import { store } from "../state/store";
import type { ShortcutMap } from "../tools/shortcuts";
import type { CaseContext } from "./caseContext";
import { h } from "./dom";

export type ButtonFactory = (id: string, label: string, title: string, onclick: () => void) => HTMLButtonElement;

/** A button maker that also files each button under its test id in `els`, for later state changes. */
export function buttonFactory(els: Record<string, HTMLElement>): ButtonFactory {
  return (id, label, title, onclick) => {
    const b = h("button", { type: "button", "data-testid": id, title, onclick }, label);
    els[id] = b;
    return b;
  };
}

export function caseTitle(ctx: CaseContext): HTMLElement {
  return h("span", { class: "case-title", "data-testid": "case-title" }, ctx.caseInfo.title);
}

/** Undo, redo and the shortcut help, then the save status and submit controls at the right. */
export function historyAndSubmit(
  ctx: CaseContext,
  button: ButtonFactory,
  toggleHelp: () => void,
  ...before: HTMLElement[]
): HTMLElement[] {
  return [
    h(
      "span",
      { class: "group" },
      ...before,
      button("undo", "Undo", "Undo (Ctrl+Z)", () => store.undo()),
      button("redo", "Redo", "Redo (Ctrl+Shift+Z)", () => store.redo()),
      button("help-button", "?", "Shortcuts (?)", toggleHelp),
    ),
    h("span", { class: "group right" }, ctx.statusEl, ctx.submitControls()),
  ];
}

/** Undo/redo, view reset and help keys, the same on every page. */
export function addCommonShortcuts(shortcuts: ShortcutMap, resetView: () => void, toggleHelp: () => void): ShortcutMap {
  return shortcuts
    .add("ctrl+z", "Undo", () => store.undo())
    .add("ctrl+shift+z", "Redo", () => store.redo())
    .add("ctrl+y", "Redo", () => store.redo())
    .add("r", "Reset zoom, pan and window", resetView)
    .add("?", "Show / hide this help", toggleHelp);
}

/** Show, hide or flip the page's shortcut help panel. */
export function toggleHelpPanel(root: HTMLElement, show?: boolean): void {
  const panel = root.querySelector<HTMLElement>('[data-testid="help-panel"]');
  if (panel !== null) panel.hidden = show === undefined ? !panel.hidden : !show;
}
