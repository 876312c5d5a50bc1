/* kvscope: the command line. run, validate, replay, diagnose.
 * cmd/ is the only place that exits the process or handles signals. */
#include "cmd/cli.h"
#include "cmd/diagnose.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: kvscope [run] --config FILE          run the pipeline until SIGINT/SIGTERM\n"
    "       kvscope validate --config FILE       check the configuration and exit\n"
    "       kvscope replay --config FILE [FILE…] run the pipeline over finite input, then exit\n"
    "       kvscope diagnose DIR [options]       diagnose an LMCache evidence folder (no config)\n"
    "       kvscope --version | --help\n"
    "\n"
    "options:\n"
    "  --config FILE      pipeline.yaml in the OpenTelemetry Collector layout\n"
    "  --log-level LEVEL  debug, info, warn or error (overrides service.telemetry.logs.level)\n"
    "\n"
    "replay: FILEs given on the command line feed every otlpjsonfile receiver in place of\n"
    "its `include`. Exit status: 0 all input delivered, 1 some input was rejected or\n"
    "dropped (the summary says where), 2 configuration error.\n"
    "diagnose: see `kvscope diagnose --help`.\n";

typedef struct args {
    const char *cmd;
    const char *config;
    const char *log_level;
    const char **files;
    size_t nfiles;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->files = calloc((size_t)argc, sizeof *a->files);
    if (!a->files)
        return -1;
    int i = 1;
    if (i < argc && argv[i][0] != '-')
        a->cmd = argv[i++];
    else
        a->cmd = "run";
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            a->config = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            a->config = argv[i] + 9;
        else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc)
            a->log_level = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "kvscope: unknown option %s\n\n%s", argv[i], usage);
            return -1;
        } else
            a->files[a->nfiles++] = argv[i];
    }
    return 0;
}

int kvs_cli_set_log_level(const char *s)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            kvs_log_set_level((kvs_log_level)i);
            return 0;
        }
    fprintf(stderr, "kvscope: unknown log level %s (debug, info, warn, error)\n", s);
    return -1;
}

static int run(const args *a)
{
    int is_validate = strcmp(a->cmd, "validate") == 0, is_replay = strcmp(a->cmd, "replay") == 0;
    if (!a->config) {
        fprintf(stderr, "kvscope: %s needs --config FILE\n\n%s", a->cmd, usage);
        return KVS_EXIT_CONFIG;
    }
    if (a->nfiles && !is_replay) {
        fprintf(stderr, "kvscope: input files are only taken by `replay`\n");
        return KVS_EXIT_CONFIG;
    }
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_load(a->config, kvs_cli_warn, NULL, &err);
    if (!cfg) {
        fprintf(stderr, "kvscope: %s\n", err.msg);
        return KVS_EXIT_CONFIG;
    }
    if ((cfg->log_level && kvs_cli_set_log_level(cfg->log_level) != 0) ||
        (a->log_level && kvs_cli_set_log_level(a->log_level) != 0)) {
        kvs_service_cfg_free(cfg);
        return KVS_EXIT_CONFIG;
    }
    kvs_engine_opts opts = { .replay = is_replay, .files = a->files, .nfiles = a->nfiles };
    int status;
    if (is_validate) {
        kvs_engine *e = kvs_engine_create(cfg, &opts, &err);
        status = e ? KVS_EXIT_CLEAN : KVS_EXIT_CONFIG;
        if (e) {
            const kvs_telemetry *const *t;
            printf("%s: valid (%zu pipelines, %zu component instances)\n", a->config, cfg->npipes,
                   kvs_engine_telemetry(e, &t));
            kvs_engine_destroy(e);
        }
    } else {
        kvs_cli_signals();
        status = kvs_cli_run(cfg, &opts, is_replay ? stdout : NULL, &err);
    }
    if (status == KVS_EXIT_CONFIG)
        fprintf(stderr, "kvscope: %s\n", err.msg);
    kvs_service_cfg_free(cfg);
    return status;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("kvscope %s\n", KVS_VERSION);
        return 0;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "diagnose") == 0)
        return kvs_cmd_diagnose(argc - 1, argv + 1);
    args a;
    if (parse_args(argc, argv, &a) != 0) {
        free(a.files);
        return KVS_EXIT_CONFIG;
    }
    int status;
    if (strcmp(a.cmd, "run") && strcmp(a.cmd, "validate") && strcmp(a.cmd, "replay")) {
        fprintf(stderr, "kvscope: unknown command %s\n\n%s", a.cmd, usage);
        status = KVS_EXIT_CONFIG;
    } else {
        status = run(&a);
    }
    free(a.files);
    return status;
}
