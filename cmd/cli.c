#include "cmd/cli.h"

#include "core/clock.h"
#include "core/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kvs_cli_warn(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "kvscope: warning: %s\n", msg);
}

/* ---- signals ---- */

static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;
static kvs_engine *running_engine;   /* the engine a signal should drain */
static int signals_seen;

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int sig;
    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        pthread_mutex_lock(&engine_lock);
        if (++signals_seen == 1) {
            fprintf(stderr, "\nkvscope: %s received, draining (send again to exit now)\n", strsignal(sig));
            if (running_engine)
                kvs_engine_request_stop(running_engine);
            pthread_mutex_unlock(&engine_lock);
        } else {
            _exit(128 + sig);
        }
    }
    return NULL;
}

void kvs_cli_signals(void)
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

static void set_running(kvs_engine *e)
{
    pthread_mutex_lock(&engine_lock);
    running_engine = e;
    if (e && signals_seen)
        kvs_engine_request_stop(e);
    pthread_mutex_unlock(&engine_lock);
}

/* ---- progress and summary ---- */

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
static int summarize(const kvs_engine *e, uint64_t t0, FILE *out)
{
    const kvs_telemetry *const *t;
    size_t n = kvs_engine_telemetry(e, &t);
    uint64_t bytes, files;
    kvs_engine_progress(e, &bytes, &files);
    double secs = (double)(kvs_now_ns() - t0) / 1e9;
    uint64_t items = total_accepted(e);
    char r[32];
    if (out) {
        fprintf(out, "kvscope replay: %llu files, %.1f MB in %.2fs (%.1f MB/s), %llu items (%s/s)\n",
                (unsigned long long)files, (double)bytes / 1e6, secs, secs > 0 ? (double)bytes / 1e6 / secs : 0,
                (unsigned long long)items, human_rate(secs > 0 ? (double)items / secs : 0, r, sizeof r));
        fprintf(out, "  %-10s %-28s %12s %10s %10s %12s %8s %8s\n", "kind", "component", "accepted", "refused",
                "rejected", "exported", "dropped", "errors");
    }
    int unclean = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t acc = kvs_tel_get(&t[i]->accepted), ref = kvs_tel_get(&t[i]->refused),
                 rej = kvs_tel_get(&t[i]->rejected), exp = kvs_tel_get(&t[i]->exported),
                 drop = kvs_tel_get(&t[i]->dropped), errs = kvs_tel_get(&t[i]->errors),
                 fail = kvs_tel_get(&t[i]->failed);
        if (out) {
            fprintf(out, "  %-10s %-28s %12llu %10llu %10llu %12llu %8llu %8llu\n", t[i]->kind, t[i]->id,
                    (unsigned long long)acc, (unsigned long long)ref, (unsigned long long)rej,
                    (unsigned long long)exp, (unsigned long long)drop, (unsigned long long)errs);
            for (int k = 0; k < t[i]->nreasons; k++)
                fprintf(out, "  %-10s   dropped %llu: %s\n", "", (unsigned long long)t[i]->reasons[k].count,
                        t[i]->reasons[k].reason);
            if (fail)
                fprintf(out, "  %-10s   failed to export %llu\n", "", (unsigned long long)fail);
        }
        if (ref || rej || drop || errs || fail)
            unclean = 1;
    }
    if (unclean && out)
        fprintf(out, "  some input was not delivered: see the counters above and the warnings on stderr\n");
    return unclean;
}

int kvs_cli_run(const kvs_service_cfg *cfg, const kvs_engine_opts *opts, FILE *summary, kvs_error *err)
{
    kvs_engine *e = kvs_engine_create(cfg, opts, err);
    if (!e)
        return KVS_EXIT_CONFIG;
    int status = KVS_EXIT_CLEAN;
    set_running(e);
    uint64_t t0 = kvs_now_ns();
    if (kvs_engine_start(e, err) != 0) {
        status = KVS_EXIT_CONFIG;
    } else {
        int tty = opts->replay && isatty(STDERR_FILENO);
        if (!opts->replay)
            KVS_INFO("kvscope", "running %zu pipelines", cfg->npipes);
        while (kvs_engine_wait(e, tty ? 500 * KVS_MS : 0))
            progress_line(e, t0);
        if (tty)
            fputs("\r\033[K", stderr);
    }
    kvs_engine_shutdown(e);
    set_running(NULL);
    if (status == KVS_EXIT_CLEAN && opts->replay && summarize(e, t0, summary))
        status = KVS_EXIT_REJECTED;
    kvs_engine_destroy(e);
    return status;
}
