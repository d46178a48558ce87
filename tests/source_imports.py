"""What a Python file imports, read from its source (nothing is run)."""

import ast


def imported_names(path):
    """Every module name an import statement of the file ``path`` names,
    anywhere in it: ``import a.b`` gives "a.b", ``from a import b`` gives
    "a" (relative imports without a module are left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names
