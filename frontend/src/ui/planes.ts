/** The 14 ultrasound classes (13 standard planes + background), in the model's (SonoNet) order. */
export const DEFAULT_PLANES: readonly string[] = [
  "3VV",
  "4CH",
  "Abdominal",
  "Background",
  "Brain (Cb.)",
  "Brain (Tv.)",
  "Femur",
  "Kidneys",
  "Lips",
  "LVOT",
  "Profile",
  "RVOT",
  "Spine (cor.)",
  "Spine (sag.)",
];

export const BACKGROUND = "Background";

/** Distinct hues for the timeline, by class index. */
export function planeColour(index: number): string {
  return index < 0 ? "#666" : `hsl(${Math.round((index * 360) / 14)}, 70%, 55%)`;
}
