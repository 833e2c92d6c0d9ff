"""setup.py - what pyproject.toml cannot say: a wheel built with libultrallm.so.0 copied
into the package (build-dists.sh does that) holds machine code, so it is built as a
platform wheel, tagged for this platform only (py3-none-linux_x86_64 here: ctypes needs no
particular Python or ABI), instead of as pure Python (py3-none-any)."""

import pathlib

from setuptools import Distribution, setup
from wheel.bdist_wheel import bdist_wheel

BUNDLED = (pathlib.Path(__file__).parent / "ultrallm" / "libultrallm.so.0").exists()


class LibraryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        # True makes the wheel a platform wheel whose files go to platlib.
        return BUNDLED


class BdistWheel(bdist_wheel):
    def get_tag(self) -> tuple[str, str, str]:
        python, abi, platform = super().get_tag()
        return ("py3", "none", platform) if BUNDLED else (python, abi, platform)


setup(distclass=LibraryDistribution, cmdclass={"bdist_wheel": BdistWheel})
