# SPDX-License-Identifier: Apache-2.0
"""Imaging stage: the only importer of SimpleITK. Read, de-identify, crop, resample, segment.

Everything returned is an ``ImageVolume`` (numpy array indexed [i, j, k] + physical geometry in
mm, LPS as SimpleITK reports) or plain data; DICOM header fields never leave this package.
"""

from .io import (
    ImageReadError,
    ImageVolume,
    crop,
    crop_to_mask,
    mask_from_labels,
    read_image,
    resample_isotropic,
    write_image,
)
from .segmentation import (
    SegmentationError,
    SegmentationResult,
    apply_clip_planes,
    dice,
    parse_clip_plane,
    segment_lumen,
    vesselness_seeds,
)

__all__ = [
    "ImageReadError",
    "ImageVolume",
    "SegmentationError",
    "SegmentationResult",
    "apply_clip_planes",
    "crop",
    "crop_to_mask",
    "dice",
    "mask_from_labels",
    "parse_clip_plane",
    "read_image",
    "resample_isotropic",
    "segment_lumen",
    "vesselness_seeds",
    "write_image",
]
