/* kvs_lmc_summary: the terminal summary of a diagnosis, for a person to read
 * in ten seconds: mode and architecture with why, a family table per
 * surface (what is populated, zero, missing), findings by severity with
 * their recommendations. Pure and deterministic (no colours, no time). */
#ifndef KVS_LMC_SUMMARY_H
#define KVS_LMC_SUMMARY_H

#include "core/buf.h"
#include "lmcache/diagnose.h"

/* Appends the summary text to out. */
void kvs_lmc_summary_write(const kvs_lmc_diagnosis *d, kvs_buf *out);

#endif
