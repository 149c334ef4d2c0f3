"""tdrl.scale: synthesis, sampling and verification across a Ray cluster (``--ray``).

``shard`` holds the one driver loop every stage shares: bounded batches to one actor per
node, results back in input order, dead actors replaced and their batch retried, a
sample that keeps killing its actor bisected out and recorded as ``infra_error``.
``ray_verify``, ``ray_sample`` and ``ray_synth`` are the stage front ends; they write
through the same resumable writers and record types as the local paths.

Nothing here is imported by ``import tdrl``; Ray itself is imported inside functions, so
``tdrl verify`` without ``--ray`` never loads it. Install with ``pip install 'tdrl[ray]'``.
See docs/scale.md for the design and its limits.
"""
