/* Receiver `prometheus`: scrapes Prometheus / OpenMetrics endpoints (the
 * LMCache server, vLLM, SGLang, anything) and emits OTLP metrics, as the
 * Collector's prometheus receiver does, configured with Prometheus
 * `scrape_configs` under `config:` (receivers/prometheus_config.c).
 *
 * One scraper thread drives every target with libcurl's multi interface:
 * one easy handle per target (its connection is kept between scrapes),
 * each with its own timeout, so a target that hangs, refuses or answers
 * garbage never delays another. Targets start at a stable offset inside
 * their interval (a hash of the URL), spreading the load. The body is never
 * buffered: each chunk curl hands over is fed to the streaming parser
 * (formats/prom_text.h), whose samples go straight into the converter
 * (formats/prom_otlp.h) with one series state per target, so counter start
 * times and resets carry across scrapes.
 *
 * Per scrape and target the request also carries the series Prometheus
 * adds (as gauges, with the target's resource): up, scrape_duration_seconds,
 * scrape_samples_scraped, scrape_samples_post_metric_relabeling,
 * scrape_series_added. As in Prometheus, a failed scrape (connection
 * refused, timeout, HTTP status other than 2xx, a rejected line, a sample or
 * body limit) keeps none of its samples and reports up 0, with the reason
 * logged (at warn when the state or the reason changes).
 *
 * Labels: job/instance become service.name/service.instance.id through the
 * converter, always (identity_from_scrape: target_info's service_name /
 * service_instance_id stay plain resource attributes, as in the
 * Collector); static target labels are added to every sample; with
 * honor_labels false an exposed label that clashes with a target label is
 * renamed exported_<name>, with true the exposed one wins (that rewriting
 * and the series sets behind scrape_series_added are in
 * receivers/prometheus_samples.c).
 *
 * Shutdown sets a flag and wakes curl_multi_poll (curl_multi_wakeup); the
 * thread abandons the scrapes in flight and exits. */
#include "receivers/prometheus_int.h"

#include "core/clock.h"
#include "core/component.h"
#include "core/log.h"
#include "formats/prom_otlp.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPT_HEADER "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
#define ERRBODY_MAX 160
#define SAMPLE_LIMIT_HIT 0x5A17   /* a sample callback's "stop": the sample_limit was passed */
#define MAX_POLL_MS 1000
#define SECRET_MAX 4096

typedef struct promrecv promrecv;

typedef struct target {
    promrecv *r;
    const kvs_promr_job *job;
    const kvs_promr_target *tc;
    char *url;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    kvs_prom_series_state *state;
    kvs_promr_hset prev, cur;       /* series of the last good scrape; of this one */
    uint64_t next_ns;               /* when the next scrape is due (monotonic) */
    int active;
    int was_up;                     /* -1 before the first scrape */
    char last_reason[256];

    /* the scrape in flight */
    struct curl_slist *headers;
    char password[SECRET_MAX];
    uint64_t start_ns, start_wall;
    kvs_arena *arena;
    kvs_prom_conv *conv;
    kvs_prom_parser *parser;
    unsigned long samples, rejected, added;
    uint64_t bytes;
    long status;
    char fail[256];
    char first_reject[200];
    char errbody[ERRBODY_MAX + 1];
    size_t nerrbody;

    kvs_promr_labels labels;        /* label rewriting scratch */
} target;

struct promrecv {
    const char *id;
    kvs_host *host;
    kvs_telemetry *tel;
    kvs_next *next;
    kvs_promr_cfg cfg;
    target *targets;
    size_t ntargets;
    CURLM *multi;
    int curl_init;
    pthread_t thread;
    int running;
    atomic_int stop;
};

/* ---- samples ---- */

static int on_sample(void *ctx, const kvs_prom_sample *s)
{
    target *t = ctx;
    t->samples++;
    if (t->job->sample_limit && t->samples > (unsigned long)t->job->sample_limit)
        return SAMPLE_LIMIT_HIT;
    kvs_prom_sample c = *s;
    if (!t->job->honor_timestamps) {
        c.has_timestamp = false;
        c.timestamp_ns = 0;
    }
    if (kvs_promr_relabel(&t->labels, t->tc, t->job->honor_labels, s, &c))
        return KVS_E_NOMEM;
    uint64_t h = kvs_promr_series_hash(&c);
    int fresh = kvs_promr_hset_add(&t->cur, h);
    if (fresh < 0)
        return KVS_E_NOMEM;
    if (fresh && !kvs_promr_hset_has(&t->prev, h))
        t->added++;
    return kvs_prom_conv_sample(t->conv, &c);
}

static int on_reject(void *ctx, const kvs_prom_reject *r)
{
    target *t = ctx;
    if (t->rejected++ == 0)
        snprintf(t->first_reject, sizeof t->first_reject, "line %lu column %lu: %s: \"%.*s\"", r->line, r->column,
                 r->reason, (int)(r->text.n > 60 ? 60 : r->text.n), r->text.p ? r->text.p : "");
    return 0;
}

/* One gauge Prometheus adds to every scrape, with the target's labels. */
static int report_sample(target *t, const char *name, double v, unsigned long line)
{
    kvs_prom_family f = { .name = { name, strlen(name) }, .type = KVS_PROM_GAUGE, .has_type = true, .line = line };
    kvs_prom_sample s = { .family = &f, .name = f.name, .value = v, .line = line };
    if (kvs_promr_target_labels(&t->labels, t->tc, &s))
        return KVS_E_NOMEM;
    return kvs_prom_conv_sample(t->conv, &s);
}

/* ---- one scrape ---- */

static int make_parser(target *t)
{
    char *ct = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
    kvs_prom_options po = { .mode = KVS_PROM_MODE_AUTO, .content_type = ct };
    kvs_prom_handler h = { .sample = on_sample, .reject = on_reject, .ctx = t };
    t->parser = kvs_prom_new(&po, &h);
    return t->parser ? 0 : KVS_E_NOMEM;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    target *t = ud;
    size_t n = size * nmemb;
    if (t->status == 0)
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status < 200 || t->status > 299) {
        /* keep the start of an error page for the log, then stop reading */
        size_t k = n < ERRBODY_MAX - t->nerrbody ? n : ERRBODY_MAX - t->nerrbody;
        memcpy(t->errbody + t->nerrbody, p, k);
        t->nerrbody += k;
        t->errbody[t->nerrbody] = 0;
        return t->nerrbody < ERRBODY_MAX ? n : 0;
    }
    t->bytes += n;
    if (t->job->body_size_limit && t->bytes > (uint64_t)t->job->body_size_limit) {
        snprintf(t->fail, sizeof t->fail, "body larger than body_size_limit (%lld bytes)",
                 (long long)t->job->body_size_limit);
        return 0;
    }
    if (!t->parser && make_parser(t)) {
        snprintf(t->fail, sizeof t->fail, "out of memory");
        return 0;
    }
    int rc = kvs_prom_feed(t->parser, p, n);
    if (rc) {
        if (rc == SAMPLE_LIMIT_HIT)
            snprintf(t->fail, sizeof t->fail, "sample_limit %lld exceeded", (long long)t->job->sample_limit);
        else
            snprintf(t->fail, sizeof t->fail, "out of memory while parsing");
        return 0;
    }
    return n;
}

/* Reads a secret file (trailing whitespace removed) into buf. */
static int read_secret(const char *path, char *buf, size_t cap, char *why, size_t whyn)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whyn, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && strchr(" \t\r\n", buf[n - 1]))
        buf[--n] = 0;
    if (strpbrk(buf, "\r\n")) {
        snprintf(why, whyn, "%s: a credential may not contain a line break", path);
        return -1;
    }
    return 0;
}

static int add_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);
    if (!n)
        return -1;
    *h = n;
    return 0;
}

/* Headers (and basic-auth password) of one scrape; secret files are read
 * again every time so a rotated token is picked up. */
static int build_request(target *t)
{
    const kvs_promr_job *j = t->job;
    char line[SECRET_MAX + 128];
    struct curl_slist *h = NULL;
    if (add_header(&h, ACCEPT_HEADER))
        goto nomem;
    snprintf(line, sizeof line, "X-Prometheus-Scrape-Timeout-Seconds: %g", (double)j->timeout_ns / 1e9);
    if (add_header(&h, line))
        goto nomem;
    if (j->bearer || j->bearer_file) {
        char tok[SECRET_MAX];
        if (j->bearer_file) {
            if (read_secret(j->bearer_file, tok, sizeof tok, t->fail, sizeof t->fail)) {
                curl_slist_free_all(h);
                return -1;
            }
        } else {
            snprintf(tok, sizeof tok, "%s", j->bearer);
        }
        snprintf(line, sizeof line, "Authorization: %s %s", j->auth_type, tok);
        if (add_header(&h, line))
            goto nomem;
    }
    for (size_t i = 0; i < j->nheaders; i++) {
        snprintf(line, sizeof line, "%s: %s", j->headers[i].name, j->headers[i].value);
        if (add_header(&h, line))
            goto nomem;
    }
    if (j->username) {
        t->password[0] = 0;
        if (j->password_file &&
            read_secret(j->password_file, t->password, sizeof t->password, t->fail, sizeof t->fail)) {
            curl_slist_free_all(h);
            return -1;
        }
        if (j->password)
            snprintf(t->password, sizeof t->password, "%s", j->password);
        curl_easy_setopt(t->easy, CURLOPT_PASSWORD, t->password);
    }
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, h);
    t->headers = h;
    return 0;
nomem:
    curl_slist_free_all(h);
    snprintf(t->fail, sizeof t->fail, "out of memory");
    return -1;
}

static void clear_scrape(target *t)
{
    kvs_prom_free(t->parser);
    kvs_prom_conv_free(t->conv);
    kvs_arena_free(t->arena);
    curl_slist_free_all(t->headers);
    t->parser = NULL;
    t->conv = NULL;
    t->arena = NULL;
    t->headers = NULL;
    t->active = 0;
}

static int new_conv(target *t, bool with_state)
{
    t->arena = kvs_arena_new();
    /* the scrape config names the service, not the exposition's target_info
     * (as the Collector's prometheus receiver) */
    kvs_prom_conv_options co = { .scrape_time_ns = t->start_wall, .state = with_state ? t->state : NULL,
                                 .job = t->tc->job_label, .instance = t->tc->instance,
                                 .identity_from_scrape = true };
    t->conv = t->arena ? kvs_prom_conv_new(t->arena, &co) : NULL;
    return t->conv ? 0 : -1;
}

static void describe_failure(target *t, CURLcode cc)
{
    if (t->fail[0])
        return;
    if (!t->status)   /* no body came: the status was not looked at yet */
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status && (t->status < 200 || t->status > 299) && (cc == CURLE_OK || cc == CURLE_WRITE_ERROR)) {
        size_t k = strcspn(t->errbody, "\r\n");
        t->errbody[k] = 0;
        snprintf(t->fail, sizeof t->fail, "HTTP %ld%s%.120s", t->status, k ? ": " : "", t->errbody);
        return;
    }
    if (cc == CURLE_OK)
        return;
    long oserr = 0;
    curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &oserr);
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(t->fail, sizeof t->fail, "timeout after %gs", (double)t->job->timeout_ns / 1e9);
        break;
    case CURLE_COULDNT_CONNECT:
        if (oserr == ECONNREFUSED)
            snprintf(t->fail, sizeof t->fail, "connection refused");
        else
            snprintf(t->fail, sizeof t->fail, "cannot connect: %.200s",
                     t->errbuf[0] ? t->errbuf : strerror((int)oserr));
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(t->fail, sizeof t->fail, "cannot resolve the host: %.200s", t->errbuf);
        break;
    default:
        snprintf(t->fail, sizeof t->fail, "%.200s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc));
        break;
    }
}

static void deliver(promrecv *r, target *t, kvs_metrics_req *req)
{
    kvs_batch *b = kvs_batch_wrap(KVS_SIG_METRICS, t->arena, &req->base);
    if (!b)
        return;   /* the arena is freed by clear_scrape */
    t->arena = NULL;   /* the batch owns it now */
    b->received_ns = t->start_ns;
    if (b->items && r->next) {
        kvs_error err;
        int rc = kvs_next_consume(r->next, b, &err);
        if (rc == 0) {
            kvs_tel_add(&r->tel->accepted, b->items);
        } else {
            kvs_tel_add(rc == KVS_E_REFUSED ? &r->tel->refused : &r->tel->rejected, b->items);
            KVS_WARN(r->id, "scrape of %s: %zu metric points not delivered: %s", t->url, b->items, err.msg);
        }
    }
    kvs_batch_unref(b);
}

static void report(promrecv *r, target *t, int up)
{
    if (!up) {
        kvs_tel_add(&r->tel->errors, 1);
        if (t->was_up != 0 || strcmp(t->last_reason, t->fail) != 0)
            KVS_WARN(r->id, "scrape of %s (job %s) failed: %s", t->url, t->job->name, t->fail);
        else
            KVS_DEBUG(r->id, "scrape of %s (job %s) failed: %s", t->url, t->job->name, t->fail);
        snprintf(t->last_reason, sizeof t->last_reason, "%s", t->fail);
    } else if (t->was_up == 0) {
        KVS_INFO(r->id, "scrape of %s (job %s) is back up", t->url, t->job->name);
        t->last_reason[0] = 0;
    }
    t->was_up = up;
}

static void schedule(target *t, uint64_t end)
{
    uint64_t iv = t->job->interval_ns;
    t->next_ns += iv;
    if (t->next_ns <= end)
        t->next_ns += ((end - t->next_ns) / iv + 1) * iv;   /* skip the slots we missed */
}

/* Ends a scrape: keeps its samples when it succeeded, adds the report
 * series, delivers, schedules the next one. */
static void scrape_end(promrecv *r, target *t, CURLcode cc)
{
    uint64_t end = kvs_now_ns();
    int counted = cc == CURLE_OK || t->fail[0];   /* not a transport failure */
    describe_failure(t, cc);
    if (!t->fail[0]) {
        int rc = t->parser || make_parser(t) == 0 ? kvs_prom_finish(t->parser) : KVS_E_NOMEM;
        if (rc == SAMPLE_LIMIT_HIT)
            snprintf(t->fail, sizeof t->fail, "sample_limit %lld exceeded", (long long)t->job->sample_limit);
        else if (rc)
            snprintf(t->fail, sizeof t->fail, "out of memory while parsing");
    }
    if (!t->fail[0] && t->rejected)
        snprintf(t->fail, sizeof t->fail, "%lu line%s rejected (first: %s)", t->rejected, t->rejected == 1 ? "" : "s",
                 t->first_reject);
    int up = !t->fail[0];
    unsigned long samples = counted ? t->samples : 0, added = up ? t->added : 0;
    if (!up) {
        /* as Prometheus: a failed scrape keeps none of its samples */
        kvs_prom_conv_free(t->conv);
        kvs_arena_free(t->arena);
        t->conv = NULL;
        t->arena = NULL;
        if (new_conv(t, false)) {
            clear_scrape(t);
            schedule(t, end);
            return;
        }
    }
    double dur = (double)(end - t->start_ns) / 1e9;
    kvs_metrics_req *req = NULL;
    kvs_error err;
    if (report_sample(t, "up", up, ULONG_MAX) || report_sample(t, "scrape_duration_seconds", dur, ULONG_MAX - 1) ||
        report_sample(t, "scrape_samples_scraped", (double)samples, ULONG_MAX - 2) ||
        report_sample(t, "scrape_samples_post_metric_relabeling", (double)samples, ULONG_MAX - 3) ||
        report_sample(t, "scrape_series_added", (double)added, ULONG_MAX - 4) ||
        kvs_prom_conv_finish(t->conv, &req, &err) || !req) {
        KVS_WARN(r->id, "scrape of %s: out of memory building the request", t->url);
    } else {
        report(r, t, up);
        deliver(r, t, req);
    }
    if (up) {
        kvs_promr_hset tmp = t->prev;
        t->prev = t->cur;
        t->cur = tmp;
    }
    kvs_promr_hset_clear(&t->cur);
    clear_scrape(t);
    schedule(t, end);
}

static void scrape_begin(promrecv *r, target *t, uint64_t now)
{
    t->start_ns = now;
    t->start_wall = kvs_wall_ns();
    t->samples = t->rejected = t->added = 0;
    t->bytes = 0;
    t->status = 0;
    t->fail[0] = t->first_reject[0] = t->errbuf[0] = 0;
    t->nerrbody = 0;
    t->errbody[0] = 0;
    t->active = 1;
    if (new_conv(t, true)) {
        snprintf(t->fail, sizeof t->fail, "out of memory");
        scrape_end(r, t, CURLE_OK);
        return;
    }
    if (build_request(t)) {
        scrape_end(r, t, CURLE_OK);
        return;
    }
    CURLMcode mc = curl_multi_add_handle(r->multi, t->easy);
    if (mc != CURLM_OK) {
        snprintf(t->fail, sizeof t->fail, "cannot start the request: %s", curl_multi_strerror(mc));
        scrape_end(r, t, CURLE_OK);
    }
}

/* ---- the scraper thread ---- */

static void *scrape_main(void *arg)
{
    promrecv *r = arg;
    while (!atomic_load(&r->stop) && !kvs_host_stopping(r->host)) {
        uint64_t now = kvs_now_ns();
        for (size_t i = 0; i < r->ntargets; i++)
            if (!r->targets[i].active && r->targets[i].next_ns <= now)
                scrape_begin(r, &r->targets[i], now);
        int running = 0;
        curl_multi_perform(r->multi, &running);
        CURLMsg *m;
        int queued;
        while ((m = curl_multi_info_read(r->multi, &queued))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *e = m->easy_handle;
            CURLcode cc = m->data.result;
            char *priv = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            curl_multi_remove_handle(r->multi, e);
            if (priv)
                scrape_end(r, (target *)(void *)priv, cc);
        }
        now = kvs_now_ns();
        uint64_t wait = (uint64_t)MAX_POLL_MS * KVS_MS;
        for (size_t i = 0; i < r->ntargets; i++) {
            const target *t = &r->targets[i];
            if (!t->active)
                wait = t->next_ns <= now ? 0 : (t->next_ns - now < wait ? t->next_ns - now : wait);
        }
        if (wait)
            curl_multi_poll(r->multi, NULL, 0, (int)((wait + KVS_MS - 1) / KVS_MS), NULL);
    }
    for (size_t i = 0; i < r->ntargets; i++)
        if (r->targets[i].active) {
            curl_multi_remove_handle(r->multi, r->targets[i].easy);
            kvs_promr_hset_clear(&r->targets[i].cur);
            clear_scrape(&r->targets[i]);
        }
    return NULL;
}

/* ---- lifecycle ---- */

static void pr_free(promrecv *r)
{
    for (size_t i = 0; r->targets && i < r->ntargets; i++) {
        target *t = &r->targets[i];
        clear_scrape(t);
        if (t->easy)
            curl_easy_cleanup(t->easy);
        kvs_prom_series_state_free(t->state);
        kvs_promr_hset_free(&t->prev);
        kvs_promr_hset_free(&t->cur);
        kvs_promr_labels_free(&t->labels);
        free(t->url);
    }
    free(r->targets);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    if (r->curl_init)
        curl_global_cleanup();
    kvs_promr_cfg_free(&r->cfg);
    free(r);
}

static int pr_create(const kvs_create_ctx *ctx, void **state, kvs_error *err)
{
    promrecv *r = calloc(1, sizeof *r);
    if (!r)
        return kvs_errorf(err, KVS_E_NOMEM, "out of memory");
    if (kvs_promr_cfg_parse(ctx->cfg, ctx->id, &r->cfg, err)) {
        pr_free(r);
        return KVS_E_INVALID;
    }
    r->id = ctx->id;
    r->host = ctx->host;
    r->tel = ctx->tel;
    r->next = ctx->next[kvs_signal_index(KVS_SIG_METRICS)];
    *state = r;
    return 0;
}

static int setup_target(promrecv *r, target *t, const kvs_promr_target *tc, uint64_t now, kvs_error *err)
{
    const kvs_promr_job *j = &r->cfg.jobs[tc->job];
    t->r = r;
    t->job = j;
    t->tc = tc;
    t->was_up = -1;
    size_t n = strlen(j->scheme) + 3 + strlen(tc->address) + strlen(j->path) + strlen(j->query) + 1;
    t->url = malloc(n);
    t->state = kvs_prom_series_state_new(5);
    t->easy = curl_easy_init();
    if (!t->url || !t->state || !t->easy)
        return kvs_errorf(err, KVS_E_NOMEM, "%s: out of memory", r->id);
    snprintf(t->url, n, "%s://%s%s%s", j->scheme, tc->address, j->path, j->query);
    CURL *e = t->easy;
    long to_ms = (long)((j->timeout_ns + KVS_MS - 1) / KVS_MS);
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)(void *)t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "kvscope/" KVS_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_ms);
    if (j->username) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, j->username);
    }
    if (j->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, j->ca_file);
    if (j->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, j->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, j->key_file);
    }
    if (j->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* a stable offset inside the interval, from the URL and the job */
    uint64_t h = kvs_promr_fnv(kvs_promr_fnv(KVS_PROMR_FNV_OFFSET, j->name, strlen(j->name)), t->url, strlen(t->url));
    t->next_ns = now + h % j->interval_ns;
    return 0;
}

static int pr_start(void *state, kvs_error *err)
{
    promrecv *r = state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kvs_errorf(err, KVS_E_IO, "%s: libcurl initialisation failed", r->id);
    r->curl_init = 1;
    r->multi = curl_multi_init();
    r->targets = calloc(r->cfg.ntargets, sizeof *r->targets);
    if (!r->multi || !r->targets)
        return kvs_errorf(err, KVS_E_NOMEM, "%s: out of memory", r->id);
    r->ntargets = r->cfg.ntargets;
    uint64_t now = kvs_now_ns();
    for (size_t i = 0; i < r->ntargets; i++)
        if (setup_target(r, &r->targets[i], &r->cfg.targets[i], now, err))
            return KVS_E_NOMEM;
    if (pthread_create(&r->thread, NULL, scrape_main, r) != 0)
        return kvs_errorf(err, KVS_E_IO, "%s: cannot start the scraper thread", r->id);
    r->running = 1;
    KVS_INFO(r->id, "scraping %zu target%s in %zu job%s", r->ntargets, r->ntargets == 1 ? "" : "s", r->cfg.njobs,
             r->cfg.njobs == 1 ? "" : "s");
    return 0;
}

static void pr_shutdown(void *state, uint64_t deadline_ns)
{
    promrecv *r = state;
    atomic_store(&r->stop, 1);
    if (r->multi)
        curl_multi_wakeup(r->multi);
    if (r->running) {
        pthread_join(r->thread, NULL);
        r->running = 0;
    }
}

static void pr_destroy(void *state)
{
    promrecv *r = state;
    pr_shutdown(r, 0);
    pr_free(r);
}

const kvs_component_def kvs_receiver_prometheus = {
    .type = "prometheus",
    .kind = KVS_RECEIVER,
    .signals = KVS_SIG_METRICS,
    .create = pr_create,
    .start = pr_start,
    .shutdown = pr_shutdown,
    .destroy = pr_destroy,
};
