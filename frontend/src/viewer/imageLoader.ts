/**
 * A Cornerstone image loader and metadata provider for "atrium:<seriesId>:<frame>" image ids, fetching
 * raw pixels from GET /api/series/{id}/frames/{i}/ (headers X-Frame-Shape: H,W and X-Frame-Dtype).
 * Geometry: pixel (r, c) has its centre at world (c * colSpacing, r * rowSpacing, 0), so image
 * coordinates (x = column, y = row) map to world by a plain scale (see `imageToWorld`).
 */
import { Enums, imageLoader, metaData, type Types } from "@cornerstonejs/core";
import type { ApiClient } from "../api/client";
import type { SeriesMeta } from "../api/types";
import { parseFrameImageId, SCHEME } from "./frameIds";
import { decodePixels, type FrameArray, minMax, parseShape } from "./pixels";

const series = new Map<number, SeriesMeta>();
let api: ApiClient | null = null;
let registered = false;

/** Tell the loader about a series before asking Cornerstone for its frames. */
export function registerSeries(meta: SeriesMeta): void {
  series.set(meta.id, meta);
}

function frameSize(meta: SeriesMeta): [number, number] {
  const shape = meta.shape;
  return [shape[shape.length - 2] ?? 0, shape[shape.length - 1] ?? 0];
}

function spacing(meta: SeriesMeta): [number, number] {
  const [row, col] = meta.pixel_spacing_mm ?? [1, 1];
  return [row > 0 ? row : 1, col > 0 ? col : 1];
}

function bits(dtype: string): number {
  return dtype === "uint8" ? 8 : dtype === "float32" ? 32 : 16;
}

function metadataProvider(type: string, ...query: string[]): unknown {
  const imageId = query[0];
  if (imageId === undefined || !imageId.startsWith(`${SCHEME}:`)) return undefined;
  const parsed = parseFrameImageId(imageId);
  if (parsed === null) return undefined;
  const meta = series.get(parsed.seriesId);
  if (meta === undefined) return undefined;
  const [rows, columns] = frameSize(meta);
  const [rowSpacing, colSpacing] = spacing(meta);
  switch (type) {
    case "imagePlaneModule":
      return {
        frameOfReferenceUID: `atrium.series.${meta.id}`,
        rows,
        columns,
        imageOrientationPatient: [1, 0, 0, 0, 1, 0],
        rowCosines: [1, 0, 0],
        columnCosines: [0, 1, 0],
        imagePositionPatient: [0, 0, 0],
        pixelSpacing: [rowSpacing, colSpacing],
        rowPixelSpacing: rowSpacing,
        columnPixelSpacing: colSpacing,
        sliceThickness: meta.slice_thickness_mm ?? 1,
      };
    case "imagePixelModule":
      return {
        samplesPerPixel: 1,
        photometricInterpretation: "MONOCHROME2",
        rows,
        columns,
        bitsAllocated: bits(meta.dtype),
        bitsStored: bits(meta.dtype),
        highBit: bits(meta.dtype) - 1,
        pixelRepresentation: meta.dtype === "int16" ? 1 : 0,
      };
    case "generalSeriesModule":
      return { modality: meta.modality, seriesInstanceUID: `atrium.series.${meta.id}` };
    case "generalImageModule":
      return { instanceNumber: parsed.frame + 1 };
    case "voiLutModule":
      return meta.window ? { windowCenter: [meta.window.center], windowWidth: [meta.window.width] } : undefined;
    case "modalityLutModule":
      return { rescaleSlope: 1, rescaleIntercept: 0 };
    case "cineModule":
      return { frameTime: meta.frame_time_ms ?? undefined };
    default:
      return undefined;
  }
}

function buildImage(imageId: string, meta: SeriesMeta, pixels: FrameArray, rows: number, columns: number): Types.IImage {
  const [lo, hi] = minMax(pixels);
  const [rowSpacing, colSpacing] = spacing(meta);
  const windowWidth = meta.window?.width ?? Math.max(1, hi - lo);
  const windowCenter = meta.window?.center ?? (hi + lo) / 2;
  const dataType = pixels.constructor.name as Types.PixelDataTypedArrayString;
  const image = {
    imageId,
    minPixelValue: lo,
    maxPixelValue: hi,
    slope: 1,
    intercept: 0,
    windowCenter,
    windowWidth,
    voiLUTFunction: Enums.VOILUTFunctionType.LINEAR,
    getPixelData: () => pixels,
    getCanvas: () => {
      throw new Error("atrium images are rendered by the viewport, not as canvases");
    },
    rows,
    columns,
    height: rows,
    width: columns,
    color: false,
    rgba: false,
    numberOfComponents: 1,
    columnPixelSpacing: colSpacing,
    rowPixelSpacing: rowSpacing,
    sliceThickness: meta.slice_thickness_mm ?? 1,
    invert: false,
    photometricInterpretation: "MONOCHROME2",
    sizeInBytes: pixels.byteLength,
    dataType,
    FrameOfReferenceUID: `atrium.series.${meta.id}`,
  } satisfies Types.IImage;
  return image;
}

async function fetchFrame(imageId: string, signal: AbortSignal): Promise<Types.IImage> {
  const parsed = parseFrameImageId(imageId);
  if (parsed === null) throw new Error(`not an atrium image id: ${imageId}`);
  const meta = series.get(parsed.seriesId);
  if (meta === undefined || api === null) throw new Error(`series ${parsed.seriesId} was not registered`);
  const response = await fetch(api.frameUrl(parsed.seriesId, parsed.frame), {
    credentials: "same-origin",
    signal,
  });
  if (!response.ok) throw new Error(`frame ${parsed.frame} of series ${parsed.seriesId}: HTTP ${response.status}`);
  const [rows, columns] = parseShape(response.headers.get("X-Frame-Shape"), frameSize(meta));
  const dtype = response.headers.get("X-Frame-Dtype") ?? meta.dtype;
  const pixels = decodePixels(await response.arrayBuffer(), dtype, (rows ?? 0) * (columns ?? 0));
  return buildImage(imageId, meta, pixels, rows ?? 0, columns ?? 0);
}

function loadAtriumImage(imageId: string): Types.IImageLoadObject {
  const controller = new AbortController();
  return { promise: fetchFrame(imageId, controller.signal), cancelFn: () => controller.abort() };
}

/** Register the loader and the metadata provider once. */
export function registerAtriumLoader(client: ApiClient): void {
  api = client;
  if (registered) return;
  registered = true;
  imageLoader.registerImageLoader(SCHEME, loadAtriumImage as unknown as Types.ImageLoaderFn);
  metaData.addProvider(metadataProvider, 10000);
}

/** World position of an image point (x = column, y = row). */
export function imageToWorld(meta: SeriesMeta, x: number, y: number): Types.Point3 {
  const [rowSpacing, colSpacing] = spacing(meta);
  return [x * colSpacing, y * rowSpacing, 0];
}

export function worldToImage(meta: SeriesMeta, world: Types.Point3): [number, number] {
  const [rowSpacing, colSpacing] = spacing(meta);
  return [world[0] / colSpacing, world[1] / rowSpacing];
}
