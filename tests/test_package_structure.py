"""The package's shape (issue 26): one place for run-directory paths, no import cycles.
Reads the source only: no TensorFlow."""
import ast
import pathlib
import unittest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_initstudy"
# Modules that join paths of their own kind: the run directory's, and the datasets' files.
PATH_OWNERS = ("rundir.py", "datasets/")


def modules():
    """{dotted module name: parsed source} of every module in the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        found[name] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def imported(name, tree, known):
    """The package modules `name` imports, at any depth of its code (function-local imports too)."""
    package = name if tree is not None and name in known and known[name][0].name == "__init__.py" else \
        name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                if f"{base}.{a.name}" in known:
                    found.add(f"{base}.{a.name}")
                elif base in known:
                    found.add(base)
    return found - {name}


def cycles(graph):
    """Every strongly connected set of more than one module (Tarjan)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


class PackageStructureTest(unittest.TestCase):

    def test_only_the_run_directory_module_builds_run_directory_paths(self):
        offenders = []
        for name, (path, tree) in modules().items():
            rel = path.relative_to(PACKAGE).as_posix()
            if rel.startswith(PATH_OWNERS):
                continue
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "join" and ast.unparse(node.func.value) == "os.path"):
                    offenders.append(f"{rel}:{node.lineno}")
        self.assertEqual(offenders, [], "paths are the run directory's (rundir.RunDir) or an output file's "
                                        "(rundir.output_file)")

    def test_the_import_graph_has_no_cycle(self):
        known = modules()
        graph = {name: imported(name, tree, known) for name, (_, tree) in known.items()}
        self.assertEqual(cycles(graph), [])


if __name__ == "__main__":
    unittest.main()
