/* Short names for the protobuf-c OTLP types generated from proto/. The data
 * model everywhere is the OTLP messages themselves. */
#ifndef KVS_OTLP_H
#define KVS_OTLP_H

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue kvs_any;
typedef Opentelemetry__Proto__Common__V1__ArrayValue kvs_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList kvs_kvlist;
typedef Opentelemetry__Proto__Common__V1__KeyValue kvs_kv;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope kvs_scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef kvs_entity_ref;
typedef Opentelemetry__Proto__Resource__V1__Resource kvs_resource;

typedef Opentelemetry__Proto__Trace__V1__ResourceSpans kvs_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans kvs_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span kvs_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event kvs_span_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link kvs_span_link;
typedef Opentelemetry__Proto__Trace__V1__Status kvs_status;

typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics kvs_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics kvs_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric kvs_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge kvs_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum kvs_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram kvs_histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram kvs_exp_histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets kvs_exp_buckets;
typedef Opentelemetry__Proto__Metrics__V1__Summary kvs_summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint kvs_number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint kvs_histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint kvs_exp_histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint kvs_summary_point;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile kvs_quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar kvs_exemplar;

typedef Opentelemetry__Proto__Logs__V1__ResourceLogs kvs_resource_logs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs kvs_scope_logs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord kvs_log_record;

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest kvs_traces_req;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest kvs_metrics_req;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest kvs_logs_req;

/* Signals, as bits so a component can declare the set it handles. */
typedef enum kvs_signal {
    KVS_SIG_TRACES = 1,
    KVS_SIG_METRICS = 2,
    KVS_SIG_LOGS = 4,
} kvs_signal;

#define KVS_SIG_ALL (KVS_SIG_TRACES | KVS_SIG_METRICS | KVS_SIG_LOGS)
#define KVS_NSIG 3

/* 0, 1, 2 for traces, metrics, logs. */
static inline int kvs_signal_index(kvs_signal s) { return s == KVS_SIG_TRACES ? 0 : s == KVS_SIG_METRICS ? 1 : 2; }
static inline kvs_signal kvs_signal_at(int i) { return (kvs_signal)(1 << i); }
const char *kvs_signal_name(kvs_signal s);          /* "traces", "metrics", "logs" */
int kvs_signal_parse(const char *s, size_t n, kvs_signal *out);
/* The unit a signal is counted in: "spans", "metric_points", "log_records". */
const char *kvs_signal_unit(kvs_signal s);

/* The descriptor of the Export*ServiceRequest of a signal. */
static inline const ProtobufCMessageDescriptor *kvs_request_descriptor(kvs_signal sig)
{
    return sig == KVS_SIG_TRACES    ? &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor
           : sig == KVS_SIG_METRICS ? &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor
                                    : &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor;
}

#endif
