/* Process log to stderr: "2026-11-23T18:00:00.000Z level component: msg". */
#ifndef KVS_LOG_H
#define KVS_LOG_H

typedef enum { KVS_LOG_DEBUG, KVS_LOG_INFO, KVS_LOG_WARN, KVS_LOG_ERROR } kvs_log_level;

void kvs_log_set_level(kvs_log_level lvl);
int kvs_log_enabled(kvs_log_level lvl);
void kvs_log(kvs_log_level lvl, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define KVS_DEBUG(who, ...) kvs_log(KVS_LOG_DEBUG, who, __VA_ARGS__)
#define KVS_INFO(who, ...) kvs_log(KVS_LOG_INFO, who, __VA_ARGS__)
#define KVS_WARN(who, ...) kvs_log(KVS_LOG_WARN, who, __VA_ARGS__)
#define KVS_ERROR(who, ...) kvs_log(KVS_LOG_ERROR, who, __VA_ARGS__)

#endif
