/** The save indicator and the conflict banner (reload theirs / keep mine), fed by a Saver. */
import type { Saver, SaverState } from "../state/saver";
import { clear, h } from "./dom";

const LABELS: Record<SaverState["status"], string> = {
  saved: "saved",
  saving: "saving",
  conflict: "conflict",
  error: "error",
};

export function mountSaveStatus(saver: Saver): { status: HTMLElement; banner: HTMLElement } {
  const status = h("span", { class: "save-status", "data-testid": "save-status", "aria-live": "polite" });
  const banner = h("div", { class: "conflict-banner", "data-testid": "conflict-banner", hidden: true });
  saver.onChange((state) => {
    status.textContent = LABELS[state.status];
    status.dataset["state"] = state.status;
    status.title = state.error ?? "";
    clear(banner);
    if (state.conflicts.length > 0) {
      banner.hidden = false;
      for (const conflict of state.conflicts) {
        banner.appendChild(
          h(
            "div",
            { class: "conflict" },
            h("strong", {}, "Save conflict. "),
            conflict.message,
            " ",
            h("button", { type: "button", "data-testid": "conflict-keep-mine", onclick: () => void saver.resolve(conflict.key, "mine") }, "Keep mine (overwrite)"),
            " ",
            h("button", { type: "button", "data-testid": "conflict-load-theirs", onclick: () => void saver.resolve(conflict.key, "theirs") }, "Load theirs"),
          ),
        );
      }
    } else if (state.status === "error") {
      banner.hidden = false;
      banner.appendChild(
        h(
          "div",
          { class: "conflict" },
          h("strong", {}, "Not saved: "),
          state.error ?? "unknown error",
          ". Your work is kept in this page. ",
          h("button", { type: "button", "data-testid": "save-retry", onclick: () => void saver.retry() }, "Retry"),
        ),
      );
    } else {
      banner.hidden = true;
    }
  });
  // Nothing is ever lost silently: warn before leaving with unsaved edits.
  window.addEventListener("beforeunload", (event) => {
    if (saver.state().status !== "saved") {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  return { status, banner };
}
