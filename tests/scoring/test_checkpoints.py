"""Checkpoint resolution, recipe detection, provenance, and the one-line errors."""

from __future__ import annotations

import json
import shutil

import pytest

from prm_viewer.errors import PrmViewerError, RecipeError
from prm_viewer.scoring import checkpoints
from prm_viewer.scoring.engine import ScorerSpec, load_engine
from prm_viewer.scoring.scorers import register_scorer

pytest.importorskip("torch")


@pytest.mark.parametrize("model,recipe", [("qwen-tokcls", "qwen-prm"), ("qwen-prm", "qwen-prm"),
                                          ("shepherd", "math-shepherd"), ("rlhflow", "rlhflow")])
def test_detects_recipe(tiny, model, recipe):
    ckpt = checkpoints.resolve(str(tiny[model]))
    assert checkpoints.detect_recipe(ckpt, checkpoints.load_tokenizer(ckpt)) == recipe


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_path_errors(tmp_path):
    with pytest.raises(RecipeError) as e:
        checkpoints.resolve(str(tmp_path / "nope"))
    assert "no such directory" in _one_line(e)
    (tmp_path / "f.bin").write_bytes(b"x")
    with pytest.raises(RecipeError) as e:
        checkpoints.resolve(str(tmp_path / "f.bin"))
    assert "not a model directory" in _one_line(e)
    with pytest.raises(RecipeError) as e:
        checkpoints.resolve(str(tmp_path))
    assert "no config.json" in _one_line(e)


def test_hub_id_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RecipeError) as e:
        checkpoints.resolve("no-such-org-xyz/no-such-model")
    assert "could not be fetched from the hub" in _one_line(e)


def test_unknown_architecture_and_remote_code(tiny, tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(tiny["qwen-tokcls"], folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["architectures"] = ["FancyReasoner"]
    (folder / "config.json").write_text(json.dumps(cfg))
    ckpt = checkpoints.resolve(str(folder))
    with pytest.raises(RecipeError) as e:
        checkpoints.detect_recipe(ckpt, checkpoints.load_tokenizer(ckpt))
    assert "unknown architecture (FancyReasoner)" in _one_line(e)
    cfg["auto_map"] = {"AutoModel": "modeling_fancy.FancyReasoner"}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RecipeError) as e:
        checkpoints.check_fit(checkpoints.resolve(str(folder)), "qwen-prm", trust_remote_code=False)
    assert "trust_remote_code" in _one_line(e)


def test_marker_missing_and_mismatches(tiny, store):
    # the Llama tokenizer has no 'ки' token
    with pytest.raises(RecipeError) as e:
        load_engine(ScorerSpec(recipe="math-shepherd", checkpoint=str(tiny["rlhflow"]), device="cpu"))
    assert "lacks the math-shepherd marker token 'ки'" in _one_line(e)
    # a causal LM cannot serve a token-classification recipe
    with pytest.raises(RecipeError) as e:
        register_scorer(store, str(tiny["shepherd"]), recipe="qwen-prm")
    assert "needs a token-classification model" in _one_line(e)
    # recipe / backend mismatch, both ways
    with pytest.raises(RecipeError) as e:
        register_scorer(store, None, recipe="verifier", backend="transformers")
    assert "backend 'transformers' cannot run recipe 'verifier'" in _one_line(e)
    with pytest.raises(RecipeError) as e:
        register_scorer(store, str(tiny["qwen-prm"]), backend="exact")
    assert "backend 'exact' cannot run recipe 'qwen-prm'" in _one_line(e)
    with pytest.raises(RecipeError) as e:
        register_scorer(store, str(tiny["qwen-prm"]), options={"colour": "red"})
    assert "has no option colour" in _one_line(e)
    assert store.cursor().execute("SELECT count(*) FROM scorers").fetchone()[0] == 0


def test_missing_head_weights_refused(tiny, tmp_path):
    """Weights that do not cover the head would silently give random scores: refuse."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "nohead"
    shutil.copytree(tiny["qwen-prm"], folder)
    w = {k: v for k, v in load_file(str(folder / "model.safetensors")).items() if not k.startswith("score.")}
    save_file(w, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(RecipeError) as e:
        load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=str(folder), device="cpu"))
    assert "weights missing" in _one_line(e) and "score." in str(e.value)


def test_register_records_provenance_and_is_idempotent(tiny, store):
    row = register_scorer(store, str(tiny["qwen-prm"]), device="cpu")
    assert row["recipe"] == "qwen-prm" and row["backend"] == "transformers"
    assert row["checkpoint"] == str(tiny["qwen-prm"].resolve())
    assert row["revision"].startswith("sha256:")
    prov = json.loads(row["provenance"])
    # stored as asked: the worker resolves "auto" on the machine that runs the model
    assert prov["dtype"] == "auto" and prov["device"] == "cpu"
    assert {"torch", "transformers", "python"} <= set(prov["packages"])
    assert prov["architectures"] == ["Qwen2ForProcessRewardModel"]
    opts = json.loads(row["options"])
    assert opts["recipe"] == "qwen-prm" and opts["trust_remote_code"] is False
    again = register_scorer(store, str(tiny["qwen-prm"]), device="cpu")
    assert again["scorer_id"] == row["scorer_id"]
    # a different checkpoint content is a different revision, hence a different scorer
    other = register_scorer(store, str(tiny["qwen-tokcls"]), device="cpu")
    assert other["scorer_id"] != row["scorer_id"] and other["revision"] != row["revision"]


def test_plugin_recipe_by_dotted_path(tmp_path, monkeypatch, store):
    """A lab's recipe registers from its own module, no core edit; it scores through the engine."""
    (tmp_path / "lab_recipe.py").write_text(
        "import numpy as np\n"
        "from prm_viewer.scoring.recipes import register\n"
        "from prm_viewer.scoring.recipes.base import EncodedTrace, Prepared, Recipe\n"
        "def prepare(tok, opts): return Prepared(recipe=RECIPE, tokenizer=None, options=opts)\n"
        "def build(prep, traces):\n"
        "    return [EncodedTrace(t.trace_id, [], list(range(len(t.steps))), [None]*len(t.steps),\n"
        "            rows=np.array([[len(s) % 2] for s in t.steps], float)) for t in traces]\n"
        "def read(prep, rows): return rows[:, 0], rows[:, 0]\n"
        "RECIPE = register(Recipe(name='odd-length', help='1 when a step has odd length', model_kind='exact',\n"
        "                         prepare=prepare, build_inputs=build, read_scores=read))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from prm_viewer.scoring.engine import score_traces
    from prm_viewer.scoring.recipes import RECIPES, TraceInput

    try:
        row = register_scorer(store, None, recipe="odd-length", recipe_module="lab_recipe")
        assert json.loads(row["options"])["recipe_module"] == "lab_recipe"
        engine = load_engine(ScorerSpec(recipe="odd-length", backend="exact", recipe_module="lab_recipe"))
        rows = score_traces(engine, [TraceInput("t-0", "p", ["ab", "abc"])]).to_pylist()
        assert [r["score"] for r in rows] == [0.0, 1.0]
    finally:
        RECIPES.pop("odd-length", None)
    with pytest.raises(PrmViewerError):
        register_scorer(store, None, recipe="nope", recipe_module="no_such_module_xyz")
