#!/usr/bin/env python3
# tests/lint/test-check-layers.py - scripts/check-layers checked on itself.
#
# Why: a checker that never fails looks exactly like a clean tree. This test
# builds, in a temporary directory, a small tree shaped like labagent's (every
# folder of scripts/layers.conf, a git index, a build directory with the pure
# libraries) that passes, then one copy per rule that breaks exactly that rule,
# and asserts that check-layers fails on it naming that rule and the place,
# and nothing else. The rules are the real scripts/layers.conf.
#
#   test-check-layers.py [--check-layers PATH] [--cc CC] [--ar AR]

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BIG = 300 * 1024  # over the 256 KiB limit

# The clean tree: every include here is allowed by scripts/layers.conf.
CLEAN = {
    "CMakeLists.txt": "# fixture\n",
    "README.md": "fixture\n",
    ".gitignore": "/build/\n",
    "agent/CMakeLists.txt": "# fixture\n",
    "agent/base/macro.h": "#pragma once\n",
    "agent/base/log.h": "#pragma once\n#include <syslog.h>\n",
    "agent/base/log.c": ('#include <systemd/sd-journal.h>\n#include <openssl/evp.h>\n'
                         '#include "log.h"\n#include "macro.h"\n'),
    "agent/config/config.h": '#pragma once\n#include "macro.h"\n',
    "agent/config/config-private.h": '#pragma once\n#include "config.h"\n',
    "agent/config/config.c": '#include <yaml.h>\n#include "config-private.h"\n',
    "agent/job/job-state.h": '#pragma once\n#include "macro.h"\n',
    "agent/job/job-state.c": ('#include <jansson.h>\n'
                              '/* #include "store.h" a comment, not an include */\n'
                              '// #include <sqlite3.h>\n'
                              '#include "job-state.h"\n'
                              '#include "macro.h"\n'),
    "agent/store/store.h": '#pragma once\n#include "job-state.h"\n',
    "agent/store/store-private.h": '#pragma once\n#include "store.h"\n',
    "agent/store/store.c": ('#include <sqlite3.h>\n#include <systemd/sd-id128.h>\n'
                            '#include "store-private.h"\n#include "log.h"\n'),
    "agent/platform/platform.h": '#pragma once\n#include <systemd/sd-event.h>\n',
    "agent/platform/platform.c": ('#include <curl/curl.h>\n#include <openssl/ssl.h>\n'
                                  '#include "platform.h"\n#include "store.h"\n'
                                  '#include "config.h"\n'),
    "agent/render/render.h": '#pragma once\n#include "config.h"\n',
    "agent/render/render.c": ('#include <vips/vips.h>\n#include <lcms2.h>\n'
                              '#include "render.h"\n'),
    "drivers/printer.h": '#pragma once\n#include "config.h"\n',
    "drivers/printer-private.h": '#pragma once\n#include "printer.h"\n',
    "drivers/printer.c": '#include <cups/cups.h>\n#include "printer-private.h"\n',
    "agent/stages/print-stage.h": ('#pragma once\n#include "render.h"\n#include "printer.h"\n'
                                   '#include "store.h"\n'),
    "agent/stages/print-stage.c": '#include "print-stage.h"\n#include "job-state.h"\n',
    "agent/console/console.h": '#pragma once\n#include "print-stage.h"\n',
    "agent/console/console.c": ('#include <systemd/sd-event.h>\n#include "console.h"\n'
                                '#include "printer.h"\n'),
    "agent/daemon/main.c": ('#include <systemd/sd-daemon.h>\n#include "console.h"\n'
                            '#include "platform.h"\n#include "render.h"\n'),
    "agent/labctl/labctl.c": ('#include <curses.h>\n#include <jansson.h>\n'
                              '#include "macro.h"\n'),
    "docs/architecture.md": "fixture\n",
}

# The pure libraries, built into build/ with the test's compiler.
CLEAN_JOB_C = "#include <string.h>\nint lab_job_len(const char *s) { return (int)strlen(s); }\n"
CLEAN_FORMAT_C = ("#include <stdio.h>\n"
                  "void lab_format(FILE *out, const char *s) { fputs(s, out); }\n")
CLEAN_STOCK_C = "int lab_stock_low(double r, double t) { return r <= t; }\n"
CLEAN_ENERGY_C = "long lab_energy_delta(long a, long b) { return b >= a ? b - a : b; }\n"


class Fixture:
    def __init__(self, tmp, name, opts):
        self.root = os.path.join(tmp, name, "src")
        self.build = os.path.join(tmp, name, "build")
        self.opts = opts

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = "wb" if isinstance(text, bytes) else "w"
        with open(path, mode) as f:
            f.write(text)

    def library(self, name, source):
        """build/lib<name>.a from one C source, with debug info (nm -l)."""
        d = os.path.join(self.build, "agent", name)
        os.makedirs(d, exist_ok=True)
        c = os.path.join(d, name + ".c")
        with open(c, "w") as f:
            f.write(source)
        o = c + ".o"
        subprocess.run([self.opts.cc, "-g", "-O0", "-c", c, "-o", o], check=True)
        a = os.path.join(d, f"lib{name}.a")
        if os.path.exists(a):
            os.unlink(a)
        subprocess.run([self.opts.ar, "rcs", a, o], check=True)

    def git(self, *args):
        subprocess.run(["git", "-C", self.root] + list(args), check=True,
                       stdout=subprocess.DEVNULL)

    def make(self, files=None, job_c=CLEAN_JOB_C, format_c=CLEAN_FORMAT_C, git=True):
        for rel, text in CLEAN.items():
            self.write(rel, text)
        # Large, but test fixtures: exempt.
        self.write("tests/fuzz/corpus/offer/big-seed", b"x" * BIG)
        self.write("tests/config/fixtures/big.yaml", b"y" * BIG)
        for rel, text in (files or {}).items():
            self.write(rel, text)
        if job_c is not None:
            self.library("labjob", job_c)
        if format_c is not None:
            self.library("labctlformat", format_c)
        self.library("labstock", CLEAN_STOCK_C)
        self.library("labenergy", CLEAN_ENERGY_C)
        if git:
            self.git("init", "-q")
            self.git("add", "-A")
        return self

    def check(self, *extra, build=True):
        cmd = [sys.executable, self.opts.check_layers, "--root", self.root]
        if build:
            cmd += ["--build-dir", self.build]
        r = subprocess.run(cmd + list(extra), capture_output=True, text=True)
        return r.returncode, r.stdout, r.stderr


failures = []


def case(name, ok, detail):
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        print("     " + detail.replace("\n", "\n     "))
        failures.append(name)


def expect_rule(tmp, opts, name, rule, where, files=None, **kw):
    """A tree that breaks only `rule`: exit 1, each finding names it, `where` is named."""
    fx = Fixture(tmp, name, opts).make(files, **kw)
    rc, out, err = fx.check()
    findings = [l for l in out.splitlines()
                if l.startswith("check-layers: ") and not l.startswith("check-layers: FAILED")]
    rules = {l.split(": ")[1] for l in findings}
    ok = (rc == 1 and findings and rules == {rule}
          and any(re.search(re.escape(where) + r"(:\d+)?: ", l) for l in findings)
          and all(l.count(": ") >= 3 for l in findings))
    case(f"{name}: fails with {rule} at {where}", ok,
         f"exit {rc}, rules {sorted(rules)}\nstdout:\n{out}stderr:\n{err}")
    if ok:
        print("     " + findings[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-layers",
                    default=os.path.join(HERE, "..", "..", "scripts", "check-layers"))
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--ar", default="ar")
    opts = ap.parse_args()
    opts.check_layers = os.path.abspath(opts.check_layers)

    tmp = tempfile.mkdtemp(prefix="test-check-layers.")
    try:
        run(tmp, opts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failed: {', '.join(failures)}")
        return 1
    print("all passed")
    return 0


def run(tmp, opts):
    # The clean tree passes every rule, none skipped.
    fx = Fixture(tmp, "clean", opts).make()
    rc, out, err = fx.check()
    lines = out.splitlines()
    case("clean: passes, one summary line, every rule run", rc == 0 and len(lines) == 1
         and lines[0].startswith("check-layers: OK: ") and "SKIPPED" not in out
         and all(r in lines[0] for r in ("layer-include", "system-header", "private-header",
                                         "pure-symbols", "root-allowlist", "large-file")),
         f"exit {rc}\nstdout:\n{out}stderr:\n{err}")

    # Without --build-dir, the symbols rule is skipped, and said so, never passed.
    rc, out, err = fx.check(build=False)
    passed = out.split(" passed", 1)[0]
    case("no --build-dir: passes, pure-symbols SKIPPED and not among the passed",
         rc == 0 and "pure-symbols SKIPPED" in out and "pure-symbols" not in passed,
         f"exit {rc}\nstdout:\n{out}stderr:\n{err}")

    # A root that is no git work tree: the tracked-file rules are skipped, said so.
    fx = Fixture(tmp, "no-git", opts).make(git=False)
    rc, out, err = fx.check()
    case("no git: root-allowlist and large-file SKIPPED",
         rc == 0 and "root-allowlist SKIPPED" in out and "large-file SKIPPED" in out,
         f"exit {rc}\nstdout:\n{out}stderr:\n{err}")

    # --table prints the table as Markdown.
    rc, out, err = fx.check("--table", build=False)
    case("--table: Markdown table of the layers",
         rc == 0 and "| `agent/job` | `labjob` | base |" in out
         and "| `sqlite3.h` | agent/store |" in out,
         f"exit {rc}\nstdout:\n{out}stderr:\n{err}")

    # A broken table is an error (exit 2), not a pass.
    bad_conf = os.path.join(tmp, "bad.conf")
    with open(bad_conf, "w") as f:
        f.write("[layers]\nbase agent/base labbase -\njob agent/job labjob base nosuch\n")
    rc, out, err = fx.check("--conf", bad_conf)
    case("broken layers.conf: exit 2, names the line", rc == 2 and "bad.conf:3:" in err,
         f"exit {rc}\nstdout:\n{out}stderr:\n{err}")

    # Rule 1: forbidden include pairs (and the table's own checks).
    expect_rule(tmp, opts, "layer-include", "layer-include", "agent/job/job-state.c:6",
                {"agent/job/job-state.c": CLEAN["agent/job/job-state.c"] + '#include "store.h"\n'})
    expect_rule(tmp, opts, "layer-include-angle", "layer-include", "agent/render/render.c:4",
                {"agent/render/render.c": CLEAN["agent/render/render.c"] + "#include <store.h>\n"})
    expect_rule(tmp, opts, "layer-include-path", "layer-include", "agent/labctl/labctl.c:4",
                {"agent/labctl/labctl.c":
                 CLEAN["agent/labctl/labctl.c"] + '#include "../config/config.h"\n'})
    expect_rule(tmp, opts, "layer-include-after-string", "layer-include",
                "agent/console/console.c:5",
                {"agent/console/console.c": CLEAN["agent/console/console.c"]
                 + 'static const char *accept = "image/*";\n#include "platform.h"\n'})
    expect_rule(tmp, opts, "layer-table", "layer-table", "agent/newthing/x.c:1",
                {"agent/newthing/x.c": '#include "macro.h"\n'})
    expect_rule(tmp, opts, "duplicate-header", "duplicate-header", "drivers/macro.h:1",
                {"drivers/macro.h": "#pragma once\n"})

    # Rule 2: forbidden system headers.
    expect_rule(tmp, opts, "system-header", "system-header", "agent/job/job-state.c:6",
                {"agent/job/job-state.c":
                 CLEAN["agent/job/job-state.c"] + "#include <sqlite3.h>\n"})
    expect_rule(tmp, opts, "system-header-ssl", "system-header", "agent/base/log.c:5",
                {"agent/base/log.c": CLEAN["agent/base/log.c"] + "#include <openssl/ssl.h>\n"})
    expect_rule(tmp, opts, "system-header-sd-bus", "system-header", "agent/store/store.c:5",
                {"agent/store/store.c":
                 CLEAN["agent/store/store.c"] + "#include <systemd/sd-bus.h>\n"})
    expect_rule(tmp, opts, "system-header-jansson", "system-header", "agent/base/log.c:5",
                {"agent/base/log.c": CLEAN["agent/base/log.c"] + "#include <jansson.h>\n"})

    # Rule 3: another folder's private header, even from the daemon (which may
    # include every folder's public headers).
    expect_rule(tmp, opts, "private-header", "private-header", "agent/daemon/main.c:5",
                {"agent/daemon/main.c":
                 CLEAN["agent/daemon/main.c"] + '#include "store-private.h"\n'})

    # Rule 4: a pure library with a forbidden undefined symbol.
    expect_rule(tmp, opts, "pure-symbols", "pure-symbols", "/labjob.c:5",
                job_c=CLEAN_JOB_C + "struct sqlite3;\n"
                "int sqlite3_open(const char *, struct sqlite3 **);\n"
                "int lab_job_open(struct sqlite3 **db) { return sqlite3_open(\"x\", db); }\n")
    expect_rule(tmp, opts, "pure-symbols-stderr", "pure-symbols", "/labctlformat.c:3",
                format_c=CLEAN_FORMAT_C + 'void lab_warn(void) { fputs("x", stderr); }\n')
    expect_rule(tmp, opts, "pure-symbols-missing", "pure-symbols", "scripts/layers.conf",
                job_c=None)

    # Rule 5: a tracked file at the root that is not on the allow-list.
    expect_rule(tmp, opts, "root-allowlist", "root-allowlist", "notes.txt:1",
                {"notes.txt": "junk\n"})

    # Rule 6: a large tracked file outside the test fixtures.
    expect_rule(tmp, opts, "large-file", "large-file", "docs/big.bin:1",
                {"docs/big.bin": b"z" * BIG})


if __name__ == "__main__":
    sys.exit(main())
