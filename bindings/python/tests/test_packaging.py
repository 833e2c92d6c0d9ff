"""Tests of how the package is put together: its version is the C library's, and it looks
for the library in the documented order (ultrallm/_loader.py), trying each place in turn
in a copy of the package run by a fresh interpreter.

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_packaging.py -v
"""

import importlib.metadata
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import ultrallm
from ultrallm import _loader, _native

REPO = pathlib.Path(__file__).resolve().parents[3]
PACKAGE_DIR = pathlib.Path(ultrallm.__file__).resolve().parent


def header_version():
    header = (REPO / "include" / "ultrallm" / "ultrallm.h").read_text(encoding="utf-8")
    return re.search(r'^#define ULM_VERSION_STRING "([^"]+)"', header, re.M).group(1)


class VersionTests(unittest.TestCase):
    def test_the_package_version_is_the_c_librarys(self):
        self.assertEqual(ultrallm.__version__, header_version())

    def test_cmake_builds_the_same_version(self):
        cmake = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
        self.assertEqual(re.search(r"project\(UltraLLM VERSION (\S+)", cmake).group(1),
                         header_version())

    def test_pyproject_takes_the_version_from_the_package(self):
        try:
            import tomllib
        except ImportError:
            self.skipTest("tomllib needs Python 3.11")
        with open(REPO / "bindings" / "python" / "pyproject.toml", "rb") as f:
            pyproject = tomllib.load(f)
        self.assertIn("version", pyproject["project"]["dynamic"])
        self.assertEqual(pyproject["tool"]["setuptools"]["dynamic"]["version"],
                         {"attr": "ultrallm._version.__version__"})

    def test_the_installed_distribution_has_the_version(self):
        try:
            distribution = importlib.metadata.distribution("ultrallm")
        except importlib.metadata.PackageNotFoundError:
            self.skipTest("ultrallm is not installed as a distribution (source tree or "
                          "cmake --install)")
        installed = pathlib.Path(distribution.locate_file("ultrallm/__init__.py")).resolve()
        if installed != pathlib.Path(ultrallm.__file__).resolve():
            self.skipTest("the installed distribution is not the package under test")
        self.assertEqual(distribution.version, header_version())


class LookupOrderTests(unittest.TestCase):
    """Each test puts the library in two places and checks that the earlier one wins."""

    # Variables that steer the lookup; each test sets its own.
    STEERING = ("ULTRALLM_LIBRARY", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR",
                "PYTHONPATH")

    def setUp(self):
        if not os.path.isabs(_native.LIBRARY.path):
            self.skipTest("the library under test was opened by name, not by a path to copy")
        directory = tempfile.TemporaryDirectory(prefix="ultrallm-lookup-")
        self.addCleanup(directory.cleanup)
        self.tmp = pathlib.Path(directory.name)
        self.package = self.tmp / "site" / "ultrallm"
        shutil.copytree(PACKAGE_DIR, self.package,
                        ignore=shutil.ignore_patterns("__pycache__", "libultrallm*"))
        self.set_config_libdir(None)
        self.libdir = self.tmp / "lib"
        self.libdir.mkdir()
        shutil.copy(_native.LIBRARY.path, self.libdir / _loader.SONAME)
        # An empty search path: no ultra-llm.pc of the system is found.
        self.no_pc = self.tmp / "no-pc"
        self.no_pc.mkdir()

    def set_config_libdir(self, libdir):
        (self.package / "_config.py").write_text("LIBDIR = %r\n" % libdir, encoding="utf-8")

    def put_beside(self, content=None):
        beside = self.package / _loader.SONAME
        if content is None:
            shutil.copy(self.libdir / _loader.SONAME, beside)
        else:
            beside.write_bytes(content)

    def write_pc(self):
        pc = self.tmp / "pc"
        pc.mkdir()
        (pc / "ultra-llm.pc").write_text(
            "libdir=%s\nName: ultra-llm\nDescription: test\nVersion: 0.1.0\n"
            "Libs: -L${libdir} -lultrallm\n" % self.libdir, encoding="utf-8")
        return str(pc)

    def run_import(self, **variables):
        env = {k: v for k, v in os.environ.items() if k not in self.STEERING}
        env.update(PYTHONPATH=str(self.package.parent), PKG_CONFIG_LIBDIR=str(self.no_pc))
        env.update(variables)
        return subprocess.run(
            [sys.executable, "-c", "import ultrallm._native as n; print(n.LIBRARY.origin)"],
            env=env, cwd=self.tmp, capture_output=True, text=True, timeout=60)

    def origin(self, **variables):
        result = self.run_import(**variables)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def loader_finds_a_system_copy(self):
        return self.run_import().returncode == 0

    def test_the_environment_variable_comes_first(self):
        self.put_beside()
        self.assertEqual(self.origin(ULTRALLM_LIBRARY=str(self.libdir / _loader.SONAME)),
                         "from ULTRALLM_LIBRARY")

    def test_then_a_copy_beside_the_package(self):
        self.put_beside()
        self.set_config_libdir(str(self.libdir))
        self.assertEqual(self.origin(), "beside the package")

    def test_then_the_libdir_cmake_install_recorded(self):
        self.set_config_libdir(str(self.libdir))
        self.assertEqual(self.origin(LD_LIBRARY_PATH=str(self.libdir)),
                         "the libdir of cmake --install")

    def test_then_the_dynamic_loader(self):
        self.assertEqual(self.origin(LD_LIBRARY_PATH=str(self.libdir),
                                     PKG_CONFIG_PATH=self.write_pc()),
                         "found by the dynamic loader")

    def test_then_pkg_configs_libdir(self):
        if shutil.which("pkg-config") is None:
            self.skipTest("no pkg-config")
        if self.loader_finds_a_system_copy():
            self.skipTest("the dynamic loader finds an installed libultrallm first")
        self.assertEqual(self.origin(PKG_CONFIG_PATH=self.write_pc()), "in pkg-config's libdir")

    def test_nothing_found_names_every_place_tried(self):
        if self.loader_finds_a_system_copy():
            self.skipTest("the dynamic loader finds an installed libultrallm")
        result = self.run_import()
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("LibraryLoadError", result.stderr)
        for line in ("1. $ULTRALLM_LIBRARY: not set",
                     "2. beside the package: no %s" % _loader.SONAME,
                     "3. the libdir of cmake --install: this package was not installed by it",
                     "4. the dynamic loader: %s" % _loader.SONAME,
                     "5. pkg-config --variable=libdir ultra-llm: "):
            self.assertIn(line, result.stderr)

    def test_a_library_found_but_not_loadable_is_reported_not_passed_over(self):
        self.put_beside(b"not a shared library")
        self.set_config_libdir(str(self.libdir))
        result = self.run_import()
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("cannot load %s (beside the package)" % (self.package / _loader.SONAME),
                      result.stderr)


if __name__ == "__main__":
    unittest.main()
