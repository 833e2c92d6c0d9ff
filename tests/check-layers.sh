#!/usr/bin/env bash
# check-layers.sh - fails when a file of lib/ includes or calls a file of a higher layer
# (lib/layers.txt), when files of lib/ depend on each other in a circle, when an adapter
# reaches into lib/, or when docs/architecture.md's layer diagram differs from
# lib/layers.txt. Prints every violation with the file, the line and what it reached.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec python3 - "$root" <<'PY'
import os, re, sys
from collections import defaultdict

root = sys.argv[1]
lib = os.path.join(root, "lib")
adapters = os.path.join(root, "adapters")

layer_of, order, listed_headers = {}, [], {}
adapter_includes = set()  # (lib file, adapters header) pairs layers.txt allows
for raw_line in open(os.path.join(lib, "layers.txt")):
    line = raw_line.split("#", 1)[0].rstrip()
    if not line.strip():
        continue
    if line[0].isspace():  # a continuation of the layer above
        files = line
    else:
        name, files = line.split(":", 1)
        if name == "adapters":
            adapter_includes.update(tuple(p.split(":")) for p in files.split())
            continue
        order.append(name)
    for f in files.split():
        if f.endswith(".h"):
            listed_headers[f] = len(order) - 1
        else:
            layer_of[f + ".c"] = layer_of.setdefault(f + ".h", len(order) - 1)
layer_of.update(listed_headers)

problems = []
sources = sorted(f for f in os.listdir(lib) if f.endswith((".c", ".h")))
for f in sources:
    if f not in layer_of:
        problems.append(f"lib/{f}: not in lib/layers.txt")

def module(f):
    """The .c file a source belongs to, for the dependency graph."""
    base = f[:-2]
    return base + ".c" if os.path.exists(os.path.join(lib, base + ".c")) else f

def code_of(path):
    """The source without comments and string literals, so neither is read as a call."""
    t = open(path).read()
    t = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), t, flags=re.S)
    t = re.sub(r"//[^\n]*", "", t)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', t)

def header_code(t):
    """What a header runs: the bodies of its static inline functions, not declarations."""
    return "\n".join(m.group(0) for m in re.finditer(r"static inline[^{;]*\{.*?\n\}", t, re.S))

raw = {f: open(os.path.join(lib, f)).read() for f in sources}
text = {f: code_of(os.path.join(lib, f)) for f in sources}

# what each file defines: functions at the start of a line, and static inlines in headers
definition = re.compile(r"^(?:static inline )?[A-Za-z_][\w \*]*?\b(ulm_{1,2}\w+)\(", re.M)
defined_in = {}
for f, t in raw.items():
    for m in definition.finditer(t):
        line = t[m.start():t.index("\n", m.start())]
        if f.endswith(".h") and not line.startswith("static inline"):
            continue  # a declaration
        if line.rstrip().endswith(";"):
            continue
        defined_in[m.group(1)] = f

call = re.compile(r"\b(ulm_{1,2}\w+)\s*\(")
include = re.compile(r'^#include "([^"]+)"', re.M)
edges = defaultdict(set)
for f, t in text.items():
    mine = layer_of.get(f)
    if mine is None:
        continue
    for m in include.finditer(raw[f]):
        target = m.group(1)
        line = raw[f].count("\n", 0, m.start()) + 1
        if target.startswith("../adapters/"):
            if (f, os.path.basename(target)) not in adapter_includes:
                problems.append(f"lib/{f}:{line}: includes {target}, which lib/layers.txt "
                                "does not let it (adapters:)")
            continue
        if target.startswith("ultrallm/"):
            continue
        theirs = layer_of.get(os.path.basename(target))
        if theirs is None:
            problems.append(f"lib/{f}:{line}: includes {target}, which is in no layer")
        elif theirs > mine:
            problems.append(f"lib/{f}:{line}: includes {target} of layer {order[theirs]}, "
                            f"above its own layer {order[mine]}")
        elif module(target) != module(f):
            edges[module(f)].add(module(target))
    for m in call.finditer(header_code(t) if f.endswith(".h") else t):
        name = m.group(1)
        home = defined_in.get(name)
        if not home or module(home) == module(f):
            continue
        line = t.count("\n", 0, m.start()) + 1
        theirs = layer_of[home]
        if theirs > mine:
            problems.append(f"lib/{f}:{line}: calls {name} of lib/{home} (layer "
                            f"{order[theirs]}), above its own layer {order[mine]}")
        else:
            edges[module(f)].add(module(home))

# circles among files: depth-first search over the graph of modules
state, stack = {}, []
def visit(node):
    state[node] = 1
    stack.append(node)
    for nxt in sorted(edges[node]):
        if state.get(nxt) == 1:
            circle = stack[stack.index(nxt):] + [nxt]
            problems.append("lib/: files depend on each other in a circle: " +
                            " -> ".join(circle))
        elif not state.get(nxt):
            visit(nxt)
    stack.pop()
    state[node] = 2
for node in sorted(list(edges)):
    if not state.get(node):
        visit(node)

for f in sorted(os.listdir(adapters)):
    if not f.endswith((".c", ".h")):
        continue
    t = open(os.path.join(adapters, f)).read()
    for m in include.finditer(t):
        if "lib/" in m.group(1) or "../" in m.group(1):
            line = t.count("\n", 0, m.start()) + 1
            problems.append(f"adapters/{f}:{line}: includes {m.group(1)}; an adapter sees only "
                            "include/ultrallm/provider.h and the helpers of adapters/")

# docs/architecture.md draws the layers, highest first, in the block after its marker
def drawn_layers():
    path = os.path.join(root, "docs", "architecture.md")
    lines = open(path).read().split("\n")
    marker = "<!-- check-layers:"
    start = next((i for i, l in enumerate(lines) if l.startswith(marker)), None)
    if start is None or not lines[start + 1].startswith("```"):
        return None
    drawn = []
    for l in lines[start + 2:]:
        if l.startswith("```"):
            break
        if l[:1].isspace():
            drawn[-1][1].extend(l.split())
        elif l.strip():
            drawn.append((l.split()[0], l.split()[1:]))
    return drawn

listed = [(name, []) for name in order]
for raw_line in open(os.path.join(lib, "layers.txt")):
    line = raw_line.split("#", 1)[0].rstrip()
    if not line.strip() or (not line[0].isspace() and line.split(":", 1)[0] == "adapters"):
        continue
    if line[0].isspace():
        listed[current][1].extend(line.split())
    else:
        current = order.index(line.split(":", 1)[0])
        listed[current][1].extend(line.split(":", 1)[1].split())
drawn = drawn_layers()
if drawn is None:
    problems.append("docs/architecture.md: no layer diagram after a <!-- check-layers: --> line")
elif [(n, sorted(f)) for n, f in drawn] != [(n, sorted(f)) for n, f in reversed(listed)]:
    problems.append("docs/architecture.md: the layer diagram differs from lib/layers.txt, "
                    "which has, highest first: " +
                    "; ".join(n + ": " + " ".join(f) for n, f in reversed(listed)))

if problems:
    print("check-layers: the layer rule of lib/layers.txt is broken:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print(f"check-layers: {len(sources)} files of lib/ in {len(order)} layers, "
      f"{sum(len(v) for v in edges.values())} dependencies, all downward, no circle")
PY
