# Execution tests: run code through qat-run (and other built programs) and
# compare with independent references. Shares test/lit.cfg.py's set-up.
import os

lit_config.load_config(config, os.path.join(config.qat_src_root, "test", "lit.cfg.py"))
config.name = "QAT-Integration"
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qat_obj_root, "integration_test")
config.excludes.update(["lit.cfg.py", "common.py", "deployed_common.py", "harness.py", "kernel_cases.py", "reference.py", "__pycache__"])
