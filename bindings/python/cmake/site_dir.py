"""site_dir.py PREFIX - prints where, relative to PREFIX, cmake --install puts the Python
package by default: the one of this interpreter's site directories that lies in PREFIX's
lib directory (Debian's python3: lib/python3/dist-packages under /usr,
lib/python3.11/dist-packages under /usr/local), so that the interpreter imports it with no
PYTHONPATH; for any other prefix, the standard lib/pythonX.Y/site-packages."""

import os
import site
import sys
import sysconfig


def main() -> int:
    prefix = os.path.realpath(sys.argv[1])
    for directory in site.getsitepackages():
        relative = os.path.relpath(os.path.realpath(directory), prefix)
        # /usr/local/lib/... is under /usr too, but in /usr/local's lib, not /usr's.
        if relative.split(os.sep)[0] == "lib":
            print(relative)
            return 0
    standard = sysconfig.get_path("purelib", "posix_prefix",
                                  vars={"base": prefix, "platbase": prefix})
    print(os.path.relpath(standard, prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
