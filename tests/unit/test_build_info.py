# SPDX-License-Identifier: Apache-2.0
"""The build contract of the CUDA backend: AUTO compiles it wherever nvcc is found, and says what it built."""
import shutil

import hemotwin


def test_build_info_names_what_was_compiled():
    info = hemotwin.build_info()
    assert isinstance(info["cuda_compiled"], bool)
    assert info["cuda_option"] in {"AUTO", "ON", "OFF", "EMULATE"}
    archs = info["cuda_architectures"]
    assert info["cuda_emulated"] == (info["cuda_option"] == "EMULATE")
    if info["cuda_emulated"]:
        # the developer check of cuda/ on the CPU (cuda/emulation): no GPU code at all
        assert info["cuda_compiled"] and archs == ["cpu-emulation"], info
    elif info["cuda_compiled"]:
        # Hopper machine code plus a portable PTX fallback (issue 6).
        assert "90-real" in archs and any(a.endswith("virtual") for a in archs), archs
    else:
        assert archs == []
        assert info["cuda_option"] != "ON", "HEMOTWIN_CUDA=ON must fail the build, not drop CUDA"


def test_auto_build_compiles_cuda_wherever_nvcc_is_on_the_path():
    info = hemotwin.build_info()
    nvcc = shutil.which("nvcc")
    if info["cuda_option"] == "AUTO" and nvcc:
        # A plain `pip install .` on a machine with nvcc and no GPU (CI's) must build the backend.
        assert info["cuda_compiled"], f"nvcc at {nvcc} but the AUTO build left CUDA out"
    if info["cuda_option"] == "OFF":
        assert not info["cuda_compiled"]


def test_cuda_available_is_false_without_a_compiled_backend():
    if not hemotwin.build_info()["cuda_compiled"]:
        assert hemotwin.cuda_available() is False
    else:
        assert isinstance(hemotwin.cuda_available(), bool)
