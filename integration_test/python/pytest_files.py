"""lit test format of integration_test/python (see lit.local.cfg there): one
lit test per pytest file. A module of its own so that lit's worker processes
can unpickle the format."""
import glob
import os
import shlex
import subprocess

import lit.Test
import lit.formats


class PytestFiles(lit.formats.TestFormat):
    """One lit test per pytest file of `tests_dir`, run with the configured
    %python (which carries the sanitizer preload in a sanitizer build)."""

    def __init__(self, tests_dir):
        self.tests_dir = tests_dir

    def getTestsInDirectory(self, testSuite, path_in_suite, litConfig, localConfig):
        for path in sorted(glob.glob(os.path.join(self.tests_dir, "test_*.py"))):
            yield lit.Test.Test(testSuite, path_in_suite + (os.path.basename(path),),
                                localConfig, file_path=path)

    def execute(self, test, litConfig):
        if "torch" not in test.config.available_features:
            return lit.Test.UNSUPPORTED, "Test requires the following unavailable features: torch"
        python = dict(test.config.substitutions)["%python"]
        cmd = "%s -m pytest -q -p no:cacheprovider %s" % (python, shlex.quote(test.file_path))
        env = dict(test.config.environment)
        env["PYTHONPATH"] = os.path.join(test.config.qat_src_root, "python")
        exec_dir = os.path.dirname(test.getExecPath())
        os.makedirs(exec_dir, exist_ok=True)
        proc = subprocess.run(cmd, shell=True, cwd=exec_dir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = "$ %s\n%s" % (cmd, proc.stdout)
        # pytest exit code 5: the file collected no test (all skipped at import).
        if proc.returncode in (0, 5):
            return lit.Test.PASS, output
        return lit.Test.FAIL, output

