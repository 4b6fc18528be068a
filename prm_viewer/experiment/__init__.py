"""The with-vs-without process-reward experiment, small enough for 2 CPU cores.

Stages (``pipeline.run_experiment``; CLI ``python -m prm_viewer experiment run``):

1. tasks (``tasks.py``): the demo's exactly-checkable arithmetic chains, train / in-domain test /
   out-of-domain test (longer chains, unseen operators), the demo's exact step verifier;
2. a tokenizer on the task alphabet and an SFT policy (``Qwen2ForCausalLM``, under 1M params)
   trained with ``transformers.Trainer`` on imperfect traces (``train.py``);
3. a tiny PRM in the ``qwen-prm`` layout trained on verifier-labelled traces (``prm.py``);
4. two RL runs from the SFT checkpoint with the same seeds, problems and samples per step:
   outcome reward only, and outcome + the PRM's per-step process reward (``rl.py``,
   ``credit.py``);
5. evaluation through the product (``evaluate.py``, ``results.py``): sampled test traces imported
   as datasets, scored in scoring jobs by the tiny PRM and the exact verifier, compared by the
   analysis reports;
6. artefacts (``artefacts.py``): :func:`load_experiment` puts the results into any store.
"""

from __future__ import annotations

from prm_viewer.experiment.artefacts import DEFAULT_OUT, has_results, load_default_demo, load_experiment
from prm_viewer.experiment.config import ExperimentConfig, preset

__all__ = ["DEFAULT_OUT", "ExperimentConfig", "has_results", "load_default_demo", "load_experiment", "preset"]
