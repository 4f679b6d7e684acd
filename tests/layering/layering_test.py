#!/usr/bin/env python3
"""ctest `layering`: every file includes only the modules its own module declares.

Usage: layering_test.py GRAPH SOURCE_ROOT

GRAPH is written by tests/CMakeLists.txt at configure time: one line per
target, "target: dep dep ...", with the hm_* libraries each target links
directly (libcommon/CMakeLists.txt declares them). A module may include its
own headers and those of every module it reaches through that graph. The
rules checked:
  - libcommon/{include/hm,src}/<module>/ includes only "hm/<m>/..." headers
    of modules hm_<module> reaches (hm/wire/ is hm_wire, the schemas);
  - torch headers (<torch/...>, <ATen/...>, <c10/...>) only where the module
    reaches hm_torch (DESIGN: they stay out of base, io, dht...);
  - tools/<tool>/ and tests/unit/<module>/ likewise, by their program's links;
  - no tool includes another tool's files;
  - the graph has no cycle.
Prints one line per violation, naming the file, the line and what it may
include, and exits 1; exits 0 when there is none.
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
TORCH_HEADERS = ("torch/", "ATen/", "c10/")


def read_graph(path):
    graph = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.strip():
            continue
        target, _, deps = line.partition(":")
        graph[target.strip()] = deps.split()
    return graph


def find_cycle(graph):
    """A list of targets forming a cycle, or None."""
    state = {}  # target -> 1 visiting, 2 done

    def visit(node, path):
        state[node] = 1
        for dep in graph.get(node, []):
            if state.get(dep) == 1:  # on the current path: a cycle
                return path[path.index(dep):] + [dep]
            if dep not in state:
                cycle = visit(dep, path + [dep])
                if cycle:
                    return cycle
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            cycle = visit(node, [node])
            if cycle:
                return cycle
    return None


def reach(graph, target):
    """Every target `target` links, directly or not, itself included."""
    seen, todo = {target}, [target]
    while todo:
        for dep in graph.get(todo.pop(), []):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def module_of_target(target):
    return target[len("hm_"):] if target.startswith("hm_") else None


def check_files(files, target, graph, root, tools):
    """Violations in `files`, which belong to `target`."""
    reachable = reach(graph, target)
    modules = {module_of_target(t) for t in reachable if module_of_target(t)}
    allowed = ", ".join(sorted(modules))
    problems = []
    for path in files:
        rel = path.relative_to(root)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            header = match.group(2)
            where = f"{rel}:{number}"
            if header.startswith("hm/"):
                module = header.split("/")[1]
                if module not in modules:
                    problems.append(f"{where}: includes {header}, but {target} does not link "
                                    f"hm_{module} (it reaches: {allowed})")
            elif header.startswith(TORCH_HEADERS) and "torch" not in modules:
                problems.append(f"{where}: includes <{header}>, but {target} does not link "
                                f"hm_torch (torch headers stay out of {allowed})")
            elif match.group(1) == '"' and "/" in header:
                other = header.split("/")
                if ".." in other and any(tool in other for tool in tools):
                    problems.append(f"{where}: includes {header}, another tool's file")
    return problems


def sources(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix in (".h", ".cpp", ".hpp", ".cc"))


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    graph = read_graph(sys.argv[1])
    root = pathlib.Path(sys.argv[2]).resolve()
    problems = []
    cycle = find_cycle(graph)
    if cycle:
        problems.append("the module graph has a cycle: " + " -> ".join(cycle))
    lib = root / "libcommon"
    tools = sorted(p.name for p in (root / "tools").iterdir() if p.is_dir())
    checked = 0
    for target in sorted(graph):
        module = module_of_target(target)
        if module and module.endswith("_tests"):
            files = sources(root / "tests" / "unit" / module[: -len("_tests")])
        elif module:
            files = sources(lib / "include" / "hm" / module) + sources(lib / "src" / module)
        elif target in tools:
            files = sources(root / "tools" / target)
        else:
            continue
        checked += len(files)
        problems += check_files(files, target, graph, root, tools)
    # A folder that no target owns would escape the check.
    for folder in sorted((lib / "src").iterdir()):
        if folder.is_dir() and f"hm_{folder.name}" not in graph:
            problems.append(f"libcommon/src/{folder.name}/: no module hm_{folder.name} declares it")
    for line in problems:
        print(f"layering: {line}")
    if problems:
        return 1
    print(f"layering: {checked} files of {len(graph)} targets include only what they declare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
