#!/usr/bin/python3
"""check_doc_refs: every document the code and docs cite is in the tree.

The repository stands alone: a reference to a Markdown document (`docs/x.md`,
`PROTOCOL.md`, ...) must name a file that is in the repository, and a
section cited with it (`docs/x.md, "Section"`) must be a heading of that
file. Sections are cited by name, never by number (no "§3").

Usage: check_doc_refs.py [ROOT]   (default: the repository holding this file)
Prints one line per broken reference and exits 1 if there is any, else 0.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                       else os.path.join(os.path.dirname(__file__), ".."))
SCANNED = (".c", ".h", ".py", ".sh", ".md", ".cfg", ".txt", ".sql", ".cmake")
SKIPPED_DIRS = ("tests/fuzz/corpus", "tests/fuzz/regressions",
                "tests/lint/")   # the lint test cites broken references on purpose

#  A document name: a path of word characters, dots, slashes and dashes
#  ending in .md, not part of a URL.
DOC = re.compile(r"(?<![\w/.:-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
#  The same, followed by a quoted section name: `x.md, "Name"`,
#  `x.md ("Name")`, `x.md "Name"`, possibly across a comment line break.
SECTION = re.compile(
    r"((?:[\w.-]+/)*[\w.-]+\.md)[,:]?\s*(?:(?://|#|\*)\s*)?\(?\s*\"([^\"\n]+)\"")
NUMBERED = re.compile(r"§\s*\d")


def tracked_files():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files"], check=True,
                             capture_output=True, text=True).stdout
        return [line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for folder, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
            for name in names:
                files.append(os.path.relpath(os.path.join(folder, name), ROOT))
        return files


def headings(path, cache={}):
    if path not in cache:
        names = set()
        with open(path, encoding="utf-8") as text:
            for line in text:
                match = re.match(r"#+\s+(.*?)\s*$", line)
                if match:
                    name = match.group(1).strip("`")
                    names.add(name)
                    names.add(re.sub(r"^\d+\.\s*", "", name))
        cache[path] = names
    return cache[path]


def resolve(name, referrer, docs_by_base):
    """The repository path of document name cited in referrer, or None."""
    if "/" in name:
        for base in (ROOT, os.path.join(ROOT, os.path.dirname(referrer))):
            path = os.path.normpath(os.path.join(base, name))
            if os.path.isfile(path):
                return path
        return None
    found = docs_by_base.get(name, [])
    return os.path.join(ROOT, found[0]) if len(found) == 1 else (
        os.path.join(ROOT, os.path.dirname(referrer), name)
        if os.path.isfile(os.path.join(ROOT, os.path.dirname(referrer), name))
        else (os.path.join(ROOT, found[0]) if found else None))


def main():
    files = tracked_files()
    docs_by_base = {}
    for path in files:
        if path.endswith(".md"):
            docs_by_base.setdefault(os.path.basename(path), []).append(path)
    problems = []
    for referrer in files:
        if not referrer.endswith(SCANNED) or referrer.startswith(SKIPPED_DIRS):
            continue
        full = os.path.join(ROOT, referrer)
        if not os.path.isfile(full) or os.path.abspath(full) == os.path.abspath(__file__):
            continue
        with open(full, encoding="utf-8", errors="replace") as source:
            text = source.read()
        for number, line in enumerate(text.splitlines(), 1):
            if NUMBERED.search(line):
                problems.append(f"{referrer}:{number}: a section cited by number; "
                                "cite it by its heading")
            for match in DOC.finditer(line):
                if resolve(match.group(1), referrer, docs_by_base) is None:
                    problems.append(f"{referrer}:{number}: {match.group(1)} "
                                    "is not a document in this repository")
        for match in SECTION.finditer(text):
            doc = resolve(match.group(1), referrer, docs_by_base)
            section = match.group(2).strip()
            if doc and section not in headings(doc):
                number = text.count("\n", 0, match.start()) + 1
                problems.append(f"{referrer}:{number}: {match.group(1)} has no "
                                f"section \"{section}\"")
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_doc_refs: {len(problems)} broken reference(s)")
        return 1
    print(f"check_doc_refs: {len(files)} files, every document reference resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
