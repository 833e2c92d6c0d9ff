# install_config.cmake - runs during cmake --install, after the package's files: installs
# the package's _config.py naming the absolute libdir of this install, which only now is
# known (cmake --install --prefix may differ from CMAKE_INSTALL_PREFIX at configure time).
# Set by the install(CODE) before it: ULM_PYTHON_LIBDIR, ULM_PYTHON_PACKAGE_DIR (each
# absolute or relative to the prefix) and ULM_PYTHON_STAGE, a scratch directory of the build.
foreach(var ULM_PYTHON_LIBDIR ULM_PYTHON_PACKAGE_DIR)
  if(NOT IS_ABSOLUTE "${${var}}")
    set(${var} "${CMAKE_INSTALL_PREFIX}/${${var}}")
  endif()
endforeach()
# A Python string literal of the libdir.
string(REPLACE "\\" "\\\\" libdir "${ULM_PYTHON_LIBDIR}")
string(REPLACE "\"" "\\\"" libdir "${libdir}")
file(WRITE "${ULM_PYTHON_STAGE}/_config.py"
  "\"\"\"Where `cmake --install` put libultrallm: written by that install.\"\"\"\n\n"
  "from __future__ import annotations\n\n"
  "from typing import Optional\n\n"
  "LIBDIR: Optional[str] = \"${libdir}\"\n")
# file(INSTALL) rather than a write in place: it is listed in install_manifest.txt.
file(INSTALL "${ULM_PYTHON_STAGE}/_config.py"
  DESTINATION "$ENV{DESTDIR}${ULM_PYTHON_PACKAGE_DIR}")
