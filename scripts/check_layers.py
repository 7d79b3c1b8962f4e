#!/usr/bin/env python3
"""Checks that src/ keeps its layered architecture.

The layers, bottom to top; a file may include headers of its own layer and of the layers below:
  0 common         src/common/
  1 server/base    src/server/base/    (the store, the log store, the generic core loop)
  2 server/model   src/server/model/
  3 server/engine  src/server/engine/
  4 server/api     src/server/api/
  5 server         files directly in src/server/ (the HTTP front end, server.c wiring)
src/agent/ and src/cli/ are programs of their own: each may include only common/ and itself.
src/init/ is barge-init, linked alone and statically into an executable of its own: it may
include only itself, not even common/, whose objects it is not linked with.
src/main.c is the top and may include anything.

Rules, each reported with the file, the rule broken and, for an include, its line and path:
  a. no include from a layer into a layer above it;
  b. no include cycle between modules (foo.c and foo.h in one folder are one module, and so is
     foo_internal.h, the private header of foo's files);
  c. agent/ and cli/ include only common/ and their own folder; init/ only its own folder;
  d. no .c or .h file under src/ is longer than MAX_LINES lines.
Every quoted include must also name a file under src/ (includes name their folder from src/),
and every source file must lie in one of the places above.  System includes (<...>) are ignored.

Exit status: 0 when clean, 1 when there are violations (all of them printed), 2 on bad usage.
"""
import argparse
import os
import re
import sys
from collections import defaultdict

MAX_LINES = 800

# Folders of the server's stack, bottom to top, as paths relative to src/.  "server" stands for
# the files directly in src/server/ only; its subfolders are layers of their own.
LAYERS = ["common", "server/base", "server/model", "server/engine", "server/api", "server"]
# Programs beside the server: each may include common/ and itself, nothing else.
ISOLATED = ["agent", "cli"]
# Programs linked apart from barge: each may include only itself.
STANDALONE = ["init"]
MAIN = "main.c"

# Past this many cycles the listing stops: beyond that the first ones are the ones to fix, and a
# tangled graph can hold exponentially many.
MAX_CYCLES = 100

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"\n]*)"', re.MULTILINE)


def strip_comments(text):
    """Blanks out comments, keeping every newline, so that a commented-out include does not count
    and line numbers stay right.  String and character literals are skipped over so that a "/*"
    inside one (a glob, say) does not open a comment."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif c in "\"'":
            # An include's own quotes are a literal too, so literals are copied, not blanked.
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def count_lines(text):
    """Lines as an editor shows them: a last line without its newline still counts."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def place_of(rel):
    """The place of a path relative to src/: a layer name from LAYERS, a name from ISOLATED,
    MAIN, or None when it lies in none of them."""
    folder = os.path.dirname(rel).replace(os.sep, "/")
    if rel == MAIN:
        return MAIN
    if folder in LAYERS:
        return folder
    top = folder.split("/")[0]
    if top in ISOLATED or top in STANDALONE or top == "common":
        return top
    return None


def describe(place):
    if place in LAYERS:
        return "%s (layer %d)" % (place, LAYERS.index(place))
    if place in ISOLATED:
        return "%s/ (a program of its own)" % place
    if place in STANDALONE:
        return "%s/ (an executable of its own)" % place
    return place


def module_of(rel):
    # A module's private header, foo_internal.h, shared by the files that implement foo, is part
    # of foo: including it is foo talking to itself.
    mod = os.path.splitext(rel)[0].replace(os.sep, "/")
    return mod[: -len("_internal")] if mod.endswith("_internal") else mod


def read(path):
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return f.read()


def scan(src):
    """Every .c and .h file under src/, as sorted paths relative to it."""
    files = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".c", ".h")):
                files.append(os.path.relpath(os.path.join(dirpath, name), src).replace(os.sep, "/"))
    return files


def include_rule(src_place, dst_place):
    """None when a file in src_place may include a file in dst_place, else the rule it breaks."""
    if src_place == MAIN:
        return None
    if src_place in STANDALONE:
        if dst_place == src_place:
            return None
        return "%s/ is linked alone and may include only %s/, not even common/" % (
            src_place, src_place)
    if src_place in ISOLATED:
        if dst_place in ("common", src_place):
            return None
        return "%s/ may include only common/ and %s/, never the server's folders or another " \
               "program's" % (src_place, src_place)
    # src_place is a layer of the server's stack.
    if dst_place in LAYERS and LAYERS.index(dst_place) <= LAYERS.index(src_place):
        return None
    if dst_place in LAYERS:
        return "%s may not include %s; register a hook instead" % (
            describe(src_place), describe(dst_place))
    if dst_place is None:
        return "%s may not include a file that lies in no layer" % describe(src_place)
    return "%s may not include %s, which is no layer below it" % (
        describe(src_place), describe(dst_place))


def strongly_connected(graph):
    """Tarjan's algorithm, iterative so that a long include chain cannot overflow the stack.
    Returns the components as sets."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                comps.append(comp)
    return comps


class TooMany(Exception):
    pass


def elementary_cycles(graph, limit):
    """Every elementary cycle of graph (Johnson's algorithm), each as a node list that starts at
    its least node and ends back there.  Raises TooMany, carrying the cycles so far, past limit."""
    cycles = []
    nodes = sorted(graph)
    for s in nodes:
        # Cycles through s that use only nodes from s upwards: each cycle is found once, from its
        # least node.
        sub = {v: {w for w in graph[v] if w >= s} for v in graph if v >= s}
        comp = next(c for c in strongly_connected(sub) if s in c)
        if len(comp) < 2:
            continue
        adj = {v: sorted(w for w in sub[v] if w in comp) for v in comp}
        blocked, blocked_by, path = set(), defaultdict(set), [s]
        blocked.add(s)

        def unblock(u):
            work = [u]
            while work:
                w = work.pop()
                if w in blocked:
                    blocked.discard(w)
                    work.extend(blocked_by.pop(w, ()))

        # Iterative form of Johnson's CIRCUIT: each frame is (node, its next successors, found).
        frames = [[s, iter(adj[s]), False]]
        while frames:
            frame = frames[-1]
            v = frame[0]
            pushed = False
            for w in frame[1]:
                if w == s:
                    cycles.append(path + [s])
                    frame[2] = True
                    if len(cycles) >= limit:
                        raise TooMany(cycles)
                elif w not in blocked:
                    path.append(w)
                    blocked.add(w)
                    frames.append([w, iter(adj[w]), False])
                    pushed = True
                    break
            if pushed:
                continue
            frames.pop()
            if frame[2]:
                unblock(v)
            else:
                for w in adj[v]:
                    blocked_by[w].add(v)
            path.pop()
            if frames:
                frames[-1][2] = frames[-1][2] or frame[2]
    return cycles


def check(root):
    src = os.path.join(root, "src")
    violations = []  # (sort key, message)
    files = scan(src)
    graph = defaultdict(set)
    # The first include (by file and line) behind each edge of the module graph, for messages.
    edge_site = {}
    includes = 0

    for rel in files:
        text = read(os.path.join(src, rel))
        shown = "src/" + rel
        graph[module_of(rel)]  # Every module is a node, includes or not.

        lines = count_lines(text)
        if lines > MAX_LINES:
            violations.append(((shown, 0), "%s: %d lines: a source file may have at most %d; "
                                            "split it" % (shown, lines, MAX_LINES)))

        place = place_of(rel)
        if place is None:
            violations.append(((shown, 0), "%s: lies in no layer: source files belong in %s, "
                               "%s or src/%s (or add its folder to LAYERS in "
                               "scripts/check_layers.py)" % (
                                   shown, ", ".join("src/%s/" % p for p in LAYERS),
                                   ", ".join("src/%s/" % p for p in ISOLATED + STANDALONE),
                                   MAIN)))

        code = strip_comments(text)
        for m in INCLUDE_RE.finditer(code):
            includes += 1
            inc = m.group(1)
            line = code.count("\n", 0, m.start()) + 1
            where = "%s:%d: includes %s" % (shown, line, inc)
            target = os.path.normpath(inc).replace(os.sep, "/")
            if (os.path.isabs(inc) or target.startswith("../") or target == ".."
                    or not os.path.isfile(os.path.join(src, target))):
                hint = ""
                base = os.path.basename(inc)
                matches = [f for f in files if os.path.basename(f) == base]
                if matches:
                    hint = " (did you mean %s?)" % " or ".join(matches)
                violations.append(((shown, line), "%s: names no file under src/; a quoted include "
                                   "names its file from src/, folder first%s" % (where, hint)))
                continue
            if module_of(target) != module_of(rel):
                graph[module_of(rel)].add(module_of(target))
                edge_site.setdefault((module_of(rel), module_of(target)), (shown, line, inc))
            if place is None:
                continue  # Already reported as a file in no layer.
            rule = include_rule(place, place_of(target))
            if rule:
                violations.append(((shown, line), "%s: %s" % (where, rule)))

    cycles, truncated = [], False
    try:
        cycles = elementary_cycles(graph, MAX_CYCLES)
    except TooMany as e:
        cycles, truncated = e.args[0], True
    cycle_msgs = []
    for cyc in sorted(cycles, key=lambda c: (len(c), c)):
        msg = ["cycle: %s: modules may not include one another in a loop; break one of these "
               "includes:" % " -> ".join(cyc)]
        for a, b in zip(cyc, cyc[1:]):
            f, line, inc = edge_site[(a, b)]
            msg.append("    %s:%d: includes %s" % (f, line, inc))
        cycle_msgs.append("\n".join(msg))
    if truncated:
        cycle_msgs.append("cycle listing stopped at %d cycles; break these and run again"
                          % MAX_CYCLES)

    messages = [m for _, m in sorted(violations)] + cycle_msgs
    return messages, len(files), len(graph), includes


def main(argv=None):
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description="Checks that src/ keeps its layered architecture.")
    ap.add_argument("--root", default=default_root,
                    help="the tree to check, the folder that holds src/ (default: %(default)s)")
    args = ap.parse_args(argv)
    if not os.path.isdir(os.path.join(args.root, "src")):
        ap.error("%s has no src/ folder" % args.root)

    messages, nfiles, nmodules, nincludes = check(args.root)
    for m in messages:
        print(m)
    counts = "%d files, %d modules, %d includes checked" % (nfiles, nmodules, nincludes)
    if messages:
        print("layers: %d violation%s; %s" % (len(messages), "" if len(messages) == 1 else "s",
                                              counts))
        return 1
    print("layers: clean; %s" % counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
