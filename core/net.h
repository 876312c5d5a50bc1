/* Listening endpoints of kvscope's HTTP servers (the otlp receiver's
 * OTLP/HTTP, the prometheus exporter, self-metrics, health_check): one way
 * to read `host:port`, bind it and run libmicrohttpd on the socket.
 *
 * Promises:
 * - `host:port`, `[v6addr]:port` or `:port` (every interface, as Go reads
 *   it). `localhost` becomes 127.0.0.1, so only the IPv4 loopback is bound;
 *   an empty host 0.0.0.0. An IPv6 address must be in brackets. The port
 *   is decimal digits, 0 to 65535 (0: the system picks one).
 * - A listening socket is bound to the first address getaddrinfo gives
 *   that binds, with SO_REUSEADDR, IPV6_V6ONLY for IPv6, close-on-exec and
 *   non-blocking; errors name the address and the system's reason.
 * - libmicrohttpd runs on a socket bound here with its own polling
 *   thread(s), epoll where available, and its messages in the debug log. */
#ifndef KVS_NET_H
#define KVS_NET_H

#include "core/config.h"
#include "core/error.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* Why kvs_hostport_parse refused an address. */
enum {
    KVS_HOSTPORT_NO_PORT = 1,   /* no `:port` */
    KVS_HOSTPORT_BARE_IPV6,     /* a `:` in a host outside brackets */
    KVS_HOSTPORT_BAD_PORT,      /* not a number from 0 to 65535 */
    KVS_HOSTPORT_LONG_HOST,     /* longer than the caller's buffer */
    KVS_HOSTPORT_BAD_HOST,      /* a space, control character, `/`, `[` or `]` in the host */
};

/* Splits `s` into host (NUL terminated, brackets removed, localhost and ""
 * replaced as above) and port. 0, or a KVS_HOSTPORT_* reason. */
int kvs_hostport_parse(const char *s, char *host, size_t hostn, int *port);

/* Reads the endpoint `key` of a config section (`def` when absent) into
 * host and port; an error names the key's file:line:column. */
int kvs_cfg_endpoint(const kvs_cfg_node *sect, const char *key, const char *def, char *host, size_t hostn, int *port,
                     kvs_error *err);

/* A listening TCP socket on host:port (backlog as listen(2)). Returns the
 * socket, or KVS_E_IO with err set ("cannot resolve ..." / "cannot listen
 * on ..."). *bound_port gets the port bound (the one picked for port 0),
 * *ipv6 whether the socket is IPv6. */
int kvs_net_listen(const char *host, int port, int backlog, int *bound_port, bool *ipv6, kvs_error *err);

typedef struct kvs_httpd_opts {
    const char *log_id;                      /* names libmicrohttpd's messages in the log; must outlive the daemon */
    unsigned threads;                        /* polling threads; more than 1 makes a pool */
    unsigned max_connections;
    unsigned idle_timeout_s;
    size_t connection_memory;                /* bytes per connection; 0: libmicrohttpd's default */
    unsigned flags;                          /* more MHD_USE_* flags, such as MHD_USE_TLS */
    MHD_RequestCompletedCallback completed;  /* called when a request ends; NULL: none */
    void *completed_cls;
    const struct MHD_OptionItem *more;       /* more options (TLS), MHD_OPTION_END terminated; NULL: none */
} kvs_httpd_opts;

/* Starts libmicrohttpd on `fd` (from kvs_net_listen; `ipv6` as it said),
 * answering with handler(cls, ...). The daemon owns the socket from then
 * on: MHD_stop_daemon closes it unless the daemon was quiesced first
 * (MHD_quiesce_daemon hands it back to the caller to close after the
 * stop). NULL on failure; libmicrohttpd closes the socket on the failures
 * that can happen once it took it (TLS set-up, threads), so the caller
 * must not close it again. */
struct MHD_Daemon *kvs_httpd_start(int fd, bool ipv6, const kvs_httpd_opts *o, MHD_AccessHandlerCallback handler,
                                   void *cls);

#endif
