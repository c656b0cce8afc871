"""Runs the example of docs/Python.md as written (the first ```python block
after the marker comment), so the documentation cannot drift."""
import os
import re

from helpers import ROOT, record

DOC = os.path.join(ROOT, "docs", "Python.md")


def example_source():
    with open(DOC) as f:
        text = f.read()
    marker = text.index("python/tests/test_docs_example.py")
    return re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)


def test_docs_example(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    scope = {"__name__": "__docs_example__"}
    exec(compile(example_source(), DOC, "exec"), scope)
    out = capsys.readouterr().out
    assert "float: max |ours - torch| / max |torch|" in out and "int8 vs fake-quant" in out
    np = scope["np"]
    assert np.abs(scope["y"] - scope["ref"]).max() <= 1e-5 * np.abs(scope["ref"]).max()
    assert scope["y8"].shape == (4, 10)
    record("docs example: " + " | ".join(line.strip() for line in out.splitlines()))


def readme_examples():
    """The ```python blocks of the README's "## Python" section."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    start = text.index("\n## Python\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_readme_examples(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    blocks = readme_examples()
    assert len(blocks) == 2
    float_scope = {"__name__": "__readme_example__"}
    exec(compile(blocks[0], "README.md", "exec"), float_scope)
    assert float_scope["y"].shape == (1, 1000)
    scope = {"__name__": "__readme_example__"}
    exec(compile(blocks[1], "README.md", "exec"), scope)
    out = capsys.readouterr().out.strip()
    assert out.startswith("logits within 1 LSB of PyTorch int8:")
    assert float(out.split(":")[1]) >= 0.99
    record("README examples: resnet18 float ran; " + out)
