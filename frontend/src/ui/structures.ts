import type { Structure } from "../api/types";

export interface StructureInfo {
  id: Structure;
  label: string;
  colour: string;
  hotkey: string;
}

export const STRUCTURES: readonly StructureInfo[] = [
  { id: "lv_endo", label: "LV endo", colour: "#ff5252", hotkey: "1" },
  { id: "lv_epi", label: "LV epi", colour: "#4cd964", hotkey: "2" },
  { id: "rv_endo", label: "RV endo", colour: "#4da3ff", hotkey: "3" },
];

/** Model pre-annotations share one colour (and dashes) so they never pass for the observer's own work. */
export const MODEL_COLOUR = "#ffb020";
export const OTHER_OBSERVER_COLOUR = "#b0b0b0";

export function structureInfo(id: Structure): StructureInfo {
  return STRUCTURES.find((s) => s.id === id) ?? (STRUCTURES[0] as StructureInfo);
}
