#!/usr/bin/env python3
"""api_reference.py - docs/reference.md, every exported function with its header comment,
made from include/ultrallm/*.h, and the check that it is complete and current.

    api_reference.py write ROOT     writes ROOT/docs/reference.md
    api_reference.py check ROOT     fails when docs/reference.md is not what write makes,
                                    when a function of tests/packaging/symbols.txt is not in
                                    it, or when a header declares a function with no comment

A declaration's comment is the comment block right above it, or above the run of
declarations it belongs to (no blank line between them), or the comment after it on its
line; a typedef, #define or blank line ends a run.
"""

import pathlib
import re
import sys

HEADERS = ("ultrallm.h", "provider.h")
SECTION = re.compile(r"^/\* -{3,} (.+?) \*/$")
NAME = re.compile(r"\b(ulm_\w+)\s*\(")


def comment_text(lines):
    """The words of a /* ... */ block, its stars and indentation removed."""
    text = []
    for line in lines:
        line = line.strip()
        line = re.sub(r"^/\*+", "", line)
        line = re.sub(r"\*+/$", "", line)
        line = re.sub(r"^\* ?", "", line.strip())
        text.append(line.strip())
    return " ".join(t for t in text if t).strip()


def parse(path):
    """[(section, name, declaration, comment)] of a header, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, section, comment, i = [], path.name, None, 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        m = SECTION.match(stripped)
        if m:
            section, comment = m.group(1), None
            i += 1
        elif stripped.startswith("/*"):
            block = [line]
            while "*/" not in lines[i]:
                i += 1
                block.append(lines[i])
            comment = comment_text(block)
            i += 1
        elif stripped.startswith("ULM_EXTERN"):
            decl = [stripped]
            while not decl[-1].split("/*")[0].rstrip().endswith(";"):
                i += 1
                part = lines[i].strip()
                if not part.startswith(("#", "__attribute__")):  # compiler-specific
                    decl.append(part)
            text = " ".join(decl)
            trailing = None
            if "/*" in text:
                text, trailing = text.split("/*", 1)
                trailing = comment_text(["/*" + trailing])
            text = re.sub(r"\s+", " ", text.replace("ULM_EXTERN ", "")).strip()
            text = re.sub(r"\s+;$", ";", text)
            name = NAME.search(text).group(1)
            own = " ".join(c for c in (comment, trailing) if c)
            out.append((section, name, text, own))
            i += 1
        else:
            if not stripped or stripped.startswith(("typedef", "#", "}")):
                comment = None
            i += 1
    return out


def render(root):
    parts = ["# Function reference", "",
             "Every function `libultrallm` exports, with the comment its header gives it, in the",
             "headers' order. Made from `include/ultrallm/` by `tests/docs/api_reference.py write`;",
             "ctest `docs.reference` fails when a function is missing, has no comment, or this",
             "page is out of date. How the families fit together: [api.md](api.md).", ""]
    for header in HEADERS:
        parts += ["## `%s`" % header, ""]
        last = None
        for section, name, decl, comment in parse(root / "include" / "ultrallm" / header):
            if section != last and section != header:
                if parts[-1]:
                    parts.append("")
                parts += ["### %s" % section[:1].upper() + section[1:], ""]
                last = section
            parts += ["- `%s`" % decl]
            if comment:
                parts += ["  " + comment]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    root = pathlib.Path(argv[2])
    page = root / "docs" / "reference.md"
    text = render(root)
    if argv[1] == "write":
        page.write_text(text, encoding="utf-8")
        return 0
    problems = []
    declared = {}
    for header in HEADERS:
        for _, name, _, comment in parse(root / "include" / "ultrallm" / header):
            declared[name] = comment
            if not comment:
                problems.append("%s: %s has no comment" % (header, name))
    exported = [line.split()[0] for line in
                (root / "tests" / "packaging" / "symbols.txt").read_text().splitlines()
                if line.startswith("ulm_")]
    for name in exported:
        if name not in declared:
            problems.append("%s is exported but declared in no header" % name)
    written = page.read_text(encoding="utf-8") if page.exists() else ""
    for name in exported:
        if not re.search(r"\b%s\(" % name, written):
            problems.append("docs/reference.md does not document %s" % name)
    if written != text:
        problems.append("docs/reference.md is out of date: run "
                        "python3 tests/docs/api_reference.py write .")
    for p in problems:
        print("reference: " + p)
    print("reference: %d functions, %d exported, %d problems" %
          (len(declared), len(exported), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
