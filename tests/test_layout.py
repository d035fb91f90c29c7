"""The package's layout follows the pipeline: each stage imports only the stages before it.

audio -> frontend -> data -> augment -> nn -> train -> predict -> the lessons -> the command line, on a base
of errors, files, configuration reading, defaults and the device. Every import counts, also one inside a
function: a late import hides a dependency, it does not remove it.
"""

import ast
import subprocess
import sys
from pathlib import Path

import tympan

PACKAGE = Path(tympan.__file__).parent
# stage order; a module may import its own stage and those before it
STAGES = [
    ("tympan.errors", "tympan.files", "tympan.config", "tympan.defaults", "tympan.device", "tympan.registry"),
    ("tympan.audio",),
    ("tympan.frontend",),
    ("tympan.data",),
    ("tympan.augment",),
    ("tympan.nn", "tympan.model_file"),
    ("tympan.display",),
    ("tympan.train",),
    ("tympan.predict",),
    ("tympan.lab",),
    ("tympan.serve",),
    ("tympan.cli", "tympan.__main__"),
]


def stage_of(module: str) -> int | None:
    """The stage of a module: the longest stage prefix it falls under. The package root is the public face,
    which may re-export from any stage: it has none."""
    for number, prefixes in enumerate(STAGES):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return number
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every ``tympan`` module ``path`` imports, anywhere in it, as absolute names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tympan"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "tympan":
                # ``from . import audio`` names a module; ``from .audio import load`` a name in one
                found |= {f"{target}.{a.name}" if stage_of(f"{target}.{a.name}") is not None
                          and (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                          else target for a in node.names}
    return found


def test_every_module_belongs_to_a_stage():
    unplaced = [module_name(p) for p in sorted(PACKAGE.rglob("*.py"))
                if module_name(p) != "tympan" and stage_of(module_name(p)) is None]
    assert unplaced == [], f"modules in no stage of tests/test_layout.py: {unplaced}"


def test_imports_flow_one_way():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        here = stage_of(name)
        if here is None:
            continue
        for target in sorted(imports_of(path)):
            there = stage_of(target)
            if there is not None and there > here:
                upward.append(f"{name} imports {target} (stage {there} after {here})")
    assert upward == [], "imports against the pipeline:\n" + "\n".join(upward)


def test_importing_the_front_end_imports_no_training_code():
    code = ("import sys, tympan.frontend; print(' '.join(m for m in sys.modules if m.startswith(('tympan.train', "
            "'tympan.predict', 'tympan.lab', 'tympan.cli', 'sklearn', 'matplotlib'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
