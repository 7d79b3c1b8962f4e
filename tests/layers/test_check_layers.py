#!/usr/bin/env python3
"""Self-test of scripts/check_layers.py: small synthetic trees, clean and with one kind of
violation planted each, and a copy of the real src/ with an upward include planted."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "check_layers.py")

# A clean tree with a file in every place, each including what it may: its own header, the
# layers below, common/.  The comment and the string literal are there to show that neither
# hides or adds an include.
CLEAN = {
    "src/common/a.h": "#pragma once\nint a(void);\n",
    "src/common/a.c": '#include "common/a.h"\n#include <stdio.h>\nint a(void) { return 0; }\n',
    "src/server/base/store.h": '#pragma once\n#include "common/a.h"\nint store(void);\n',
    "src/server/base/store.c": '#include "server/base/store.h"\nint store(void) { return a(); }\n',
    "src/server/model/b.h": '#pragma once\n#include "server/base/store.h"\nint b(void);\n',
    "src/server/model/b.c": ('#include "server/model/b.h"\n'
                             '/* #include "server/api/api.h" is not an include. */\n'
                             'static const char *glob = "/sys/fs/cgroup/*";\n'
                             '#include "server/model/c.h"\n'
                             'int b(void) { return glob[0] + c(); }\n'),
    "src/server/model/c.h": '#pragma once\n#include "common/a.h"\nint c(void);\n',
    "src/server/engine/e.h": '#pragma once\n#include "server/model/b.h"\nint e(void);\n',
    "src/server/engine/e.c": '#include "server/engine/e.h"\nint e(void) { return b(); }\n',
    "src/server/api/api.h": '#pragma once\n#include "server/engine/e.h"\nint api(void);\n',
    "src/server/api/api.c": '#include "server/api/api.h"\nint api(void) { return e(); }\n',
    "src/server/server.h": "#pragma once\nint serve(void);\n",
    "src/server/server.c": ('#include "server/server.h"\n#include "server/api/api.h"\n'
                            '#include "server/base/store.h"\nint serve(void) { return api(); }\n'),
    "src/agent/agent.h": "#pragma once\nint agent(void);\n",
    "src/agent/agent.c": ('#include "agent/agent.h"\n#include "common/a.h"\n'
                          'int agent(void) { return a(); }\n'),
    "src/cli/cli.h": "#pragma once\nint cli(void);\n",
    "src/cli/cli.c": '#include "cli/cli.h"\n#include "common/a.h"\nint cli(void) { return a(); }\n',
    "src/init/init.h": "#pragma once\nint init(void);\n",
    "src/init/init.c": '#include "init/init.h"\n#include <signal.h>\nint main(void) { return 0; }\n',
    "src/main.c": ('#include "agent/agent.h"\n#include "cli/cli.h"\n#include "server/server.h"\n'
                   '#include "server/api/api.h"\nint main(void) { return agent() + cli(); }\n'),
}


def run(root):
    p = subprocess.run([sys.executable, SCRIPT, "--root", root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class SyntheticTree(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="layers-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def tree(self, changes=None):
        """Writes CLEAN with changes (path: the file's new text) applied."""
        files = dict(CLEAN, **(changes or {}))
        for rel, text in files.items():
            path = os.path.join(self.tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        return self.tmp

    def fails_with(self, changes, *needles):
        rc, out = run(self.tree(changes))
        self.assertEqual(rc, 1, out)
        for needle in needles:
            self.assertIn(needle, out)
        return out

    def test_clean_tree_passes(self):
        rc, out = run(self.tree())
        self.assertEqual(rc, 0, out)
        # 23 includes: the one in b.c's comment and the system ones in a.c and init.c do not
        # count.
        self.assertEqual(out.strip().splitlines(),
                         ["layers: clean; %d files, 11 modules, 23 includes checked" % len(CLEAN)])

    def test_upward_include_in_model(self):
        self.fails_with(
            {"src/server/model/c.h": '#pragma once\n#include "common/a.h"\n'
                                     '#include "server/engine/e.h"\nint c(void);\n'},
            "src/server/model/c.h:3: includes server/engine/e.h: server/model (layer 2) may not "
            "include server/engine (layer 3); register a hook instead")

    def test_base_may_not_include_the_front_end(self):
        self.fails_with(
            {"src/server/base/store.c": '#include "server/base/store.h"\n'
                                        '#include "server/server.h"\nint store(void);\n'},
            "src/server/base/store.c:2: includes server/server.h: server/base (layer 1) may not "
            "include server (layer 5)")

    def test_two_and_three_module_cycles_in_one_layer(self):
        out = self.fails_with(
            {"src/server/model/c.h": '#pragma once\n#include "server/model/b.h"\nint c(void);\n',
             "src/server/model/d.h": "#pragma once\nint d(void);\n",
             "src/server/model/d.c": '#include "server/model/d.h"\n#include "server/model/e.h"\n',
             "src/server/model/e.h": '#pragma once\n#include "server/model/f.h"\n',
             "src/server/model/f.h": "#pragma once\n",
             "src/server/model/f.c": '#include "server/model/f.h"\n#include "server/model/d.h"\n'},
            "cycle: server/model/b -> server/model/c -> server/model/b",
            "    src/server/model/b.c:4: includes server/model/c.h",
            "    src/server/model/c.h:2: includes server/model/b.h",
            "cycle: server/model/d -> server/model/e -> server/model/f -> server/model/d",
            "    src/server/model/d.c:2: includes server/model/e.h",
            "    src/server/model/e.h:2: includes server/model/f.h",
            "    src/server/model/f.c:2: includes server/model/d.h",
            "modules may not include one another in a loop")
        # Only these two: a module that includes its own header is no cycle.
        self.assertEqual(out.count("cycle: "), 2, out)
        self.assertIn("layers: 2 violations", out)

    def test_agent_may_not_include_the_server(self):
        self.fails_with(
            {"src/agent/agent.c": '#include "agent/agent.h"\n#include "common/a.h"\n'
                                  '#include "server/base/store.h"\nint agent(void);\n'},
            "src/agent/agent.c:3: includes server/base/store.h: agent/ may include only common/ "
            "and agent/")

    def test_cli_may_not_include_the_agent(self):
        self.fails_with(
            {"src/cli/cli.c": '#include "cli/cli.h"\n#include "agent/agent.h"\nint cli(void);\n'},
            "src/cli/cli.c:2: includes agent/agent.h: cli/ may include only common/ and cli/")

    def test_init_may_not_include_common(self):
        # barge-init is linked alone, statically: common/'s objects are not part of it.
        self.fails_with(
            {"src/init/init.c": '#include "init/init.h"\n#include "common/a.h"\n'},
            "src/init/init.c:2: includes common/a.h: init/ is linked alone and may include only "
            "init/, not even common/")

    def test_nothing_but_main_includes_init(self):
        out = self.fails_with(
            {"src/agent/agent.c": '#include "agent/agent.h"\n#include "init/init.h"\n',
             "src/common/a.c": '#include "common/a.h"\n#include "init/init.h"\n'},
            "src/agent/agent.c:2: includes init/init.h: agent/ may include only common/ and agent/",
            "src/common/a.c:2: includes init/init.h: common (layer 0) may not include init/ (an "
            "executable of its own), which is no layer below it")
        self.assertIn("layers: 2 violations", out)

    def test_801_lines_fail(self):
        self.fails_with(
            {"src/server/model/big.c": '#include "server/model/b.h"\n' + "int x;\n" * 800},
            "src/server/model/big.c: 801 lines: a source file may have at most 800")

    def test_801_lines_without_final_newline_fail(self):
        self.fails_with({"src/common/big.h": "int x;\n" * 800 + "int y;"},
                        "src/common/big.h: 801 lines")

    def test_800_lines_pass(self):
        rc, out = run(self.tree(
            {"src/server/model/big.c": '#include "server/model/b.h"\n' + "int x;\n" * 799}))
        self.assertEqual(rc, 0, out)

    def test_include_naming_no_file(self):
        self.fails_with(
            {"src/server/model/b.h": '#pragma once\n#include "store.h"\nint b(void);\n'},
            "src/server/model/b.h:2: includes store.h: names no file under src/",
            "did you mean server/base/store.h?")

    def test_include_escaping_src(self):
        self.fails_with({"src/common/a.c": '#include "../src/common/a.h"\n'},
                        "src/common/a.c:1: includes ../src/common/a.h: names no file under src/")

    def test_file_in_no_layer(self):
        self.fails_with({"src/server/misc/x.c": '#include "common/a.h"\n'},
                        "src/server/misc/x.c: lies in no layer")

    def test_every_violation_is_reported(self):
        out = self.fails_with(
            {"src/cli/cli.c": '#include "cli/cli.h"\n#include "agent/agent.h"\n',
             "src/server/model/big.c": "\n" * 801},
            "src/cli/cli.c:2: includes agent/agent.h",
            "src/server/model/big.c: 801 lines")
        self.assertIn("layers: 2 violations", out)


class RealTree(unittest.TestCase):
    def test_real_tree_is_clean(self):
        rc, out = run(REPO)
        self.assertEqual(rc, 0, out)

    def test_planted_upward_include_is_reported(self):
        # A copy of the real tree with one upward include planted in the model: the check names
        # it.  (jobs.c is the model's heart, and here to stay.)
        tmp = tempfile.mkdtemp(prefix="layers-real-")
        self.addCleanup(shutil.rmtree, tmp)
        shutil.copytree(os.path.join(REPO, "src"), os.path.join(tmp, "src"))
        victim = os.path.join(tmp, "src", "server", "model", "jobs.c")
        with open(victim) as f:
            text = f.read()
        with open(victim, "w") as f:
            f.write('#include "server/api/api.h"\n' + text)
        rc, out = run(tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("src/server/model/jobs.c:1: includes server/api/api.h: server/model "
                      "(layer 2) may not include server/api (layer 4)", out)

    def test_default_root_is_the_repository(self):
        p = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True)
        self.assertIn(p.returncode, (0, 1), p.stdout + p.stderr)
        n = sum(len([f for f in fs if f.endswith((".c", ".h"))])
                for _, _, fs in os.walk(os.path.join(REPO, "src")))
        self.assertRegex(p.stdout.splitlines()[-1], r"^layers: .*; %d files, " % n)


if __name__ == "__main__":
    unittest.main()
