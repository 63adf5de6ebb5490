"""DICOM and NIfTI ingest, series assembly, the pixel store and frame serving."""
