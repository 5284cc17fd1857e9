"""Lint: the repository stands alone (scripts/check_doc_refs.py).

Every document cited in code and docs is in the tree, every section cited
with it is one of its headings, and no section is cited by number. The
checker is first shown to catch each kind of broken reference in a small
tree made for the test, then run on the repository itself.
"""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CHECKER = os.path.join(ROOT, "scripts", "check_doc_refs.py")


def run_checker(root):
    return subprocess.run([sys.executable, CHECKER, root], capture_output=True,
                          text=True, timeout=60)


class DocRefsTest(unittest.TestCase):
    def test_catches_each_kind_of_broken_reference(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "docs"))
            with open(os.path.join(root, "docs", "guide.md"), "w") as doc:
                doc.write("# Guide\n\n## Starting\n\ntext\n")
            with open(os.path.join(root, "code.c"), "w") as code:
                code.write('//  fine: docs/guide.md, "Starting"\n'
                           '//  missing doc: nowhere.md\n'
                           '//  missing section: docs/guide.md, "Stopping"\n'
                           '//  numbered: see the contract, §3\n')
            result = run_checker(root)
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertIn("code.c:2: nowhere.md is not a document", result.stdout)
            self.assertIn('code.c:3: docs/guide.md has no section "Stopping"', result.stdout)
            self.assertIn("code.c:4: a section cited by number", result.stdout)
            self.assertNotIn("code.c:1:", result.stdout)

    def test_repository_stands_alone(self):
        result = run_checker(ROOT)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
