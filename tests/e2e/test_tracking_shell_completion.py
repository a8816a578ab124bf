"""`hyperion completion bash|zsh`: the scripts complete subcommands and each subcommand's own options in real bash
and zsh (through zsh's bashcompinit, as a user's shell loads them)."""

import subprocess
import unittest

from e2e_support import BIN, HyperionTestCase

BASH = """
source <(%s completion bash)
COMP_WORDS=(%s); COMP_CWORD=%d; _hyperion; printf '%%s\\n' "${COMPREPLY[@]}"
"""

# zsh filters the candidates by the typed prefix itself; compgen -F shows what the script offers.
ZSH = """
source <(%s completion zsh)
COMP_WORDS=(%s); COMP_CWORD=%d; compgen -F _hyperion -- %s
"""


class CompletionTest(HyperionTestCase):
    def complete(self, shell, words):
        if shell == "bash":
            script = BASH % (BIN, " ".join(words), len(words) - 1)
        else:
            script = ZSH % (BIN, " ".join(words), len(words) - 1, words[-1])
        r = subprocess.run([shell, "-c", script], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        return r.stdout.split()

    def test_bash_completes_subcommands_and_their_options(self):
        self.assertEqual(self.complete("bash", ["hyperion", "ex"]), ["export"])
        self.assertEqual(self.complete("bash", ["hyperion", "t"]), ["trials", "tree", "trace"])
        self.assertEqual(self.complete("bash", ["hyperion", "export", "--fo"]), ["--format"])
        self.assertEqual(self.complete("bash", ["hyperion", "run", "--re"]), ["--resume"])
        self.assertEqual(self.complete("bash", ["hyperion", "trials", "--re"]), [], "run's options are run's")
        self.assertEqual(sorted(self.complete("bash", ["hyperion", "decisions", "--"])),
                         sorted(["--help", "--storage", "--experiment", "--json", "--limit", "--trial"]))

    def test_zsh_offers_each_subcommands_own_options(self):
        self.assertIn("export", self.complete("zsh", ["hyperion", "ex"]))
        export = self.complete("zsh", ["hyperion", "export", "--fo"])
        self.assertIn("--format", export)
        self.assertIn("--mlflow-uri", export)
        self.assertNotIn("--resume", export)
        self.assertIn("--resume", self.complete("zsh", ["hyperion", "run", "--re"]))

    def test_an_unknown_shell_is_refused(self):
        r = self.hyperion("completion", "fish")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no completion for shell 'fish'; use bash or zsh", r.stderr)


if __name__ == "__main__":
    unittest.main()
