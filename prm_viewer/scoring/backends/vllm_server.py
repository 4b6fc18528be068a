"""``vllm-server`` backend: one or several running OpenAI-compatible vLLM servers.

This is how scoring scales past one machine: start ``vllm serve`` on any number of GPUs/nodes and
list their URLs; the worker only tokenizes (with the checkpoint's own tokenizer, so positions are
exact) and sends token ids. PRMs go to ``POST /pooling`` (``task: token_classify``,
``use_activation: false``: raw logits, as every backend returns); language-model recipes go to
``POST /v1/completions`` (``prompt_logprobs`` for log-probabilities, sampling for critics and
rollouts).

Options (``--endpoint URL`` repeated, or ``--backend-option KEY=VALUE``):

- ``endpoints``: the server URLs (``http://host:8000``), requests spread across them;
- ``model``: the served model name (default: the one model each server lists);
- ``concurrency``: requests in flight per endpoint (default 8);
- ``batch_traces``: traces per ``/pooling`` request (default 16);
- ``timeout_s``: per request (default 300); ``retries``: attempts after the first on a timeout,
  a connection error or a 5xx, with exponential backoff from ``backoff_s`` (default 0.5 s);
- ``reference``: the same options for implicit-prm's reference model (its own servers).

At load every endpoint is checked: reachable, serving the named model, and tokenizing a probe
text exactly like the local tokenizer (else: "serves another model"). A request that still fails
after its retries fails the job with the endpoint and reason; shards already written stay, and a
retry of the job resumes after them. ``PRM_VIEWER_VLLM_API_KEY`` (environment) is sent as a
bearer token when set (never stored in the scorer). ``PRM_VIEWER_VLLM_ENDPOINTS`` (comma-separated
URLs, environment of the app or CLI, inherited by workers) replaces a scorer's stored endpoints
when its servers have moved.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prm_viewer import settings
from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.base import Backend, Loaded, RunSpec
from prm_viewer.scoring.backends.lm import LM_KIND, Sampling
from prm_viewer.scoring.backends.vllm_backend import DTYPES, rows_at_positions
from prm_viewer.scoring.recipes.base import EncodedTrace

DEVICE = "vllm-server"
"""What a server runner reports as its device (the servers' own hardware is theirs)."""
OPTIONS = {"endpoints", "model", "concurrency", "batch_traces", "timeout_s", "retries", "backoff_s", "reference", "role"}
PROBE = "Step 1: 16 - 3 = 13. The answer is \\boxed{13}."


class _Retryable(Exception):
    pass


@dataclass
class ServerOptions:
    endpoints: list[str]
    model: str | None = None
    concurrency: int = 8
    batch_traces: int = 16
    timeout_s: float = 300.0
    retries: int = 4
    backoff_s: float = 0.5

    @classmethod
    def parse(cls, opts: dict[str, Any], what: str = "vllm-server") -> ServerOptions:
        unknown = sorted(set(opts) - OPTIONS)
        if unknown:
            raise RecipeError(f"backend '{what}' has no option {', '.join(unknown)} (options: {', '.join(sorted(OPTIONS))})")
        eps = None if opts.get("role") else (settings.get("vllm_endpoints") or None)  # the scorer's own model only
        eps = eps or opts.get("endpoints") or []  # the environment re-points a stored scorer (servers moved)
        if isinstance(eps, str):
            eps = [e for e in (x.strip() for x in eps.split(",")) if e]
        if not eps:
            raise RecipeError(f"backend '{what}' needs at least one endpoint URL (--endpoint http://host:8000)")
        for e in eps:
            if not str(e).startswith(("http://", "https://")):
                raise RecipeError(f"backend '{what}': endpoint '{e}' is not an http(s):// URL")
        return cls(endpoints=[str(e).rstrip("/") for e in eps], model=opts.get("model"),
                   concurrency=max(1, int(opts.get("concurrency", 8))), batch_traces=max(1, int(opts.get("batch_traces", 16))),
                   timeout_s=float(opts.get("timeout_s", 300)), retries=max(0, int(opts.get("retries", 4))),
                   backoff_s=float(opts.get("backoff_s", 0.5)))


def _request(url: str, body: dict[str, Any] | None, timeout: float) -> Any:
    """One HTTP call; raises _Retryable (timeout, connection, 5xx) or RecipeError (4xx)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    key = settings.get("vllm_api_key") or None
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (http.client.HTTPException, ValueError) as exc:  # cut-off or garbled answer: a server dying mid-reply
        raise _Retryable(f"{url}: incomplete answer ({type(exc).__name__})") from None
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        if exc.code >= 500:
            raise _Retryable(f"HTTP {exc.code} from {url}: {detail}") from None
        raise RecipeError(f"vllm-server {url} refused the request (HTTP {exc.code}): {detail}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"{url}: {reason}") from None


class Pool:
    """Bounded concurrency per endpoint, work spread over endpoints, retries with backoff.

    Threads are bound to endpoints (``concurrency`` each) and pull from one queue, so a fast
    endpoint takes more of the work. A failed request (timeout, connection error, 5xx) goes
    straight back to the front of the queue for any endpoint (retried before fresh work, so one
    request's attempts follow each other), while the endpoint that failed rests for an
    exponentially growing time (from ``backoff_s``, at most 30 s) before taking work again; a
    request that fails ``retries + 1`` times fails the run with the endpoints' last errors.
    (Retried at the back, a lone dead endpoint failed each queued request once before any
    failed twice, and its rests grew to minutes before the run gave up.)"""

    def __init__(self, opts: ServerOptions) -> None:
        self.opts = opts

    def map(self, path: str, bodies: Sequence[dict[str, Any]]) -> list[Any]:
        if not bodies:
            return []
        work: queue.PriorityQueue[tuple[int, int]] = queue.PriorityQueue()  # (-attempt, i): retries first
        for i in range(len(bodies)):
            work.put((0, i))
        results: list[Any] = [None] * len(bodies)
        state = {"remaining": len(bodies)}
        failure: list[BaseException] = []
        lock = threading.Lock()
        done = threading.Event()
        errors: dict[str, str] = {}
        strikes = dict.fromkeys(self.opts.endpoints, 0)
        rest_until = dict.fromkeys(self.opts.endpoints, 0.0)

        def fail(exc: BaseException) -> None:
            with lock:
                if not failure:
                    failure.append(exc)
            done.set()

        def worker(endpoint: str) -> None:
            while not done.is_set():
                pause = rest_until[endpoint] - time.monotonic()
                if pause > 0:
                    done.wait(min(pause, 0.5))
                    continue
                try:
                    neg_attempt, i = work.get(timeout=0.05)
                    attempt = -neg_attempt
                except queue.Empty:
                    continue
                try:
                    res = _request(endpoint + path, bodies[i], self.opts.timeout_s)
                except _Retryable as exc:
                    with lock:
                        errors[endpoint] = str(exc)
                        strikes[endpoint] += 1
                        rest_until[endpoint] = time.monotonic() + min(30.0, self.opts.backoff_s * 2 ** (strikes[endpoint] - 1))
                    if attempt >= self.opts.retries:
                        fail(RecipeError(f"vllm-server: a request failed {attempt + 1} times ({'; '.join(errors.values())}); "
                                         "scores written so far are kept, retry the job when the servers are up"))
                        return
                    work.put((-(attempt + 1), i))
                    continue
                except BaseException as exc:  # 4xx and anything unexpected: fail now, with the reason
                    fail(exc)
                    return
                with lock:
                    strikes[endpoint] = 0
                    results[i] = res
                    state["remaining"] -= 1
                    if state["remaining"] == 0:
                        done.set()

        threads = [threading.Thread(target=worker, args=(ep,), daemon=True)
                   for ep in self.opts.endpoints for _ in range(self.opts.concurrency)]
        for t in threads:
            t.start()
        done.wait()
        for t in threads:  # on failure a thread may still wait on a request: daemon threads, not waited for
            t.join(timeout=0 if failure else 1)
        if failure:
            raise failure[0]
        return results


def check_endpoints(opts: ServerOptions, tokenizer: Any, ref: str) -> tuple[str, int | None]:
    """Every endpoint reachable, serving the model, with the same tokenizer; returns the model
    name and the smallest ``max_model_len``."""
    model = opts.model
    limits: list[int] = []
    local = list(tokenizer.encode(PROBE, add_special_tokens=False))
    for ep in opts.endpoints:
        try:
            listed = _request(ep + "/v1/models", None, min(opts.timeout_s, 30.0))
        except _Retryable as exc:
            raise RecipeError(f"vllm-server endpoint {ep} is not reachable ({exc}); is 'vllm serve' running there?") from None
        cards = listed.get("data") or []
        names = [c.get("id") for c in cards]
        if model is None:
            if len(names) != 1:
                raise RecipeError(f"vllm-server endpoint {ep} serves {names}; name one with --backend-option model=NAME")
            model = names[0]
        if model not in names:
            raise RecipeError(f"vllm-server endpoint {ep} serves another model ({', '.join(map(str, names))}), not '{model}'")
        card = cards[names.index(model)]
        if card.get("max_model_len"):
            limits.append(int(card["max_model_len"]))
        try:
            toks = _request(ep + "/tokenize", {"model": model, "prompt": PROBE, "add_special_tokens": False},
                            min(opts.timeout_s, 30.0))
        except _Retryable as exc:
            raise RecipeError(f"vllm-server endpoint {ep} is not reachable ({exc})") from None
        if list(toks.get("tokens") or []) != local:
            raise RecipeError(f"vllm-server endpoint {ep} serves another model: its tokenizer differs from "
                              f"checkpoint '{ref}' (the scorer's tokenizer must be the served model's)")
    assert model is not None
    return model, (min(limits) if limits else None)


class _Connected:
    """What both server runners share: options, the endpoint pool, the served model's name
    (checked against the scorer's tokenizer) and the context length (the tighter of the spec's and
    the servers')."""

    device: str = DEVICE
    dtype: str
    max_length: int | None
    model: str

    def __init__(self, spec: RunSpec) -> None:
        opts = dict(spec.options or {})
        opts.pop("reference", None)
        self.opts = ServerOptions.parse(opts)
        self.pool = Pool(self.opts)
        self.dtype = spec.dtype
        self.model, limit = check_endpoints(self.opts, spec.prepared.tokenizer, spec.model_checkpoint().ref)
        self.max_length = min(x for x in (spec.max_length, limit) if x) if (spec.max_length or limit) else None

    def close(self) -> None:
        pass


class ServerPoolingRunner(_Connected):
    """PRM scoring through ``/pooling``; see ``backends/base.py`` for the contract."""

    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec)
        self.step_tag_id = spec.prepared.step_tag_id

    def run(self, batch: Sequence[EncodedTrace]) -> list[np.ndarray]:
        todo = [i for i, e in enumerate(batch) if len(e.positions)]
        out: list[np.ndarray] = [np.zeros((0, 0))] * len(batch)
        n = self.opts.batch_traces
        chunks = [todo[k:k + n] for k in range(0, len(todo), n)]
        bodies = [{"model": self.model, "input": [list(batch[i].input_ids) for i in c], "task": "token_classify",
                   "use_activation": False} for c in chunks]
        for chunk, res in zip(chunks, self.pool.map("/pooling", bodies)):
            items = sorted(res.get("data") or [], key=lambda d: d["index"])
            if len(items) != len(chunk):
                raise RecipeError(f"vllm-server returned {len(items)} results for {len(chunk)} inputs")
            for i, item in zip(chunk, items):
                out[i] = rows_at_positions(np.asarray(item["data"], dtype=np.float64), batch[i].input_ids,
                                           batch[i].positions, self.step_tag_id, "vllm-server /pooling")
        return out


class ServerLM(_Connected):
    """The language-model calls of ``lm.py`` through ``/v1/completions``."""

    def prompt_logprobs(self, seqs: Sequence[Sequence[int]]) -> list[np.ndarray]:
        bodies = [{"model": self.model, "prompt": list(s), "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0}
                  for s in seqs]
        out: list[np.ndarray] = []
        for seq, res in zip(seqs, self.pool.map("/v1/completions", bodies)):
            entries = res["choices"][0].get("prompt_logprobs") or []
            lp = np.full(len(seq), np.nan)
            for i, entry in enumerate(entries):
                if i and entry:
                    lp[i] = float(entry[str(int(seq[i]))]["logprob"])
            out.append(lp)
        return out

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[str]]:
        extra = {} if sampling.seed is None else {"seed": int(sampling.seed)}
        bodies = [{"model": self.model, "prompt": list(p), "n": int(sampling.n), "temperature": float(sampling.temperature),
                   "max_tokens": int(sampling.max_tokens), "stop": list(sampling.stop) or None,
                   "skip_special_tokens": True, **extra} for p in prompts]
        return [[c["text"] for c in sorted(res["choices"], key=lambda c: c["index"])]
                for res in self.pool.map("/v1/completions", bodies)]


def serve_args(prepared: Any) -> list[str]:
    """The ``vllm serve <checkpoint>`` arguments under which a server answers this recipe exactly
    as the offline ``vllm`` backend does (printed by ``recipes``-style help and used by the tests).
    Without a step tag the server returns every token's row; the client picks its positions."""
    kind = prepared.recipe.model_kind
    if kind == LM_KIND:
        return []
    pooler: dict[str, Any] = {"task": "token_classify", "pooling_type": "STEP"}
    if prepared.step_tag_id is not None:
        pooler["step_tag_id"] = int(prepared.step_tag_id)
    args = ["--runner", "pooling", "--pooler-config", json.dumps(pooler)]
    if kind == "causal-lm":
        tokens = prepared.tokenizer.convert_ids_to_tokens(list(prepared.returned_token_ids or []))
        args += ["--convert", "classify", "--hf-overrides",
                 json.dumps({"classifier_from_token": tokens, "method": "no_post_processing", "num_labels": len(tokens)})]
    return args


def load(spec: RunSpec) -> Loaded:
    if spec.prepared.recipe.model_kind == LM_KIND:
        return ServerLM(spec)
    return ServerPoolingRunner(spec)


def resolve(device: str, dtype: str) -> tuple[str, str]:
    """``Backend.resolve``: the servers run the model where they were started; the device is
    recorded as ``vllm-server`` and the dtype as asked (``auto``: the servers' own)."""
    return DEVICE, dtype


BACKEND = Backend(
    name="vllm-server",
    help="running vLLM servers (one or several URLs): /pooling for PRMs, /v1/completions for critics and rollouts",
    model_kinds=frozenset({"token-classification", "causal-lm", LM_KIND}),
    load=load,
    dtypes=DTYPES,
    resolve=resolve,
)
