"""The scoring engine: PRM checkpoints -> per-step scores, in worker processes.

Map (each module one concept):

- ``checkpoints.py``  resolve a checkpoint (folder or hub id), detect its recipe, its revision
- ``recipes/``        one module per PRM family (interface: ``recipes/base.py``), ``RECIPES``
- ``backends/``       run batches fast (interface: ``backends/base.py``), ``BACKENDS``
- ``qwen2_prm.py``    native ``Qwen2ForProcessRewardModel`` (no remote code needed)
- ``engine.py``       recipe + loaded backend: traces in, a step-score table out
- ``scorers.py``      ``register_scorer(store, checkpoint, ...)`` with provenance
- ``worker.py``       ``python -m prm_viewer worker --job DIR`` (Parquet in, Parquet shards out)
- ``commands.py``     CLI: score, jobs, cancel, retry, resume, scorers, recipes, worker

Jobs (queue, launching, ingest) live in ``prm_viewer/jobs.py``. Importing this package does not
import torch or transformers.
"""
