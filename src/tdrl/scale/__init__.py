"""tdrl.scale: synthesis, sampling and verification across a Ray cluster (``--ray``).

``shard`` holds the one driver loop every stage shares: bounded batches to one actor per
node, results back in input order, dead actors replaced and their batch retried, a
sample that keeps killing its actor bisected out and recorded as ``infra_error``.
The stages themselves are not here: each runs on :func:`tdrl.runner.run_stage`, and
``--ray`` picks its :class:`~tdrl.runner.Ray` executor, which calls ``run_sharded``.
``ray_verify``, ``ray_sample`` and ``ray_synth`` keep the stage entry points with Ray
defaults (and Ray Data's shard reader), so records, resume and drop rules are the local ones.

Nothing here is imported by ``import tdrl``; Ray itself is imported inside functions, so
``tdrl verify`` without ``--ray`` never loads it. Install with ``pip install 'tdrl[ray]'``.
See docs/scale.md for the design and its limits.
"""
