/* Extension `health_check`: an HTTP endpoint for liveness and readiness
 * probes, as the OpenTelemetry Collector's. GET <path> answers 200 with
 * {"status":"Server available","upSince":"<RFC 3339>","uptime":"<s>s"}
 * while the pipelines run, and 503 with {"status":"Server not available",
 * "state":"starting"|"draining",...} before every component has started
 * and once draining began (SIGTERM or the end of a replay). Extensions are
 * started before the pipelines and stopped after them, so a probe sees the
 * whole drain. create only validates `endpoint` and `path`; start binds. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "core/net.h"
#include "core/selfmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_ENDPOINT "localhost:13133"

typedef struct health {
    const char *id;
    const char *endpoint;
    const char *path;
    kvs_host *host;
    kvs_own_http *http;
    uint64_t up_mono_ns;      /* when start bound the endpoint */
    char up_since[40];        /* the same instant, RFC 3339 UTC */
} health;

static const char *const keys[] = { "endpoint", "path", NULL };

static int health_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    health *h = calloc(1, sizeof *h);
    if (!h)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    h->id = ctx->id;
    h->host = ctx->host;
    char host[256];
    int port;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err) ||
        kvs_cfg_str(c, "endpoint", DEFAULT_ENDPOINT, &h->endpoint, err) ||
        kvs_cfg_str(c, "path", "/", &h->path, err))
        goto fail;
    if (kvs_hostport_parse(h->endpoint, host, sizeof host, &port) != 0) {
        kvs_cfg_errorf(err, kvs_cfg_get(c, "endpoint"),
                       "expected host:port (e.g. localhost:13133; IPv6 as [::1]:13133), got \"%.100s\"",
                       h->endpoint);
        goto fail;
    }
    if (h->path[0] != '/') {
        kvs_cfg_errorf(err, kvs_cfg_get(c, "path"), "path must start with /, got \"%.100s\"", h->path);
        goto fail;
    }
    *state = h;
    return 0;
fail:
    free(h);
    return KVS_E_INVALID;
}

/* A JSON string of printable ASCII (the values here are ours). */
static void json_str(kvs_buf *b, const char *s)
{
    kvs_buf_putc(b, '"');
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            kvs_buf_putc(b, '\\'), kvs_buf_putc(b, *s);
        else if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
            kvs_buf_putc(b, *s);
    kvs_buf_putc(b, '"');
}

static int answer(void *ctx, const char *path, kvs_buf *body, const char **ctype)
{
    health *h = ctx;
    if (strcmp(path, h->path) != 0) {
        kvs_buf_printf(body, "not found: the health check is at %s\n", h->path);
        return 404;
    }
    kvs_host_state st = kvs_host_get_state(h->host);
    int up = st == KVS_HOST_RUNNING && !kvs_host_stopping(h->host);
    double uptime = (double)(kvs_now_ns() - h->up_mono_ns) / 1e9;
    *ctype = "application/json";
    kvs_buf_puts(body, "{\"status\":");
    json_str(body, up ? "Server available" : "Server not available");
    if (!up) {
        kvs_buf_puts(body, ",\"state\":");
        json_str(body, st == KVS_HOST_STARTING && !kvs_host_stopping(h->host) ? "starting" : "draining");
    }
    kvs_buf_puts(body, ",\"upSince\":");
    json_str(body, h->up_since);
    kvs_buf_printf(body, ",\"uptime\":\"%.3fs\"}\n", uptime);
    return up ? 200 : 503;
}

static int health_start(void *state, kvs_error *err)
{
    health *h = state;
    h->up_mono_ns = kvs_now_ns();
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(h->up_since, sizeof h->up_since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char who[200];
    snprintf(who, sizeof who, "extensions.%s.endpoint", h->id);
    h->http = kvs_own_http_start(who, h->endpoint, answer, h, err);
    if (!h->http)
        return err ? err->code : KVS_E_IO;
    KVS_INFO(h->id, "health check at http://%s%s (port %d)", h->endpoint, h->path, kvs_own_http_port(h->http));
    return 0;
}

static void health_shutdown(void *state, uint64_t deadline_ns)
{
    (void)deadline_ns;
    health *h = state;
    kvs_own_http_stop(h->http);
    h->http = NULL;
}

static void health_destroy(void *state)
{
    health *h = state;
    if (!h)
        return;
    kvs_own_http_stop(h->http);
    free(h);
}

const kvs_component_def kvs_extension_health_check = {
    .type = "health_check",
    .kind = KVS_EXTENSION,
    .create = health_create,
    .start = health_start,
    .shutdown = health_shutdown,
    .destroy = health_destroy,
};
