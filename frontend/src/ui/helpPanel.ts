/** The "?" panel listing every shortcut of the page, generated from the shortcut registry. */
import { describeKeys, type ShortcutMap } from "../tools/shortcuts";
import { h } from "./dom";

export function helpPanel(shortcuts: ShortcutMap, mouse: [string, string][]): HTMLElement {
  const panel = h(
    "aside",
    { class: "help-panel", "data-testid": "help-panel", hidden: true, role: "dialog", "aria-label": "Keyboard shortcuts" },
    h("h2", {}, "Shortcuts"),
    h(
      "table",
      {},
      ...shortcuts.shortcuts.map((s) => h("tr", {}, h("td", {}, h("kbd", {}, describeKeys(s.keys))), h("td", {}, s.description))),
    ),
    h("h2", {}, "Mouse"),
    h("table", {}, ...mouse.map(([what, does]) => h("tr", {}, h("td", {}, what), h("td", {}, does)))),
    h("button", { type: "button", onclick: () => (panel.hidden = true) }, "Close"),
  );
  return panel;
}
