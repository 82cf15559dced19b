"""The names inside a benchmark folder, shared by the runner that writes it and the report that reads it.

::

    DIR/run.json           {"kind": "benchmark"} (see gantransfer.engine.run_kinds)
    DIR/benchmark.json     the grid as last run: name, cells, stages folder
    DIR/results.jsonl      one line per finished cell (see :mod:`.results`)
    DIR/report.md, DIR/report.html, DIR/figures/
    DIR/cells/<direction>/<variant>/k<k>/seed<seed>/
                           one transfer run folder per cell (metrics.json,
                           classifier.safetensors, ...) and its result.json line
    DIR/stages/            shared stages (source classifier, source GAN, ...),
                           each trained once and reused, keyed by its config
    DIR/tensorboard/       the HParams table of finished cells
    DIR/.claims/           a lock per cell being run (several processes can share a grid)
"""

CELLS = "cells"
CLAIMS = ".claims"  # the lock files of cells being run, and of results.jsonl
RESULT_FILE = "result.json"
BENCHMARK_FILE = "benchmark.json"
