"""Generation: sample policy checkpoints on a problem set as background jobs, and turn the
samples into datasets ready for scoring and the Compare page.

Public API (heavy packages are imported only in the worker)::

    from prm_viewer.generation import SamplingSettings, submit_generation, split_steps
    job_id = submit_generation(store, problems="gsm8k_test.jsonl", checkpoint="ckpt/",
                               sampling=SamplingSettings(n=4, temperature=0.7, seed=1))
    JobRunner(store).wait(job_id)      # the dataset is written when the job is done

Modules: ``problems`` (problem sets), ``prompts`` (templates), ``sampling`` (settings, per-sample
seeds), ``steps`` (split rules), ``policies`` (backends, worker side; the transformers sampler is
``scoring/backends/transformers_lm.sample_batch``, shared with the critic and rollout recipes), ``worker``
(the job worker), ``submit`` (queue a job), ``dataset`` (samples -> dataset, re-split,
answer checking of any dataset).
"""

from __future__ import annotations

from prm_viewer.generation.dataset import check_dataset_answers, resplit_dataset, write_job_dataset
from prm_viewer.generation.problems import PROBLEM_SCHEMA, load_problems
from prm_viewer.generation.prompts import DEFAULT_SYSTEM, DEFAULT_TEMPLATE
from prm_viewer.generation.sampling import SamplingSettings, sample_seed
from prm_viewer.generation.steps import DEFAULT_RULE, SPLIT_RULES, split_steps
from prm_viewer.generation.submit import set_split_rule, submit_generation

__all__ = ["DEFAULT_RULE", "DEFAULT_SYSTEM", "DEFAULT_TEMPLATE", "PROBLEM_SCHEMA", "SPLIT_RULES", "SamplingSettings",
           "check_dataset_answers", "load_problems", "resplit_dataset", "sample_seed", "set_split_rule", "split_steps",
           "submit_generation", "write_job_dataset"]
