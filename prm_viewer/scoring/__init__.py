"""The scoring engine: PRM checkpoints -> per-step scores, in worker processes.

Map (each module one concept):

- ``checkpoints.py``  resolve a checkpoint (folder or hub id), detect its recipe, its revision
- ``recipes/``        one module per PRM family (interface: ``recipes/base.py``), ``RECIPES``
- ``backends/``       everything backend-specific: runners, torch device/dtype helpers, the runner
                      and language-model contracts (``base.py``, ``lm.py``), ``BACKENDS``
- ``qwen2_prm.py``    native ``Qwen2ForProcessRewardModel`` (no remote code needed)
- ``engine.py``       recipe + loaded backend: traces in, step results out
- ``scorers.py``      ``register_scorer(store, checkpoint, ...)`` with provenance
- ``worker.py``       ``python -m prm_viewer.scoring.worker --job DIR`` (runs a ``score`` job folder)
- ``lm.py``           old address of the language-model names (kept for plug-ins)

The job-folder contract (spec/progress/status, the step-result schema, atomic writes) is
``prm_viewer/jobfolder.py``; jobs (queue, launching, ingest) live in ``prm_viewer/jobs.py``.
Importing this package does not import torch or transformers.
"""
