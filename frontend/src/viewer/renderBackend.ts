/**
 * Which of Cornerstone's two paths draws the images. With a software WebGL rasteriser (SwiftShader,
 * llvmpipe: no GPU, a VM, a remote desktop, headless Chromium) every frame is drawn on the CPU through
 * WebGL and then read back into the page's canvas, which costs tens of milliseconds; Cornerstone's CPU
 * path draws the same 2D frame directly and is several times faster there. A real GPU keeps WebGL.
 * `localStorage["atrium.rendering"] = "cpu" | "gpu"` overrides the choice. Pure.
 */

export type RenderPath = "cpu" | "gpu";

export function chooseRenderPath(capabilities: { webgl: boolean; softwareRasterizer: boolean }, override: string | null): RenderPath {
  if (override === "cpu" || override === "gpu") return override === "gpu" && !capabilities.webgl ? "cpu" : override;
  return !capabilities.webgl || capabilities.softwareRasterizer ? "cpu" : "gpu";
}

export function storedOverride(): string | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage.getItem("atrium.rendering");
  } catch {
    return null; // storage disabled by the browser's privacy settings
  }
}
