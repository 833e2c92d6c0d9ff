"""Where `cmake --install` put libultrallm: None here, in the source tree, in the sdist and
in the wheels. cmake --install installs this package with a copy of this file that names
the library directory of that install (bindings/python/CMakeLists.txt), so that the
package finds the library installed with it without any environment variable."""

from __future__ import annotations

from typing import Optional

LIBDIR: Optional[str] = None
