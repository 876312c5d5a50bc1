/* Listening endpoints of kvscope's HTTP servers (see net.h): `host:port`
 * parsing, the listening socket, and libmicrohttpd started on it. */
#include "core/net.h"

#include "core/log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- addresses ---- */

int kvs_hostport_parse(const char *s, char *host, size_t hostn, int *port)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon)
        return KVS_HOSTPORT_NO_PORT;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    } else if (memchr(h, ':', hl)) {
        return KVS_HOSTPORT_BARE_IPV6;
    }
    long p = 0;
    for (const char *q = colon + 1; *q; q++) {
        if (*q < '0' || *q > '9' || p > 65535)
            return KVS_HOSTPORT_BAD_PORT;
        p = p * 10 + (*q - '0');
    }
    if (!colon[1] || p > 65535)
        return KVS_HOSTPORT_BAD_PORT;
    if (hl >= hostn)
        return KVS_HOSTPORT_LONG_HOST;
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f || h[i] == '/' || h[i] == '[' || h[i] == ']')
            return KVS_HOSTPORT_BAD_HOST;
    if (hl == 0)
        snprintf(host, hostn, "0.0.0.0");
    else if (hl == 9 && strncasecmp(h, "localhost", 9) == 0)
        snprintf(host, hostn, "127.0.0.1");
    else
        snprintf(host, hostn, "%.*s", (int)hl, h);
    *port = (int)p;
    return 0;
}

int kvs_cfg_endpoint(const kvs_cfg_node *sect, const char *key, const char *def, char *host, size_t hostn, int *port,
                     kvs_error *err)
{
    const char *ep;
    if (kvs_cfg_str(sect, key, def, &ep, err) != 0)
        return KVS_E_INVALID;
    if (!ep)
        return kvs_cfg_errorf(err, sect, "%s is required (host:port)", key);
    const kvs_cfg_node *at = kvs_cfg_get(sect, key);
    const char *def_colon = def ? strrchr(def, ':') : NULL;
    const char *def_port = def_colon ? def_colon + 1 : "4318";   /* for the IPv6 example */
    switch (kvs_hostport_parse(ep, host, hostn, port)) {
    case 0:
        return 0;
    case KVS_HOSTPORT_NO_PORT:
        return kvs_cfg_errorf(err, at, "%s \"%s\" must be host:port", key, ep);
    case KVS_HOSTPORT_BARE_IPV6:
        return kvs_cfg_errorf(err, at, "%s \"%s\": write an IPv6 address in brackets, as [::1]:%s", key, ep,
                              def_port);
    case KVS_HOSTPORT_BAD_PORT:
        return kvs_cfg_errorf(err, at, "%s \"%s\": port must be a number from 0 to 65535", key, ep);
    case KVS_HOSTPORT_LONG_HOST:
        return kvs_cfg_errorf(err, at, "%s \"%s\": host name too long", key, ep);
    default:
        return kvs_cfg_errorf(err, at, "%s \"%s\": the host may not contain spaces, `/`, `[` or `]`", key, ep);
    }
}

/* ---- the listening socket ---- */

int kvs_net_listen(const char *host, int port, int backlog, int *bound_port, bool *ipv6, kvs_error *err)
{
    const char *lb = strchr(host, ':') ? "[" : "", *rb = *lb ? "]" : "";
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, ps, &hints, &ai);
    if (gai != 0)
        return kvs_errorf(err, KVS_E_IO, "cannot resolve %s: %s", host, gai_strerror(gai));
    int fd = -1, saved = 0;
    *ipv6 = false;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
            continue;
        }
        *ipv6 = a->ai_family == AF_INET6;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return kvs_errorf(err, KVS_E_IO, "cannot listen on %s%s%s:%d: %s", lb, host, rb, port, strerror(saved));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* ---- libmicrohttpd ---- */

static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[300];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    KVS_DEBUG((const char *)cls, "http: %s", msg);
}

struct MHD_Daemon *kvs_httpd_start(int fd, bool ipv6, const kvs_httpd_opts *o, MHD_AccessHandlerCallback handler,
                                   void *cls)
{
    static const struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0, NULL } };
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | o->flags;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem memory[] = { { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->connection_memory, NULL },
                                       { MHD_OPTION_END, 0, NULL } };
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, cls,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)(uintptr_t)(o->log_id ? o->log_id : "http"),
                            MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_THREAD_POOL_SIZE, o->threads > 1 ? o->threads : 1u,
                            MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s,
                            MHD_OPTION_NOTIFY_COMPLETED, o->completed, o->completed_cls,
                            MHD_OPTION_ARRAY, o->connection_memory ? memory : none,
                            MHD_OPTION_ARRAY, o->more ? o->more : none,
                            MHD_OPTION_END);
}
