/** What both case pages share: the API, the case, the store and its saver, live updates, submit. */
import type { ApiClient } from "../api/client";
import type { Annotation, CaseEvent, CaseInfo, Prediction, SeriesMeta } from "../api/types";
import { Saver } from "../state/saver";
import { store } from "../state/store";
import { resyncAnnotations } from "../ws/resync";
import { ReconnectingSocket, socketUrl } from "../ws/socket";
import { h, toast } from "./dom";
import { mountSaveStatus } from "./saveStatus";

export interface MountOptions {
  api: ApiClient;
  caseInfo: CaseInfo;
  userId: number;
  wsBase: string;
}

export class CaseContext {
  readonly saver: Saver;
  readonly series: SeriesMeta;
  readonly statusEl: HTMLElement;
  readonly bannerEl: HTMLElement;
  readonly jobEl: HTMLElement;
  predictions: Prediction[] = [];
  private socket: ReconnectingSocket<CaseEvent> | null = null;
  private predictionListeners = new Set<() => void>();

  constructor(
    readonly api: ApiClient,
    readonly caseInfo: CaseInfo,
    readonly userId: number,
    /** null: the list is still on its way; `arrive` brings it. */
    annotations: Annotation[] | null,
  ) {
    const series = caseInfo.series[0];
    if (series === undefined) throw new Error(`case ${caseInfo.id} has no series`);
    this.series = series;
    if (annotations === null) store.beginLoading(userId);
    else store.load(annotations, userId);
    this.saver = new Saver(store, api, caseInfo.id);
    const { status, banner } = mountSaveStatus(this.saver);
    this.statusEl = status;
    this.bannerEl = banner;
    this.jobEl = h("span", { class: "job-progress", "data-testid": "job-progress" });
  }

  static async load(options: MountOptions): Promise<CaseContext> {
    const annotations = await options.api.listAnnotations(options.caseInfo.id);
    const context = new CaseContext(options.api, options.caseInfo, options.userId, annotations);
    await context.reloadPredictions();
    context.connect(options.wsBase);
    return context;
  }

  /**
   * Bring in what was still on its way when the page was mounted (so a big case's first image never
   * waits for its annotation list), then start live updates, which must not race the list.
   */
  async arrive(annotations: Promise<Annotation[]>, predictions: Promise<Prediction[]>, wsBase: string): Promise<void> {
    const [list, models] = await Promise.all([annotations, predictions]);
    // The opening image goes to the screen first; indexing and drawing a big list waits one frame.
    await new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    this.predictions = models;
    store.load(list, this.userId); // the pages redraw with the predictions too
    if (models.length > 0) for (const listener of this.predictionListeners) listener();
    this.connect(wsBase);
  }

  async reloadPredictions(): Promise<void> {
    try {
      this.predictions = await this.api.predictions(this.caseInfo.id);
    } catch {
      // Blind studies may hide the model, and a study without a model has none: both are fine.
      this.predictions = [];
    }
    for (const listener of this.predictionListeners) listener();
  }

  onPredictions(listener: () => void): void {
    this.predictionListeners.add(listener);
  }

  private connect(wsBase: string): void {
    const base = wsBase.endsWith("/") ? wsBase : `${wsBase}/`;
    this.socket = new ReconnectingSocket<CaseEvent>(
      socketUrl(`${base}cases/${this.caseInfo.id}/`),
      (event) => this.handle(event),
      { onReconnect: () => void this.catchUp() },
    );
  }

  /** After a websocket gap: re-read what the missed events would have carried. */
  async catchUp(): Promise<void> {
    try {
      await resyncAnnotations(store, this.api, this.caseInfo.id);
    } catch {
      // The server is still coming back; the next reconnect tries again.
    }
    await this.reloadPredictions();
  }

  handle(event: CaseEvent): void {
    switch (event.type) {
      case "annotation.saved":
        store.applyRemote(event.annotation);
        break;
      case "prediction.new":
        void this.reloadPredictions().then(() => toast("New model predictions arrived"));
        break;
      case "job.progress":
        this.jobEl.textContent = `${event.kind ?? "job"} ${event.state} ${Math.round(event.progress * 100)}%${event.message ? ` · ${event.message}` : ""}`;
        break;
      default:
        break;
    }
  }

  /** Save everything, then mark the case submitted. Returns whether it worked. */
  async submit(): Promise<boolean> {
    await this.saver.flush();
    if (this.saver.state().status !== "saved") {
      toast("Resolve the unsaved changes before submitting.", "warn");
      return false;
    }
    try {
      await this.api.submit(this.caseInfo.id);
      return true;
    } catch (error) {
      toast(`Could not submit: ${error instanceof Error ? error.message : String(error)}`, "error");
      return false;
    }
  }

  /** The submit button, and the "next case" link that appears after a submit. */
  submitControls(): HTMLElement {
    const next = h("button", {
      type: "button",
      class: "next-case",
      "data-testid": "next-case",
      hidden: true,
      onclick: () => void this.goNext(),
    }, "Next case");
    const submit = h("button", {
      type: "button",
      class: "primary",
      "data-testid": "submit-case",
      onclick: async () => {
        submit.disabled = true;
        if (await this.submit()) {
          submit.textContent = "Submitted";
          submit.dataset["state"] = "submitted";
          next.hidden = false;
          toast("Case submitted");
        } else submit.disabled = false;
      },
    }, this.caseInfo.status === "submitted" || this.caseInfo.status === "complete" ? "Submit again" : "Submit case");
    return h("span", { class: "submit-controls" }, submit, " ", next);
  }

  private async goNext(): Promise<void> {
    const id = await this.api.nextCase();
    if (id === null) toast("Your queue is empty.");
    else window.location.assign(`/cases/${id}/`);
  }

  destroy(): void {
    this.socket?.close();
    this.saver.dispose();
    store.reset();
  }
}
