#!/usr/bin/env python3
"""Import circles between files, per crate (docs/ARCHITECTURE.md, "Layers").

Builds each crate's file-level import graph from its `use` statements and `crate::` / `super::`
paths (items re-exported by a module are followed to the file that defines them; `#[cfg(test)]`
code and `mod` declarations do not count) and prints every strongly connected component.
Exits 1 if there is any. `V=1` prints the edges of each circle.
Usage: python3 .ci/import_circles.py [SRC_DIR...]"""
import os, re, sys
from collections import defaultdict

ROOTS = sys.argv[1:] or sorted(
    [os.path.join("crates", c, "src") for c in os.listdir("crates")] + ["sim/src", "src"]
)

def modpath(root, f):
    rel = os.path.relpath(f, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)

DEF = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:struct|enum|fn|type|trait|const|static|union|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)
REEXP = re.compile(r"^\s*pub(?:\([^)]*\))?\s+use\s+([^;]+);", re.M)
USE = re.compile(r"(?:^|[^A-Za-z0-9_:])((?:crate|super|self)(?:::(?:super|self))*(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_STMT = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M | re.S)

def strip_comments(s):
    s = re.sub(r"/\*.*?\*/", "", s, flags=re.S)
    s = re.sub(r"//[^\n]*", "", s)
    return s

def expand(tree):
    # expand a use tree into paths
    tree = tree.strip()
    m = re.match(r"^(.*?)::\{(.*)\}$", tree, re.S)
    if m:
        base, inner = m.group(1), m.group(2)
        parts, depth, cur = [], 0, ""
        for ch in inner:
            if ch == "{": depth += 1
            if ch == "}": depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur); cur = ""
            else:
                cur += ch
        if cur.strip(): parts.append(cur)
        out = []
        for p in parts:
            p = p.strip()
            if not p: continue
            if p == "self": out.append(base)
            else: out.extend(expand(base + "::" + p))
        return out
    tree = re.sub(r"\s+as\s+\w+$", "", tree)
    return [tree]

def analyze(root):
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                files[modpath(root, p)] = p
    src = {m: strip_comments(open(p).read()) for m, p in files.items()}
    # drop #[cfg(test)] mod tests { ... } blocks roughly: cut from '#[cfg(test)]' to end
    for m in src:
        i = src[m].find("#[cfg(test)]")
        if i >= 0: src[m] = src[m][:i]
    defs = {m: set(DEF.findall(s)) for m, s in src.items()}
    # inline mods declared `mod x {` count as part of the file
    def resolve(cur, segs):
        # segs: list starting with crate/super/self
        mod = list(cur)
        rest = list(segs)
        if rest[0] == "crate":
            mod = []; rest = rest[1:]
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super": mod = mod[:-1]
            rest = rest[1:]
        # longest module prefix that is a file
        best = tuple(mod)
        m = list(mod)
        for s in rest:
            m.append(s)
            if tuple(m) in files: best = tuple(m)
            else: break
        return best, rest[len(best) - len(mod):] if len(best) >= len(mod) else rest
    def owner(mod, name, depth=0):
        # follow pub use re-exports to the defining file
        if depth > 8 or mod not in src: return mod
        if name in defs[mod]: return mod
        for tree in REEXP.findall(src[mod]):
            for p in expand(tree):
                segs = p.split("::")
                if segs[-1] != name and not segs[-1] == "*": continue
                if segs[0] not in ("crate", "super", "self"):
                    # relative path from a child module (e.g. `pub use membership::X`)
                    segs = ["self"] + segs
                tgt, rest = resolve(mod, segs[:-1] if segs[-1] != "*" else segs[:-1])
                if tgt != mod and tgt in files:
                    return owner(tgt, name, depth + 1)
        return mod
    edges = defaultdict(set)
    for m, s in src.items():
        paths = []
        for tree in USE_STMT.findall(s):
            for p in expand(tree):
                segs = [x.strip() for x in p.split("::")]
                if segs[0] not in ("crate", "super", "self"):
                    # `use child::X` relative to current module
                    if tuple(list(m) + [segs[0]]) in files: segs = ["self"] + segs
                    else: continue
                paths.append(segs)
        for p in USE.findall(USE_STMT.sub("", s)):
            paths.append(p.split("::"))
        for segs in paths:
            tgt, rest = resolve(m, segs)
            if rest and rest[0] not in ("*",):
                tgt = owner(tgt, rest[0])
            if tgt != m and tgt in files:
                edges[m].add(tgt)
    return files, edges

def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)
    def strong(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(comp)
    for v in nodes:
        if v not in index: strong(v)
    return out

total = 0
verbose = os.environ.get("V")
for root in ROOTS:
    if not os.path.isdir(root): continue
    files, edges = analyze(root)
    for comp in sccs(list(files), edges):
        total += 1
        names = sorted("/".join(c) or "lib" for c in comp)
        print(f"{root}: circle of {len(comp)}: {', '.join(names)}")
        if verbose:
            cs = set(comp)
            for a in comp:
                for b in edges[a]:
                    if b in cs: print("    ", "/".join(a) or "lib", "->", "/".join(b) or "lib")
print(f"{total} import circles")
sys.exit(1 if total else 0)
