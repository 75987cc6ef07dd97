"""The repository explains itself: every relative link in its Markdown files resolves to a file in
the repository, and no tracked text file points outside it (a sibling checkout or this machine's
paths). Results move between docs (e.g. the default-testbed sections archived out of
docs/RESULTS.md), and a dangling link is the first thing a reader hits."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target)
OUTSIDE = re.compile(r"\.\./shared\b|/work/\w")  # the sibling shared/ folder, this VM's work tree


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"the docs checks read the repository's tracked files: {out.stderr.strip()}"
    return [ROOT / p for p in out.stdout.split()]


def test_relative_markdown_links_resolve():
    broken = []
    for md in _tracked("*.md"):
        for target in LINK.findall(md.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):  # URLs, in-page anchors
                continue
            path = target.split("#", 1)[0]
            if not (md.parent / path).exists():
                broken.append(f"{md.relative_to(ROOT)}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_no_tracked_text_points_outside_the_repository():
    hits = []
    for f in _tracked("*.md", "*.py", "*.yaml", "*.sh", "*.toml", "*.ipynb", "*.cfg", ".ci/*"):
        if f.resolve() == Path(__file__).resolve():
            continue  # this file names the patterns it looks for
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not hits, "references outside the repository:\n" + "\n".join(hits)
