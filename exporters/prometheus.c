/* Exporter `prometheus`: serves the metrics it receives as Prometheus text
 * (exposition format 0.0.4) at http://<endpoint>/metrics, like the
 * Collector's prometheus exporter, so Prometheus or Grafana Agent can
 * scrape kvscope.
 *
 * consume (pipeline threads) folds each request into a kvs_promx store
 * (exporters/prometheus_text.h: naming, latest value per series, delta ->
 * cumulative, expiration); libmicrohttpd threads render the store on each
 * GET under the store's lock, gzip the page when the client accepts it, and
 * answer. Nothing is queued: consume never refuses. Points the store cannot
 * take (out of order, exponential histograms, type conflicts, bad
 * histograms) are counted as dropped with their reason. */
#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "core/net.h"
#include "exporters/prometheus_text.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HTTP_THREADS 2
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_IDLE_TIMEOUT_S 30
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct prom_exp {
    const char *id;
    kvs_telemetry *tel;
    char host[256];
    int port;
    kvs_promx_options opts;
    kvs_promx_label *consts;
    kvs_promx_store *store;
    struct MHD_Daemon *d;
} prom_exp;

static const char *const keys[] = { "endpoint", "namespace", "const_labels", "send_timestamps", "metric_expiration",
                                    "resource_to_telemetry_conversion", "add_metric_suffixes", NULL };
static const char *const r2t_keys[] = { "enabled", NULL };

/* ---- config ---- */

static int valid_name(const char *s, int allow_colon)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              (allow_colon && *s == ':')))
            return 0;
    return 1;
}

static void pe_free(prom_exp *x)
{
    kvs_promx_free(x->store);
    free(x->consts);
    free(x);
}

static int pe_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    const kvs_cfg_node *c = ctx->cfg;
    if (kvs_cfg_expect_map(c, err) || kvs_cfg_check_keys(c, keys, err))
        return KVS_E_INVALID;
    prom_exp *x = calloc(1, sizeof *x);
    if (!x)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    int send_ts, suffixes, r2t = 0;
    const char *ns;
    if (kvs_cfg_endpoint(c, "endpoint", "localhost:9464", x->host, sizeof x->host, &x->port, err) ||
        kvs_cfg_str(c, "namespace", NULL, &ns, err) ||
        kvs_cfg_bool(c, "send_timestamps", 0, &send_ts, err) ||
        kvs_cfg_bool(c, "add_metric_suffixes", 1, &suffixes, err) ||
        kvs_cfg_duration(c, "metric_expiration", 5 * 60 * KVS_SEC, &x->opts.expiration_ns, err))
        goto bad;
    if (ns && *ns && !valid_name(ns, 0)) {
        kvs_cfg_errorf(err, kvs_cfg_get(c, "namespace"),
                       "namespace \"%s\" must be letters, digits and `_`, not starting with a digit", ns);
        goto bad;
    }
    const kvs_cfg_node *r = kvs_cfg_get(c, "resource_to_telemetry_conversion");
    if (r && (kvs_cfg_expect_map(r, err) || kvs_cfg_check_keys(r, r2t_keys, err) ||
              kvs_cfg_bool(r, "enabled", 0, &r2t, err)))
        goto bad;
    const kvs_cfg_node *cl = kvs_cfg_get(c, "const_labels");
    if (cl && cl->type != KVS_CFG_NULL) {
        if (cl->type != KVS_CFG_MAP) {
            kvs_cfg_errorf(err, cl, "const_labels must be a map of label name to value");
            goto bad;
        }
        x->consts = calloc(cl->n + 1, sizeof *x->consts);
        if (!x->consts) {
            kvs_errorf(err, KVS_E_NOMEM, "out of memory");
            goto bad;
        }
        for (size_t i = 0; i < cl->n; i++) {
            const char *k = cl->keys[i]->scalar;
            if (!valid_name(k, 0) || strncmp(k, "__", 2) == 0) {
                kvs_cfg_errorf(err, cl->keys[i], "const_labels: \"%s\" is not a Prometheus label name", k);
                goto bad;
            }
            if (cl->items[i]->type != KVS_CFG_SCALAR) {
                kvs_cfg_errorf(err, cl->items[i], "const_labels.%s: expected a string", k);
                goto bad;
            }
            x->consts[i] = (kvs_promx_label){ k, cl->items[i]->scalar };
        }
        x->opts.nconst_labels = cl->n;
    }
    x->opts.ns = ns;
    x->opts.const_labels = x->consts;
    x->opts.send_timestamps = send_ts;
    x->opts.add_metric_suffixes = suffixes;
    x->opts.resource_to_telemetry = r2t;
    x->id = ctx->id;
    x->tel = ctx->tel;
    *state = x;
    return 0;
bad:
    pe_free(x);
    return KVS_E_INVALID;
}

/* ---- HTTP ---- */

static int accepts_gzip(struct MHD_Connection *conn)
{
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    for (const char *p = ae; p && (p = strcasestr(p, "gzip")) != NULL; p += 4) {
        const char *q = p + 4;
        q += strspn(q, " ");
        if (strncmp(q, ";q=", 3) == 0 && strtod(q + 3, NULL) <= 0)
            continue;   /* gzip;q=0: refused */
        return 1;
    }
    return 0;
}

/* gzip of in into out; 0 or -1. */
static int gzip_buf(const kvs_buf *in, kvs_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong bound = deflateBound(&z, (uLong)in->len);
    if (kvs_buf_reserve(out, bound + 32)) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    z.next_out = (Bytef *)out->data;
    z.avail_out = (uInt)(out->cap);
    int rc = deflate(&z, Z_FINISH);
    out->len = z.total_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    prom_exp *x = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "GET, HEAD");
    if (strcmp(url, "/metrics") != 0)
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n", NULL);
    kvs_buf page = { 0 };
    if (kvs_promx_render(x->store, kvs_now_ns(), &page) != 0) {
        kvs_buf_free(&page);
        return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    }
    int gz = 0;
    if (accepts_gzip(conn) && page.len > 0) {
        kvs_buf z = { 0 };
        if (gzip_buf(&page, &z) == 0) {
            kvs_buf_free(&page);
            page = z;
            gz = 1;
        } else {
            kvs_buf_free(&z);
        }
    }
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(page.len, page.data ? page.data : "",
                                                                                 page.data ? free : NULL);
    if (!r) {
        kvs_buf_free(&page);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    if (gz)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- lifecycle ---- */

static int pe_start(void *state, kvs_error *err)
{
    prom_exp *x = state;
    x->store = kvs_promx_new(&x->opts);
    if (!x->store)
        return kvs_errorf(err, KVS_E_NOMEM, "%s: out of memory", x->id);
    int port = x->port;
    bool v6 = false;
    int fd = kvs_net_listen(x->host, x->port, 128, &port, &v6, err);
    if (fd < 0) {
        kvs_error_prefix(err, "%s", x->id);
        return KVS_E_IO;
    }
    kvs_httpd_opts ho = { .log_id = x->id,
                          .threads = HTTP_THREADS,
                          .max_connections = HTTP_MAX_CONNECTIONS,
                          .idle_timeout_s = HTTP_IDLE_TIMEOUT_S };
    x->d = kvs_httpd_start(fd, v6, &ho, on_request, x);
    if (!x->d)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the HTTP server on %s:%d", x->id, x->host, port);
    KVS_INFO(x->id, "serving Prometheus metrics at http://%s%s%s:%d/metrics", v6 ? "[" : "", x->host, v6 ? "]" : "",
             port);
    return 0;
}

static int pe_consume(void *state, kvs_batch *b, kvs_error *err)
{
    prom_exp *x = state;
    if (b->signal != KVS_SIG_METRICS || !x->store)
        return kvs_errorf(err, KVS_E_INVALID, "%s: takes metrics only", x->id);
    kvs_promx_stats st;
    kvs_promx_add(x->store, b->metrics, kvs_now_ns(), &st);
    kvs_tel_add(&x->tel->exported, st.stored + st.stale);
    if (st.out_of_order)
        kvs_tel_drop(x->tel, "out_of_order", st.out_of_order);
    if (st.unsupported)
        kvs_tel_drop(x->tel, "unsupported_type", st.unsupported);
    if (st.type_conflict)
        kvs_tel_drop(x->tel, "type_conflict", st.type_conflict);
    if (st.invalid)
        kvs_tel_drop(x->tel, "invalid_point", st.invalid);
    if (st.type_conflict || st.invalid)
        KVS_DEBUG(x->id, "%zu points of a conflicting type, %zu invalid points dropped", st.type_conflict, st.invalid);
    return 0;
}

static void pe_shutdown(void *state, uint64_t deadline_ns)
{
    prom_exp *x = state;
    if (x->d) {
        MHD_stop_daemon(x->d);   /* closes the listening socket too */
        x->d = NULL;
    }
}

static void pe_destroy(void *state)
{
    prom_exp *x = state;
    pe_shutdown(x, 0);
    pe_free(x);
}

const kvs_component_def kvs_exporter_prometheus = {
    .type = "prometheus",
    .kind = KVS_EXPORTER,
    .signals = KVS_SIG_METRICS,
    .create = pe_create,
    .start = pe_start,
    .consume = pe_consume,
    .shutdown = pe_shutdown,
    .destroy = pe_destroy,
};
