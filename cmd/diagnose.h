/* `kvscope diagnose DIR`: zero-config diagnosis of an LMCache evidence
 * folder. Builds the pipeline itself (the same receivers, correlator,
 * lmcache_diagnose connector and evidence exporter a live deployment
 * uses), replays the folder through it, writes the reports to DIR/kvscope/
 * (or --output) and prints the summary. */
#ifndef KVS_DIAGNOSE_CMD_H
#define KVS_DIAGNOSE_CMD_H

int kvs_cmd_diagnose(int argc, char **argv);
int kvs_cli_set_log_level(const char *s);

#endif
