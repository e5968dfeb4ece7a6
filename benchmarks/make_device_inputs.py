# SPDX-License-Identifier: Apache-2.0
"""Writes the lattices the GPU check needs into .devicedata/ (the GPU machine has no SimpleITK/VTK):
the demo coarctation phantom lumen and the thoracic-aorta CTA mask at 0.5 mm."""
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "backends"))
from mask_domain import demo_mask_domain, mask_domain  # noqa: E402

out = REPO / ".devicedata"
out.mkdir(exist_ok=True)
demo_mask_domain().save_npz(out / "demo_domain.npz")
aorta = REPO.parent / "shared/data/ts_thoracic_aorta_cta/aorta_report/test_result/models/aorta.nii.gz"
if aorta.exists():
    from hemotwin.bench import aorta_mask

    mask, _ = aorta_mask(0.5, aorta)
    mask_domain(np.asarray(mask) > 0, 0.5e-3).save_npz(out / "aorta_domain.npz")
print(sorted(p.name for p in out.iterdir()))
