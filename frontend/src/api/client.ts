/** Thin typed wrapper over fetch for the Atrium API: session cookie + CSRF header on unsafe methods. */
import type { Annotation, AnnotationKind, CaseInfo, Me, PhasesData, Prediction } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

function readCsrfToken(): string {
  if (typeof document === "undefined") return "";
  const meta = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  if (meta?.content) return meta.content;
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie);
  return match?.[1] !== undefined ? decodeURIComponent(match[1]) : "";
}

export class ApiClient {
  constructor(
    readonly base = "/api/",
    private readonly fetchImpl: FetchLike = (input, init) => fetch(input, init),
    private readonly csrf: () => string = readCsrfToken,
  ) {
    if (!this.base.endsWith("/")) this.base += "/";
  }

  url(path: string): string {
    return this.base + path.replace(/^\//, "");
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = this.csrf();
    const init: RequestInit = { method, headers, credentials: "same-origin" };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await this.fetchImpl(this.url(path), init);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!response.ok) {
      const detail =
        typeof parsed === "object" && parsed !== null && "detail" in parsed
          ? String((parsed as { detail: unknown }).detail)
          : `${method} ${path} failed with ${response.status}`;
      throw new ApiError(response.status, parsed, detail);
    }
    return parsed as T;
  }

  me(): Promise<Me> {
    return this.request("GET", "me/");
  }

  getCase(caseId: number): Promise<CaseInfo> {
    return this.request("GET", `cases/${caseId}/`);
  }

  listAnnotations(caseId: number): Promise<Annotation[]> {
    return this.request("GET", `cases/${caseId}/annotations/`);
  }

  createAnnotation<D>(caseId: number, kind: AnnotationKind, data: D): Promise<Annotation<D>> {
    return this.request("POST", `cases/${caseId}/annotations/`, { kind, data });
  }

  updateAnnotation<D>(id: number, data: D, version: number): Promise<Annotation<D>> {
    return this.request("PUT", `annotations/${id}/`, { data, version });
  }

  deleteAnnotation(id: number, version: number): Promise<void> {
    return this.request("DELETE", `annotations/${id}/?version=${version}`);
  }

  setPhases(caseId: number, phases: Partial<PhasesData>): Promise<Annotation<PhasesData>> {
    return this.request("PATCH", `cases/${caseId}/phases/`, phases);
  }

  submit(caseId: number): Promise<{ status: string }> {
    return this.request("POST", `cases/${caseId}/submit/`);
  }

  predictions(caseId: number): Promise<Prediction[]> {
    return this.request("GET", `cases/${caseId}/predictions/`);
  }

  async nextCase(): Promise<number | null> {
    const next = await this.request<{ case_id: number } | undefined>("GET", "queue/next/");
    return next?.case_id ?? null;
  }

  frameUrl(seriesId: number, index: number): string {
    return this.url(`series/${seriesId}/frames/${index}/`);
  }

  heatmapUrl(seriesId: number, index: number): string {
    return this.url(`series/${seriesId}/heatmaps/${index}/`);
  }

  fetchRaw(url: string): Promise<Response> {
    return this.fetchImpl(url, { credentials: "same-origin" });
  }
}
