/* kvscope: the command line. run, validate, replay (and later diagnose).
 * The only place that exits the process or handles signals. */
#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_CLEAN = 0, EXIT_REJECTED = 1, EXIT_CONFIG = 2 };

static const char usage[] =
    "usage: kvscope [run] --config FILE          run the pipeline until SIGINT/SIGTERM\n"
    "       kvscope validate --config FILE       check the configuration and exit\n"
    "       kvscope replay --config FILE [FILE…] run the pipeline over finite input, then exit\n"
    "       kvscope --version | --help\n"
    "\n"
    "options:\n"
    "  --config FILE      pipeline.yaml in the OpenTelemetry Collector layout\n"
    "  --log-level LEVEL  debug, info, warn or error (overrides service.telemetry.logs.level)\n"
    "\n"
    "replay: FILEs given on the command line feed every otlpjsonfile receiver in place of\n"
    "its `include`. Exit status: 0 all input delivered, 1 some input was rejected or\n"
    "dropped (the summary says where), 2 configuration error.\n";

static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "kvscope: warning: %s\n", msg);
}

/* ---- signals: a dedicated thread; the first asks for a drain, the second exits ---- */

static kvs_engine *volatile g_engine;

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int n = 0, sig;
    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (++n == 1) {
            fprintf(stderr, "\nkvscope: %s received, draining (send again to exit now)\n", strsignal(sig));
            if (g_engine)
                kvs_engine_request_stop(g_engine);
        } else {
            _exit(128 + sig);
        }
    }
    return NULL;
}

static void start_signal_thread(void)
{
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    if (pthread_create(&t, NULL, signal_main, &set) == 0)
        pthread_detach(t);
}

/* ---- replay summary ---- */

static const char *human_rate(double v, char *buf, size_t n)
{
    if (v >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else
        snprintf(buf, n, "%.0f", v);
    return buf;
}

static uint64_t total_accepted(const kvs_engine *e)
{
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(e, &t);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i]->kind, "receiver") == 0)
            sum += kvs_tel_get(&t[i]->accepted);
    return sum;
}

static void progress_line(const kvs_engine *e, uint64_t t0)
{
    uint64_t bytes, files;
    kvs_engine_progress(e, &bytes, &files);
    double secs = (double)(kvs_now_ns() - t0) / 1e9;
    char r[32];
    fprintf(stderr, "\r  %llu files, %.1f MB read, %s items/s   ", (unsigned long long)files, (double)bytes / 1e6,
            human_rate(secs > 0 ? (double)total_accepted(e) / secs : 0, r, sizeof r));
    fflush(stderr);
}

/* Prints the per-component counters; returns 1 when anything was not delivered. */
static int print_summary(const kvs_engine *e, uint64_t t0)
{
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(e, &t);
    uint64_t bytes, files;
    kvs_engine_progress(e, &bytes, &files);
    double secs = (double)(kvs_now_ns() - t0) / 1e9;
    uint64_t items = total_accepted(e);
    char r1[32], r2[32];
    printf("kvscope replay: %llu files, %.1f MB in %.2fs (%.1f MB/s), %llu items (%s/s)\n",
           (unsigned long long)files, (double)bytes / 1e6, secs, secs > 0 ? (double)bytes / 1e6 / secs : 0,
           (unsigned long long)items, human_rate(secs > 0 ? (double)items / secs : 0, r1, sizeof r1));
    (void)r2;
    printf("  %-10s %-28s %12s %10s %10s %12s %8s %8s\n", "kind", "component", "accepted", "refused", "rejected",
           "exported", "dropped", "errors");
    int unclean = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t acc = kvs_tel_get(&t[i]->accepted), ref = kvs_tel_get(&t[i]->refused),
                 rej = kvs_tel_get(&t[i]->rejected), exp = kvs_tel_get(&t[i]->exported),
                 drop = kvs_tel_get(&t[i]->dropped), errs = kvs_tel_get(&t[i]->errors),
                 fail = kvs_tel_get(&t[i]->failed);
        printf("  %-10s %-28s %12llu %10llu %10llu %12llu %8llu %8llu\n", t[i]->kind, t[i]->id,
               (unsigned long long)acc, (unsigned long long)ref, (unsigned long long)rej,
               (unsigned long long)exp, (unsigned long long)drop, (unsigned long long)errs);
        for (int k = 0; k < t[i]->nreasons; k++)
            printf("  %-10s   dropped %llu: %s\n", "", (unsigned long long)t[i]->reasons[k].count,
                   t[i]->reasons[k].reason);
        if (fail)
            printf("  %-10s   failed to export %llu\n", "", (unsigned long long)fail);
        if (ref || rej || drop || errs || fail)
            unclean = 1;
    }
    if (unclean)
        printf("  some input was not delivered: see the counters above and the warnings on stderr\n");
    return unclean;
}

/* ---- main ---- */

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

static int set_level(const char *s)
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
    args a;
    if (parse_args(argc, argv, &a) != 0) {
        free(a.files);
        return EXIT_CONFIG;
    }
    int is_run = strcmp(a.cmd, "run") == 0, is_validate = strcmp(a.cmd, "validate") == 0,
        is_replay = strcmp(a.cmd, "replay") == 0;
    if (!is_run && !is_validate && !is_replay) {
        fprintf(stderr, "kvscope: unknown command %s\n\n%s", a.cmd, usage);
        free(a.files);
        return EXIT_CONFIG;
    }
    if (!a.config) {
        fprintf(stderr, "kvscope: %s needs --config FILE\n\n%s", a.cmd, usage);
        free(a.files);
        return EXIT_CONFIG;
    }
    if (a.nfiles && !is_replay) {
        fprintf(stderr, "kvscope: input files are only taken by `replay`\n");
        free(a.files);
        return EXIT_CONFIG;
    }
    kvs_error err = { 0 };
    kvs_service_cfg *cfg = kvs_service_cfg_load(a.config, warn_cb, NULL, &err);
    if (!cfg) {
        fprintf(stderr, "kvscope: %s\n", err.msg);
        free(a.files);
        return EXIT_CONFIG;
    }
    if ((cfg->log_level && set_level(cfg->log_level) != 0) || (a.log_level && set_level(a.log_level) != 0)) {
        kvs_service_cfg_free(cfg);
        free(a.files);
        return EXIT_CONFIG;
    }
    start_signal_thread();
    kvs_engine_opts opts = { .replay = is_replay, .files = a.files, .nfiles = a.nfiles };
    kvs_engine *e = kvs_engine_create(cfg, &opts, &err);
    if (!e) {
        fprintf(stderr, "kvscope: %s\n", err.msg);
        kvs_service_cfg_free(cfg);
        free(a.files);
        return EXIT_CONFIG;
    }
    int status = EXIT_CLEAN;
    if (is_validate) {
        const kvs_telemetry *const *t;
        printf("%s: valid (%zu pipelines, %zu component instances)\n", a.config, cfg->npipes,
               kvs_engine_telemetry(e, &t));
    } else {
        g_engine = e;
        uint64_t t0 = kvs_now_ns();
        if (kvs_engine_start(e, &err) != 0) {
            fprintf(stderr, "kvscope: %s\n", err.msg);
            status = EXIT_CONFIG;
        } else {
            int tty = is_replay && isatty(STDERR_FILENO);
            if (is_run)
                KVS_INFO("kvscope", "running %zu pipelines from %s", cfg->npipes, a.config);
            while (kvs_engine_wait(e, tty ? 500 * KVS_MS : 0))
                progress_line(e, t0);
            if (tty)
                fputs("\r\033[K", stderr);
        }
        kvs_engine_shutdown(e);
        g_engine = NULL;
        if (is_replay && status == EXIT_CLEAN && print_summary(e, t0))
            status = EXIT_REJECTED;
    }
    kvs_engine_destroy(e);
    kvs_service_cfg_free(cfg);
    free(a.files);
    return status;
}
