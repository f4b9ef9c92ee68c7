"""Every command the docs quote (README.md, docs/*.md, the flagfiles' headers) parses: its
binary's flags exist and take the values given, its flagfiles exist, its figure is
registered with the options given, its tool script exists. No TensorFlow is run."""
import glob
import os
import re
import shlex

import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import figures
from tests import test_flagfiles

ROOT = test_flagfiles.ROOT
DOCS = sorted([os.path.join(ROOT, "README.md"), *glob.glob(os.path.join(ROOT, "docs", "*.md")),
               *test_flagfiles.FLAGFILES])
BINARIES = ("train", "prune", "sweep", "determinism_compare", "replicate_features")
COMMAND = re.compile(r"python (-m keras_initstudy\.\w+|tools/[\w/]+\.py)")


def commands(path: str):
    """The commands quoted in a doc: continuation lines joined, comment markers and trailing
    comments dropped."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"\\\n#?\s*", " ", text)  # a backslash continues the command on the next line
    found = []
    for line in text.splitlines():
        for match in COMMAND.finditer(line):
            rest = line[match.start():].split(" # ")[0].split("`")[0].split(")")[0].strip()
            found.append(rest)
    return found


def arguments(command: str):
    """The command's arguments after the program, as the shell would split them (ellipses left out)."""
    words = shlex.split(command.replace("...", ""))
    return words[3:] if words[1] == "-m" else words[2:]


def check_binary(binary: str, args):
    flagfile_args = []
    for arg in args:
        if arg.startswith("--flagfile="):
            path = os.path.join(ROOT, arg.split("=", 1)[1])
            if not os.path.exists(path):
                raise AssertionError(f"no flagfile {arg}")
            arg = f"--flagfile={path}"
        flagfile_args.append(arg)
    text = ""
    for arg in flagfile_args:
        if arg.startswith("--flagfile="):
            with open(arg.split("=", 1)[1]) as f:
                text += f.read()
    kind = binary if binary != "train" else test_flagfiles.binary_for(text + " ".join(args))
    fv = test_flagfiles.flag_values("sweep" if binary == "sweep" else kind if binary == "train" else binary)
    fv(["prog", *flagfile_args])


def check_figure(args):
    if not args or args[0].startswith("-"):
        return  # the listing
    name = args[0]
    known = figures.get(name)
    options = {a[2:].split("=", 1)[0].removeprefix("no") if a[2:] not in known.defaults() else a[2:]
               for a in args[1:] if a.startswith("--")}
    unknown = options - set(known.defaults()) - {"inputs", "out", "help"}
    if unknown:
        raise AssertionError(f"{name} has no option {sorted(unknown)}")


class DocCommandsTest(tf.test.TestCase, parameterized.TestCase):

    def test_the_docs_quote_commands(self):
        quoted = [c for path in DOCS for c in commands(path)]
        self.assertGreater(len(quoted), 100)
        self.assertTrue(any("keras_initstudy.figures" in c for c in quoted))

    @parameterized.named_parameters((os.path.relpath(p, ROOT).replace("/", "_"), p) for p in DOCS)
    def test_every_command_parses(self, path):
        for command in commands(path):
            with self.subTest(command):
                args = arguments(command)
                program = command.split()[1] if command.split()[1] != "-m" else command.split()[2]
                if program.startswith("tools/"):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, program)), program)
                elif program == "keras_initstudy.figures":
                    check_figure(args)
                elif program.split(".")[-1] in BINARIES:
                    check_binary(program.split(".")[-1], [a for a in args if a.startswith("--")])
                else:
                    self.fail(f"unknown program {program}")


if __name__ == "__main__":
    tf.test.main()
