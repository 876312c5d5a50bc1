/* What the kvscope commands share: signal handling (the first SIGINT or
 * SIGTERM drains, the second exits at once) and running a configured
 * pipeline to its end with a progress line and a counter summary. */
#ifndef KVS_CLI_H
#define KVS_CLI_H

#include "core/engine.h"

#include <stdio.h>

enum { KVS_EXIT_CLEAN = 0, KVS_EXIT_REJECTED = 1, KVS_EXIT_CONFIG = 2 };

/* Blocks SIGINT/SIGTERM in every thread and starts the thread that handles
 * them. Call once, before any other thread exists. */
void kvs_cli_signals(void);

/* Builds, starts and runs the pipeline: until a signal, or in replay mode
 * until every file receiver is done; then drains it. `summary` (may be
 * NULL) receives the per-component counters. Returns KVS_EXIT_CLEAN,
 * KVS_EXIT_REJECTED (some input was rejected, refused, dropped or failed)
 * or KVS_EXIT_CONFIG (err says why). */
int kvs_cli_run(const kvs_service_cfg *cfg, const kvs_engine_opts *opts, FILE *summary, kvs_error *err);

/* Prints config warnings on stderr (a kvs_cfg_warn_fn). */
void kvs_cli_warn(void *ctx, const char *msg);

#endif
