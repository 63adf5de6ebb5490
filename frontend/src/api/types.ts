/** Shapes of the Atrium HTTP API (see API_CONTRACT.md). */
import type { Point } from "../geometry";

export type TaskKind = "cardiac" | "ultrasound" | "recon_review";
export type Structure = "lv_endo" | "lv_epi" | "rv_endo";
export type ContourMode = "spline" | "freehand";

export interface SeriesMeta {
  id: number;
  modality: string;
  layout: "cine" | "clip";
  /** [S, P, H, W] for a cine, [F, H, W] for a clip. */
  shape: number[];
  dtype: "uint8" | "uint16" | "int16";
  pixel_spacing_mm: [number, number];
  slice_thickness_mm?: number | null;
  frame_time_ms?: number | null;
  window?: { center: number; width: number } | null;
  n_frames: number;
}

export interface CaseInfo {
  id: number;
  title: string;
  status: string;
  study: {
    id: number;
    slug: string;
    name: string;
    task_kind: TaskKind;
    blind: boolean;
    label_schema: { planes?: string[]; structures?: string[]; phases?: string[] } & Record<string, unknown>;
  };
  series: SeriesMeta[];
}

export interface ContourData {
  structure: Structure;
  slice: number;
  phase: number;
  /** Vertices (freehand) or spline control points (spline), image pixel coordinates. */
  points: Point[];
  mode: ContourMode;
}

export interface PlaneLabelData {
  plane: string;
  frame_start: number;
  /** Inclusive. */
  frame_stop: number;
}

export interface PhasesData {
  ed_phase: number | null;
  es_phase: number | null;
}

export type AnnotationKind = "contour" | "plane_label" | "phases";

export interface Annotation<D = unknown> {
  id: number;
  kind: AnnotationKind;
  author: { id: number; username: string };
  source: "observer" | "model";
  version: number;
  data: D;
  created_at: string;
  updated_at: string;
  deleted: boolean;
}

export interface FramePrediction {
  frame: number;
  plane: string;
  confidence: number;
  probs?: number[];
}

export interface Prediction {
  id: number;
  model_version: string | number;
  kind: string;
  data: unknown;
}

export interface Me {
  id: number;
  username: string;
  role: string;
}

/** Messages pushed on /ws/cases/{id}/. */
export type CaseEvent =
  | { type: "hello"; group: string }
  | { type: "annotation.saved"; annotation: Annotation }
  | { type: "prediction.new"; prediction?: Prediction; case?: number }
  | {
      type: "job.progress";
      job: number;
      kind?: string;
      state: string;
      progress: number;
      message?: string;
    }
  | { type: "queue.changed" };
