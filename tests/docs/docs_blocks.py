#!/usr/bin/env python3
"""docs_blocks.py - the C snippets and shell commands of Markdown files, ready to compile and run.

    docs_blocks.py OUT_DIR FILE.md...

For every fenced block of language `c` or `sh`, writes into OUT_DIR (standard library only):

- a C snippet as NNN.c, ready to compile: a whole program (one with main()) as it is;
  anything else as a fragment placed in a wrapper, its function definitions at file scope
  and its other lines inside main(), after declarations of the variables fragments use
  without declaring (`client`, `req`, `resp`); a line that is only `...` is dropped;
- a shell block as one NNN.sh per command (lines ending in a backslash joined, comment
  lines dropped, blank lines between commands).

It prints one line per item, tab-separated: KIND ID WHERE DETAIL, where WHERE is
FILE:LINE, and KIND is `c-program`, `c-fragment`, `sh` (DETAIL: the command's first line),
`c-skipped` (DETAIL: why), `save` (DETAIL: the file name; ID.raw holds the block as
written), `output` (DETAIL: a command; ID.out holds the block, the output it must
print), `layout` (ID.out holds the block) or `config` (ID.json holds the block).

A comment on the line before a fence tells this script more (keep these rare, each with
its reason in the Markdown):

    <!-- docs-test: save as NAME, REASON -->    also write the block as NAME for the
                                                commands to use
    <!-- docs-test: not compiled: REASON -->    an illustration that is not C as such
    <!-- docs-test: output of COMMAND -->       a block of any language that is exactly
                                                what COMMAND prints
    <!-- docs-test: layout, REASON -->          a tree's layout: a path at the start of a
                                                line, then what it holds
    <!-- docs-test: configuration file, REASON -->  a JSON configuration file that a
                                                client must accept
"""
import os
import re
import sys

FENCE = re.compile(r"^\s*```(\w*)\s*$")
MARK = re.compile(r"^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
# a function definition's first line at file scope: "static int f(...)" without a ";"
FUNCTION_HEAD = re.compile(r"^[A-Za-z_][\w \t\*]*\b[A-Za-z_]\w*\s*\([^;]*\)?\s*\{?\s*$")
WRAPPER_VARIABLES = (("ulm_client", "client"), ("ulm_request", "req"), ("ulm_response", "resp"))


def blocks(path):
    """(language, first line number, lines, mark) of each fenced block of path."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        language, start = m.group(1), i + 1
        previous = lines[i - 1] if i else ""
        mark = MARK.match(previous)
        end = start
        while end < len(lines) and not FENCE.match(lines[end]):
            end += 1
        yield language, start + 1, lines[start:end], mark.group(1) if mark else None
        i = end + 1


def shell_commands(first_line, lines):
    """(line number, command) of each command of a shell block."""
    command, at = [], None
    for number, line in enumerate(lines, first_line):
        stripped = line.strip()
        if not command and (not stripped or stripped.startswith("#")):
            continue
        if at is None:
            at = number
        command.append(line)
        if not line.rstrip().endswith("\\"):
            yield at, "\n".join(command)
            command, at = [], None
    if command:
        yield at, "\n".join(command)


def c_source(path, first_line, lines):
    """(kind, compilable source) of a C snippet."""
    text = "\n".join(lines)
    if re.search(r"\bint\s+main\s*\(", text):
        return "c-program", '#line %d "%s"\n%s\n' % (first_line, path, text)
    outside, inside = [], []
    depth, in_function = 0, False
    for number, line in enumerate(lines, first_line):
        if depth == 0 and not in_function:
            if line.strip() == "...":
                continue
            in_function = bool(FUNCTION_HEAD.match(line)) and not line.startswith((" ", "\t"))
        (outside if in_function else inside).append((number, line))
        depth += line.count("{") - line.count("}")
        if in_function and depth == 0 and "}" in line:
            in_function = False
    declared = [(t, n) for t, n in WRAPPER_VARIABLES
                if re.search(r"\b%s\b" % n, text) and not re.search(r"\b%s\s*\*\s*%s\b" % (t, n), text)]
    out = ["#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>",
           "#include <ultrallm/ultrallm.h>"]
    for number, line in outside:
        out.append('#line %d "%s"' % (number, path))
        out.append(line)
    out.append("int main(void)\n{")
    out.extend("    %s *%s = NULL;" % d for d in declared)
    for number, line in inside:
        out.append('#line %d "%s"' % (number, path))
        out.append(line)
    out.append("    return 0;\n}\n")
    return "c-fragment", "\n".join(out)


def main(argv):
    out_dir, paths = argv[1], argv[2:]
    count = 0
    for path in paths:
        for language, first_line, lines, mark in blocks(path):
            where = "%s:%d" % (path, first_line)
            if mark and mark.startswith("configuration file"):
                count += 1
                with open(os.path.join(out_dir, "%03d.json" % count), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                print("config\t%03d\t%s\t-" % (count, where))
                continue
            if mark and mark.startswith("layout"):
                count += 1
                with open(os.path.join(out_dir, "%03d.out" % count), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                print("layout\t%03d\t%s\t-" % (count, where))
                continue
            if mark and mark.startswith("output of "):
                count += 1
                with open(os.path.join(out_dir, "%03d.out" % count), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                print("output\t%03d\t%s\t%s" % (count, where, mark[len("output of "):]))
                continue
            if language not in ("c", "sh"):
                continue
            if mark and mark.startswith("save as "):
                count += 1
                with open(os.path.join(out_dir, "%03d.raw" % count), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                name = mark[len("save as "):].split()[0].rstrip(",")
                print("save\t%03d\t%s\t%s" % (count, where, name))
            elif mark and mark.startswith("not compiled:"):
                print("c-skipped\t-\t%s\t%s" % (where, mark[len("not compiled:"):].strip()))
                continue
            elif mark:
                sys.exit("%s: unknown docs-test mark: %s" % (where, mark))
            if language == "c":
                count += 1
                kind, source = c_source(path, first_line, lines)
                with open(os.path.join(out_dir, "%03d.c" % count), "w", encoding="utf-8") as f:
                    f.write(source)
                print("%s\t%03d\t%s\t-" % (kind, count, where))
                continue
            for number, command in shell_commands(first_line, lines):
                count += 1
                with open(os.path.join(out_dir, "%03d.sh" % count), "w", encoding="utf-8") as f:
                    f.write(command + "\n")
                print("sh\t%03d\t%s:%d\t%s" % (count, path, number, command.split("\n")[0]))


if __name__ == "__main__":
    main(sys.argv)
