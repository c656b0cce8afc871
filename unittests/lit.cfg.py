# Runs the GoogleTest binaries of unittests/ as lit tests.
import os
import lit.formats

config.name = "QAT-Unit"
config.test_format = lit.formats.GoogleTest(".", "Tests")
config.test_source_root = os.path.join(config.qat_obj_root, "unittests")
config.test_exec_root = config.test_source_root
