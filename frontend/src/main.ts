/**
 * Entry point. The case page holds
 *   <div id="atrium-app" data-case-id="42" data-api="/api/" data-ws="/ws/" [data-user-id="7"]></div>
 * and this module mounts the cardiac or the ultrasound page according to the case's study.task_kind.
 */
import "./polyfills";
import "./style.css";
import { ApiClient } from "./api/client";
import { CaseContext } from "./ui/caseContext";
import { CardiacPage } from "./ui/cardiacPage";
import { h } from "./ui/dom";
import { UltrasoundPage } from "./ui/ultrasoundPage";
import { openingFrame } from "./viewer/frameIds";
import { warmFrame } from "./viewer/stackView";

export async function mount(root: HTMLElement): Promise<void> {
  const caseId = Number(root.dataset["caseId"]);
  if (!Number.isInteger(caseId) || caseId <= 0) throw new Error("#atrium-app needs a data-case-id");
  const api = new ApiClient(root.dataset["api"] ?? "/api/");
  const wsBase = root.dataset["ws"] ?? "/ws/";
  root.replaceChildren(h("p", { class: "loading", "data-testid": "loading" }, "Loading case…"));
  const userIdAttr = Number(root.dataset["userId"]);
  // Everything the page needs is asked for at once, and the opening frame as soon as the series is known.
  const annotations = api.listAnnotations(caseId);
  annotations.catch(() => undefined); // awaited (and reported) by ctx.arrive
  const predictions = api.predictions(caseId).catch(() => []);
  const [caseInfo, userId] = await Promise.all([
    api.getCase(caseId),
    Number.isInteger(userIdAttr) && userIdAttr > 0 ? Promise.resolve(userIdAttr) : api.me().then((me) => me.id),
  ]);
  const series = caseInfo.series[0];
  if (series !== undefined) warmFrame(api, series, openingFrame(series));
  // The page (and its first image) goes up now; the annotation list fills it in when it arrives.
  const ctx = new CaseContext(api, caseInfo, userId, null);
  root.replaceChildren();
  root.dataset["taskKind"] = caseInfo.study.task_kind;
  if (caseInfo.study.task_kind === "cardiac") new CardiacPage(root, ctx);
  else if (caseInfo.study.task_kind === "ultrasound") new UltrasoundPage(root, ctx);
  else root.append(h("p", { class: "error" }, `This tool does not handle ${caseInfo.study.task_kind} cases.`));
  await ctx.arrive(annotations, predictions, wsBase);
  root.dataset["ready"] = "true";
}

function start(): void {
  const root = document.getElementById("atrium-app");
  if (root === null) return;
  mount(root).catch((error: unknown) => {
    console.error(error);
    root.replaceChildren(
      h("p", { class: "error", "data-testid": "app-error" }, `Could not open the case: ${error instanceof Error ? error.message : String(error)}`),
    );
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
