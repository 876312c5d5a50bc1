/* Tests for the name bridge (lmcache/metric_names.h): the spelling table
 * is sorted and unique, every canonical id and alias resolves to its key,
 * every spelling named in lmcache-signals.md sections 1 and 5 resolves to
 * exactly one key, and the exporters' derived Prometheus forms of every
 * key (unit suffix, _total, _bucket/_sum/_count, _created) resolve too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lmcache/metric_names.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static kvs_metric_key canon(const char *s) { return kvs_metric_canonical(s, strlen(s), NULL); }

static void expect(const char *spelling, const char *id)
{
    kvs_metric_key k = canon(spelling);
    if (strcmp(kvs_metric_id(k), id) != 0)
        fail_msg("%s resolved to %s, expected %s", spelling, kvs_metric_id(k), id);
}

static void test_table_sorted_unique(void **state)
{
    (void)state;
    size_t n;
    const kvs_metric_spelling *sp = kvs_metric_spellings(&n);
    assert_true(n > 300);
    for (size_t i = 1; i < n; i++)
        if (strcmp(sp[i - 1].name, sp[i].name) >= 0)
            fail_msg("spelling table not sorted at %s / %s", sp[i - 1].name, sp[i].name);
    for (size_t i = 0; i < n; i++) {
        for (const char *c = sp[i].name; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
        assert_true(sp[i].key > KVS_METRIC_UNKNOWN && sp[i].key < KVS_METRIC__COUNT);
    }
}

static void test_every_id_resolves_to_itself(void **state)
{
    (void)state;
    for (int k = 1; k < KVS_METRIC__COUNT; k++) {
        const kvs_metric_info *in = kvs_metric_info_of((kvs_metric_key)k);
        assert_non_null(in);
        assert_int_equal(in->key, k);
        assert_int_not_equal(in->surface, KVS_SURFACE_UNKNOWN);
        assert_int_not_equal(in->kind, KVS_MKIND_UNKNOWN);
        if (canon(in->id) != (kvs_metric_key)k)
            fail_msg("id %s does not resolve to itself (got %s)", in->id, kvs_metric_id(canon(in->id)));
        assert_int_equal(kvs_metric_by_id(in->id), k);
    }
    /* every spelling in the table resolves to its own key */
    size_t n;
    const kvs_metric_spelling *sp = kvs_metric_spellings(&n);
    for (size_t i = 0; i < n; i++)
        if (canon(sp[i].name) != sp[i].key)
            fail_msg("spelling %s does not resolve to %s", sp[i].name, kvs_metric_id(sp[i].key));
}

/* Every spelling in lmcache-signals.md sections 1 and 5 (brace forms
 * expanded, short names with their surface prefix), with the key the doc
 * tables give it. */
static const struct {
    const char *spelling, *id;
} doc[] = {
    {"grpc.client.attempt.duration", "grpc.client.attempt.duration"},
    {"grpc.client.attempt.rcvd_total_compressed_message_size", "grpc.client.attempt.rcvd_total_compressed_message_size"},
    {"grpc.client.attempt.sent_total_compressed_message_size", "grpc.client.attempt.sent_total_compressed_message_size"},
    {"grpc.client.attempt.started", "grpc.client.attempt.started"},
    {"grpc.server.call.duration", "grpc.server.call.duration"},
    {"grpc.server.call.rcvd_total_compressed_message_size", "grpc.server.call.rcvd_total_compressed_message_size"},
    {"grpc.server.call.sent_total_compressed_message_size", "grpc.server.call.sent_total_compressed_message_size"},
    {"grpc.server.call.started", "grpc.server.call.started"},
    {"grpc_client_attempt_duration_seconds", "grpc.client.attempt.duration"},
    {"grpc_client_attempt_started_total", "grpc.client.attempt.started"},
    {"grpc_server_call_duration_seconds", "grpc.server.call.duration"},
    {"grpc_server_call_started_total", "grpc.server.call.started"},
    {"lmcache:active_memory_objs_count", "lmcache:active_memory_objs_count"},
    {"lmcache:cache_hit_rate", "lmcache:retrieve_hit_rate"},
    {"lmcache:chunk_statistics_bloom_filter_fill_rate", "lmcache:chunk_statistics_bloom_filter_fill_rate"},
    {"lmcache:chunk_statistics_bloom_filter_size_mb", "lmcache:chunk_statistics_bloom_filter_size_mb"},
    {"lmcache:chunk_statistics_current_file_size", "lmcache:chunk_statistics_current_file_size"},
    {"lmcache:chunk_statistics_enabled", "lmcache:chunk_statistics_enabled"},
    {"lmcache:chunk_statistics_file_count", "lmcache:chunk_statistics_file_count"},
    {"lmcache:chunk_statistics_reuse_rate", "lmcache:chunk_statistics_reuse_rate"},
    {"lmcache:chunk_statistics_total_chunks", "lmcache:chunk_statistics_total_chunks"},
    {"lmcache:chunk_statistics_total_requests", "lmcache:chunk_statistics_total_requests"},
    {"lmcache:chunk_statistics_unique_chunks", "lmcache:chunk_statistics_unique_chunks"},
    {"lmcache:connector_invalid_block_ids_count", "lmcache:connector_invalid_block_ids_count"},
    {"lmcache:connector_kv_caches_count", "lmcache:connector_kv_caches_count"},
    {"lmcache:connector_layerwise_retrievers_count", "lmcache:connector_layerwise_retrievers_count"},
    {"lmcache:connector_load_specs_count", "lmcache:connector_load_specs_count"},
    {"lmcache:connector_request_trackers_count", "lmcache:connector_request_trackers_count"},
    {"lmcache:connector_requests_priority_count", "lmcache:connector_requests_priority_count"},
    {"lmcache:forced_unpin_count", "lmcache:forced_unpin_count"},
    {"lmcache:get_blocking_failed_count", "lmcache:get_blocking_failed_count"},
    {"lmcache:instrumented_connector_batched_get_time", "lmcache:instrumented_connector_batched_get_time"},
    {"lmcache:interval_get_blocking_failed_count", "lmcache:get_blocking_failed_count"},
    {"lmcache:kv_msg_queue_size", "lmcache:kv_msg_queue_size"},
    {"lmcache:lmcache_is_healthy", "lmcache:lmcache_is_healthy"},
    {"lmcache:local_cache_usage", "lmcache:local_cache_usage"},
    {"lmcache:local_cpu_evict_count", "lmcache:local_cpu_evict_count"},
    {"lmcache:local_cpu_evict_failed_count", "lmcache:local_cpu_evict_failed_count"},
    {"lmcache:local_cpu_evict_keys_count", "lmcache:local_cpu_evict_keys_count"},
    {"lmcache:local_cpu_hot_cache_count", "lmcache:local_cpu_hot_cache_count"},
    {"lmcache:local_cpu_keys_in_request_count", "lmcache:local_cpu_keys_in_request_count"},
    {"lmcache:local_storage_usage", "lmcache:local_storage_usage"},
    {"lmcache:lookup_0_hit_requests", "lmcache:lookup_0_hit_requests"},
    {"lmcache:lookup_hit_rate", "lmcache:lookup_hit_rate"},
    {"lmcache:num_hit_tokens", "lmcache:num_hit_tokens"},
    {"lmcache:num_lookup_hits", "lmcache:num_lookup_hits"},
    {"lmcache:num_lookup_requests", "lmcache:num_lookup_requests"},
    {"lmcache:num_lookup_tokens", "lmcache:num_lookup_tokens"},
    {"lmcache:num_p2p_requests", "lmcache:num_p2p_requests"},
    {"lmcache:num_p2p_transferred_tokens", "lmcache:num_p2p_transferred_tokens"},
    {"lmcache:num_prompt_tokens", "lmcache:num_prompt_tokens"},
    {"lmcache:num_remote_read_bytes", "lmcache:num_remote_read_bytes"},
    {"lmcache:num_remote_read_requests", "lmcache:num_remote_read_requests"},
    {"lmcache:num_remote_write_bytes", "lmcache:num_remote_write_bytes"},
    {"lmcache:num_remote_write_requests", "lmcache:num_remote_write_requests"},
    {"lmcache:num_requested_tokens", "lmcache:num_requested_tokens"},
    {"lmcache:num_retrieve_requests", "lmcache:num_retrieve_requests"},
    {"lmcache:num_slow_retrieval_by_speed", "lmcache:num_slow_retrieval_by_speed"},
    {"lmcache:num_slow_retrieval_by_time", "lmcache:num_slow_retrieval_by_time"},
    {"lmcache:num_store_requests", "lmcache:num_store_requests"},
    {"lmcache:num_stored_tokens", "lmcache:num_stored_tokens"},
    {"lmcache:num_vllm_hit_tokens", "lmcache:num_vllm_hit_tokens"},
    {"lmcache:p2p_time_to_transfer", "lmcache:p2p_time_to_transfer"},
    {"lmcache:p2p_transfer_speed", "lmcache:p2p_transfer_speed"},
    {"lmcache:periodic_threads_active_count", "lmcache:periodic_threads_active_count"},
    {"lmcache:periodic_threads_critical_active", "lmcache:periodic_threads_critical_active"},
    {"lmcache:periodic_threads_critical_running", "lmcache:periodic_threads_critical_running"},
    {"lmcache:periodic_threads_critical_total", "lmcache:periodic_threads_critical_total"},
    {"lmcache:periodic_threads_high_active", "lmcache:periodic_threads_high_active"},
    {"lmcache:periodic_threads_high_running", "lmcache:periodic_threads_high_running"},
    {"lmcache:periodic_threads_high_total", "lmcache:periodic_threads_high_total"},
    {"lmcache:periodic_threads_low_active", "lmcache:periodic_threads_low_active"},
    {"lmcache:periodic_threads_low_running", "lmcache:periodic_threads_low_running"},
    {"lmcache:periodic_threads_low_total", "lmcache:periodic_threads_low_total"},
    {"lmcache:periodic_threads_medium_active", "lmcache:periodic_threads_medium_active"},
    {"lmcache:periodic_threads_medium_running", "lmcache:periodic_threads_medium_running"},
    {"lmcache:periodic_threads_medium_total", "lmcache:periodic_threads_medium_total"},
    {"lmcache:periodic_threads_running_count", "lmcache:periodic_threads_running_count"},
    {"lmcache:periodic_threads_total_count", "lmcache:periodic_threads_total_count"},
    {"lmcache:pin_monitor_pinned_objects_count", "lmcache:pin_monitor_pinned_objects_count"},
    {"lmcache:pinned_memory_objs_count", "lmcache:pinned_memory_objs_count"},
    {"lmcache:put_failed_count", "lmcache:put_failed_count"},
    {"lmcache:remote_backend_batched_get_blocking_time", "lmcache:remote_backend_batched_get_blocking_time"},
    {"lmcache:remote_cache_usage", "lmcache:remote_cache_usage"},
    {"lmcache:remote_ping_error_code", "lmcache:remote_ping_error_code"},
    {"lmcache:remote_ping_errors", "lmcache:remote_ping_errors"},
    {"lmcache:remote_ping_latency", "lmcache:remote_ping_latency"},
    {"lmcache:remote_ping_successes", "lmcache:remote_ping_successes"},
    {"lmcache:remote_put_task_num", "lmcache:remote_put_task_num"},
    {"lmcache:remote_time_to_get", "lmcache:remote_time_to_get"},
    {"lmcache:remote_time_to_get_sync", "lmcache:remote_time_to_get_sync"},
    {"lmcache:remote_time_to_put", "lmcache:remote_time_to_put"},
    {"lmcache:request_cache_hit_rate", "lmcache:request_cache_hit_rate"},
    {"lmcache:request_cache_lifespan", "lmcache:request_cache_lifespan"},
    {"lmcache:retrieve_broadcast_time", "lmcache:retrieve_broadcast_time"},
    {"lmcache:retrieve_hit_rate", "lmcache:retrieve_hit_rate"},
    {"lmcache:retrieve_process_tokens_time", "lmcache:retrieve_process_tokens_time"},
    {"lmcache:retrieve_speed", "lmcache:retrieve_speed"},
    {"lmcache:retrieve_to_gpu_time", "lmcache:retrieve_to_gpu_time"},
    {"lmcache:scheduler_unfinished_requests_count", "lmcache:scheduler_unfinished_requests_count"},
    {"lmcache:storage_events_done_count", "lmcache:storage_events_done_count"},
    {"lmcache:storage_events_not_found_count", "lmcache:storage_events_not_found_count"},
    {"lmcache:storage_events_ongoing_count", "lmcache:storage_events_ongoing_count"},
    {"lmcache:store_from_gpu_time", "lmcache:store_from_gpu_time"},
    {"lmcache:store_process_tokens_time", "lmcache:store_process_tokens_time"},
    {"lmcache:store_put_time", "lmcache:store_put_time"},
    {"lmcache:store_speed", "lmcache:store_speed"},
    {"lmcache:time_to_lookup", "lmcache:time_to_lookup"},
    {"lmcache:time_to_retrieve", "lmcache:time_to_retrieve"},
    {"lmcache:time_to_store", "lmcache:time_to_store"},
    {"lmcache_blend.coordinator_match_duration", "lmcache_blend.coordinator_match_duration"},
    {"lmcache_blend.fingerprint_match_duration", "lmcache_blend.fingerprint_match_duration"},
    {"lmcache_blend.lookup_duration", "lmcache_blend.lookup_duration"},
    {"lmcache_blend.lookup_requests", "lmcache_blend.lookup_requests"},
    {"lmcache_blend.prefix_lookup_duration", "lmcache_blend.prefix_lookup_duration"},
    {"lmcache_blend.retrieve_duration", "lmcache_blend.retrieve_duration"},
    {"lmcache_blend.retrieve_noops", "lmcache_blend.retrieve_noops"},
    {"lmcache_blend.scatter_duration", "lmcache_blend.scatter_duration"},
    {"lmcache_blend.serde_bytes_in", "lmcache_blend.serde_bytes_in"},
    {"lmcache_blend.serde_encode_duration_seconds", "lmcache_blend.serde_encode_duration_seconds"},
    {"lmcache_blend.sparse_prefetch_duration", "lmcache_blend.sparse_prefetch_duration"},
    {"lmcache_blend_lookup_hit_tokens_total", "lmcache_blend.lookup_hit_tokens"},
    {"lmcache_blend_lookup_requests_total", "lmcache_blend.lookup_requests"},
    {"lmcache_blend_retrieve_noops_total", "lmcache_blend.retrieve_noops"},
    {"lmcache_coordinator.ingest.event_batches_received", "lmcache_coordinator.ingest.event_batches_received"},
    {"lmcache_coordinator.key_directory.placements", "lmcache_coordinator.key_directory.placements"},
    {"lmcache_mp.active_prefetch_jobs", "lmcache_mp.active_prefetch_jobs"},
    {"lmcache_mp.cxl_capacity_bytes", "lmcache_mp.cxl_capacity_bytes"},
    {"lmcache_mp.event_bus.drain_lag_seconds", "lmcache_mp.event_bus.drain_lag_seconds"},
    {"lmcache_mp.event_bus.dropped_events_total", "lmcache_mp.event_bus.dropped_events_total"},
    {"lmcache_mp.event_bus.queue_depth", "lmcache_mp.event_bus.queue_depth"},
    {"lmcache_mp.event_bus.subscriber_exceptions", "lmcache_mp.event_bus.subscriber_exceptions"},
    {"lmcache_mp.gpu_memory_used_bytes", "lmcache_mp.gpu_memory_used_bytes"},
    {"lmcache_mp.gpu_pcie_rx_bytes_per_second", "lmcache_mp.gpu_pcie_rx_bytes_per_second"},
    {"lmcache_mp.gpu_pcie_tx_bytes_per_second", "lmcache_mp.gpu_pcie_tx_bytes_per_second"},
    {"lmcache_mp.gpu_power_watts", "lmcache_mp.gpu_power_watts"},
    {"lmcache_mp.gpu_utilization_ratio", "lmcache_mp.gpu_utilization_ratio"},
    {"lmcache_mp.host_dram_used_bytes", "lmcache_mp.host_dram_used_bytes"},
    {"lmcache_mp.inflight_load_memory_usage_bytes", "lmcache_mp.inflight_load_memory_usage_bytes"},
    {"lmcache_mp.key_directory_placement_count", "lmcache_coordinator.key_directory.placements"},
    {"lmcache_mp.key_directory_placement_size_bytes", "lmcache_coordinator.key_directory.placement_bytes"},
    {"lmcache_mp.l0_block_allocated_blocks", "lmcache_mp.l0_block_allocated_blocks"},
    {"lmcache_mp.l0_block_allocation_records", "lmcache_mp.l0_block_allocation_records"},
    {"lmcache_mp.l0_block_idle_before_evict", "lmcache_mp.l0_block_idle_before_evict"},
    {"lmcache_mp.l0_block_lifetime", "lmcache_mp.l0_block_lifetime"},
    {"lmcache_mp.l0_block_reuse_gap", "lmcache_mp.l0_block_reuse_gap"},
    {"lmcache_mp.l0_l1_load_bytes", "lmcache_mp.l0_l1_load_bytes"},
    {"lmcache_mp.l0_l1_load_requests", "lmcache_mp.l0_l1_load_requests"},
    {"lmcache_mp.l0_l1_load_throughput", "lmcache_mp.l0_l1_load_throughput"},
    {"lmcache_mp.l0_l1_load_throughput_gbs", "lmcache_mp.l0_l1_load_throughput"},
    {"lmcache_mp.l0_l1_store_throughput", "lmcache_mp.l0_l1_store_throughput"},
    {"lmcache_mp.l0_l1_store_throughput_gbs", "lmcache_mp.l0_l1_store_throughput"},
    {"lmcache_mp.l1_allocation_failure", "lmcache_mp.l1_allocation_failure"},
    {"lmcache_mp.l1_chunk_evict_reuse_gap", "lmcache_mp.l1_chunk_evict_reuse_gap"},
    {"lmcache_mp.l1_chunk_idle_before_evict", "lmcache_mp.l1_chunk_idle_before_evict"},
    {"lmcache_mp.l1_chunk_lifetime", "lmcache_mp.l1_chunk_lifetime"},
    {"lmcache_mp.l1_chunk_lifetime_seconds", "lmcache_mp.l1_chunk_lifetime"},
    {"lmcache_mp.l1_chunk_reuse_gap", "lmcache_mp.l1_chunk_reuse_gap"},
    {"lmcache_mp.l1_evicted", "lmcache_mp.l1_evicted"},
    {"lmcache_mp.l1_evicted_keys", "lmcache_mp.l1_evicted"},
    {"lmcache_mp.l1_eviction_loop_ticks", "lmcache_mp.l1_eviction_loop_ticks"},
    {"lmcache_mp.l1_eviction_loop_triggered", "lmcache_mp.l1_eviction_loop_triggered"},
    {"lmcache_mp.l1_memory_usage_bytes", "lmcache_mp.l1_memory_usage_bytes"},
    {"lmcache_mp.l1_read", "lmcache_mp.l1_read"},
    {"lmcache_mp.l1_read_failure", "lmcache_mp.l1_read_failure"},
    {"lmcache_mp.l1_read_keys", "lmcache_mp.l1_read"},
    {"lmcache_mp.l1_staging_bytes", "lmcache_mp.l1_staging_bytes"},
    {"lmcache_mp.l1_usage_ratio", "lmcache_mp.l1_usage_ratio"},
    {"lmcache_mp.l1_write", "lmcache_mp.l1_write"},
    {"lmcache_mp.l1_write_keys", "lmcache_mp.l1_write"},
    {"lmcache_mp.l2_evicted_objects", "lmcache_mp.l2_evicted_objects"},
    {"lmcache_mp.l2_load_completed", "lmcache_mp.l2_load_completed"},
    {"lmcache_mp.l2_load_throughput", "lmcache_mp.l2_load_throughput"},
    {"lmcache_mp.l2_prefetch_failed_keys", "lmcache_mp.l2_prefetch_failed_keys"},
    {"lmcache_mp.l2_prefetch_failure", "lmcache_mp.l2_prefetch_failure"},
    {"lmcache_mp.l2_prefetch_hit", "lmcache_mp.l2_prefetch_hit"},
    {"lmcache_mp.l2_prefetch_hit_keys", "lmcache_mp.l2_prefetch_hit"},
    {"lmcache_mp.l2_prefetch_load_completed", "lmcache_mp.l2_prefetch_load_completed"},
    {"lmcache_mp.l2_prefetch_load_keys", "lmcache_mp.l2_prefetch_load_submitted_objects"},
    {"lmcache_mp.l2_prefetch_load_submitted", "lmcache_mp.l2_prefetch_load_submitted"},
    {"lmcache_mp.l2_prefetch_load_submitted_objects", "lmcache_mp.l2_prefetch_load_submitted_objects"},
    {"lmcache_mp.l2_prefetch_load_tasks", "lmcache_mp.l2_prefetch_load_submitted"},
    {"lmcache_mp.l2_prefetch_loaded_keys", "lmcache_mp.l2_prefetch_load_completed"},
    {"lmcache_mp.l2_prefetch_lookup", "lmcache_mp.l2_prefetch_lookup"},
    {"lmcache_mp.l2_prefetch_lookup_keys", "lmcache_mp.l2_prefetch_lookup_objects"},
    {"lmcache_mp.l2_prefetch_lookup_objects", "lmcache_mp.l2_prefetch_lookup_objects"},
    {"lmcache_mp.l2_prefetch_lookups", "lmcache_mp.l2_prefetch_lookup"},
    {"lmcache_mp.l2_store_completed", "lmcache_mp.l2_store_completed"},
    {"lmcache_mp.l2_store_completed_objects", "lmcache_mp.l2_store_completed_objects"},
    {"lmcache_mp.l2_store_failed_keys", "lmcache_mp.l2_store_failed_keys"},
    {"lmcache_mp.l2_store_keys", "lmcache_mp.l2_store_submitted_objects"},
    {"lmcache_mp.l2_store_submitted", "lmcache_mp.l2_store_submitted"},
    {"lmcache_mp.l2_store_submitted_objects", "lmcache_mp.l2_store_submitted_objects"},
    {"lmcache_mp.l2_store_succeeded_keys", "lmcache_mp.l2_store_completed_objects"},
    {"lmcache_mp.l2_store_tasks", "lmcache_mp.l2_store_submitted"},
    {"lmcache_mp.l2_store_throughput", "lmcache_mp.l2_store_throughput"},
    {"lmcache_mp.l2_usage_bytes", "lmcache_mp.l2_usage_bytes"},
    {"lmcache_mp.lookup_early_exit", "lmcache_mp.lookup_early_exit"},
    {"lmcache_mp.lookup_hit", "lmcache_mp.lookup_hit"},
    {"lmcache_mp.lookup_hit_l1", "lmcache_mp.lookup_hit_l1"},
    {"lmcache_mp.lookup_hit_l1_keys", "lmcache_mp.lookup_hit_l1_keys"},
    {"lmcache_mp.lookup_hit_l2", "lmcache_mp.lookup_hit_l2"},
    {"lmcache_mp.lookup_hit_l2_keys", "lmcache_mp.lookup_hit_l2_keys"},
    {"lmcache_mp.lookup_hit_tokens", "lmcache_mp.lookup_hit"},
    {"lmcache_mp.lookup_requested", "lmcache_mp.lookup_requested"},
    {"lmcache_mp.lookup_requested_tokens", "lmcache_mp.lookup_requested"},
    {"lmcache_mp.lookups", "lmcache_mp.lookups"},
    {"lmcache_mp.num_chunks_loaded", "lmcache_mp.num_chunks_loaded"},
    {"lmcache_mp.num_finished_retrieves", "lmcache_mp.num_finished_retrieves"},
    {"lmcache_mp.num_finished_stores", "lmcache_mp.num_finished_stores"},
    {"lmcache_mp.num_inflight_l2_loads", "lmcache_mp.num_inflight_l2_loads"},
    {"lmcache_mp.num_inflight_l2_stores", "lmcache_mp.num_inflight_l2_stores"},
    {"lmcache_mp.num_submitted_retrieves", "lmcache_mp.num_submitted_retrieves"},
    {"lmcache_mp.num_submitted_stores", "lmcache_mp.num_submitted_stores"},
    {"lmcache_mp.real_reuse_gap", "lmcache_mp.real_reuse_gap"},
    {"lmcache_mp.real_reuse_gap_objects", "lmcache_mp.real_reuse_gap_objects"},
    {"lmcache_mp.real_reuse_gap_volume", "lmcache_mp.real_reuse_gap_objects"},
    {"lmcache_mp.sm_read_failed_keys", "lmcache_mp.sm_read_failed_keys"},
    {"lmcache_mp.sm_read_requests", "lmcache_mp.sm_read_requests"},
    {"lmcache_mp.sm_read_succeed_keys", "lmcache_mp.sm_read_succeed_keys"},
    {"lmcache_mp.sm_write_failed_keys", "lmcache_mp.sm_write_failed_keys"},
    {"lmcache_mp.sm_write_requests", "lmcache_mp.sm_write_requests"},
    {"lmcache_mp.sm_write_succeed_keys", "lmcache_mp.sm_write_succeed_keys"},
    {"lmcache_mp.timeouts", "lmcache_mp.timeouts"},
    {"lmcache_mp.transfer_kernel_throughput", "lmcache_mp.transfer_kernel_throughput"},
    {"lmcache_mp.transfer_phase_busy_time", "lmcache_mp.transfer_phase_busy_time"},
    {"lmcache_mp.transfer_phase_bytes", "lmcache_mp.transfer_phase_bytes"},
    {"lmcache_mp.transfer_phase_elapsed", "lmcache_mp.transfer_phase_elapsed"},
    {"lmcache_mp.transfer_staging_throughput", "lmcache_mp.transfer_staging_throughput"},
    {"lmcache_mp_event_bus_drain_lag_seconds", "lmcache_mp.event_bus.drain_lag_seconds"},
    {"lmcache_mp_event_bus_dropped_events_total", "lmcache_mp.event_bus.dropped_events_total"},
    {"lmcache_mp_event_bus_queue_depth", "lmcache_mp.event_bus.queue_depth"},
    {"lmcache_mp_event_bus_subscriber_exceptions_total", "lmcache_mp.event_bus.subscriber_exceptions"},
    {"lmcache_mp_l0_block_lifetime_seconds", "lmcache_mp.l0_block_lifetime"},
    {"lmcache_mp_l0_l1_load_bytes_total", "lmcache_mp.l0_l1_load_bytes"},
    {"lmcache_mp_l0_l1_load_throughput_GB_per_second", "lmcache_mp.l0_l1_load_throughput"},
    {"lmcache_mp_l0_l1_store_throughput_GB_per_second", "lmcache_mp.l0_l1_store_throughput"},
    {"lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second_bucket", "lmcache_mp.l0_l1_store_throughput"},
    {"lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second_count", "lmcache_mp.l0_l1_store_throughput"},
    {"lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second_sum", "lmcache_mp.l0_l1_store_throughput"},
    {"lmcache_mp_l1_allocation_failure_chunks_total", "lmcache_mp.l1_allocation_failure"},
    {"lmcache_mp_l1_allocation_failure_total", "lmcache_mp.l1_allocation_failure"},
    {"lmcache_mp_l1_chunk_lifetime_seconds", "lmcache_mp.l1_chunk_lifetime"},
    {"lmcache_mp_l1_evicted_chunks_total", "lmcache_mp.l1_evicted"},
    {"lmcache_mp_l1_evicted_keys_total", "lmcache_mp.l1_evicted"},
    {"lmcache_mp_l1_eviction_loop_ticks_total", "lmcache_mp.l1_eviction_loop_ticks"},
    {"lmcache_mp_l1_eviction_loop_triggered_total", "lmcache_mp.l1_eviction_loop_triggered"},
    {"lmcache_mp_l1_read", "lmcache_mp.l1_read"},
    {"lmcache_mp_l1_read_chunks_total", "lmcache_mp.l1_read"},
    {"lmcache_mp_l1_read_failure_chunks_total", "lmcache_mp.l1_read_failure"},
    {"lmcache_mp_l1_read_keys_total", "lmcache_mp.l1_read"},
    {"lmcache_mp_l1_usage_ratio_bucket", "lmcache_mp.l1_usage_ratio"},
    {"lmcache_mp_l1_write_chunks_total", "lmcache_mp.l1_write"},
    {"lmcache_mp_l1_write_keys_total", "lmcache_mp.l1_write"},
    {"lmcache_mp_l2_evicted_chunks_total", "lmcache_mp.l2_evicted_objects"},
    {"lmcache_mp_l2_evicted_objects_chunks_total", "lmcache_mp.l2_evicted_objects"},
    {"lmcache_mp_l2_load_completed_requests_total", "lmcache_mp.l2_load_completed"},
    {"lmcache_mp_l2_load_throughput_GB_per_second", "lmcache_mp.l2_load_throughput"},
    {"lmcache_mp_l2_load_throughput_gbs_sum", "lmcache_mp.l2_load_throughput"},
    {"lmcache_mp_l2_prefetch_failure_chunks_total", "lmcache_mp.l2_prefetch_failure"},
    {"lmcache_mp_l2_prefetch_hit_chunks_total", "lmcache_mp.l2_prefetch_hit"},
    {"lmcache_mp_l2_prefetch_load_completed_chunks_total", "lmcache_mp.l2_prefetch_load_completed"},
    {"lmcache_mp_l2_prefetch_load_submitted_objects_chunks_total", "lmcache_mp.l2_prefetch_load_submitted_objects"},
    {"lmcache_mp_l2_prefetch_load_submitted_requests_total", "lmcache_mp.l2_prefetch_load_submitted"},
    {"lmcache_mp_l2_prefetch_lookup_objects_chunks_total", "lmcache_mp.l2_prefetch_lookup_objects"},
    {"lmcache_mp_l2_prefetch_lookup_requests_total", "lmcache_mp.l2_prefetch_lookup"},
    {"lmcache_mp_l2_store_completed_objects_chunks_total", "lmcache_mp.l2_store_completed_objects"},
    {"lmcache_mp_l2_store_completed_requests_total", "lmcache_mp.l2_store_completed"},
    {"lmcache_mp_l2_store_submitted_objects_chunks_total", "lmcache_mp.l2_store_submitted_objects"},
    {"lmcache_mp_l2_store_submitted_requests_total", "lmcache_mp.l2_store_submitted"},
    {"lmcache_mp_l2_store_throughput_GB_per_second", "lmcache_mp.l2_store_throughput"},
    {"lmcache_mp_l2_store_throughput_GBs_bucket", "lmcache_mp.l2_store_throughput"},
    {"lmcache_mp_lookup_early_exit_requests_total", "lmcache_mp.lookup_early_exit"},
    {"lmcache_mp_lookup_hit_l1_keys_total", "lmcache_mp.lookup_hit_l1_keys"},
    {"lmcache_mp_lookup_hit_l1_tokens_total", "lmcache_mp.lookup_hit_l1"},
    {"lmcache_mp_lookup_hit_l2_keys_total", "lmcache_mp.lookup_hit_l2_keys"},
    {"lmcache_mp_lookup_hit_l2_tokens_total", "lmcache_mp.lookup_hit_l2"},
    {"lmcache_mp_lookup_hit_tokens_total", "lmcache_mp.lookup_hit"},
    {"lmcache_mp_lookup_requested_tokens_total", "lmcache_mp.lookup_requested"},
    {"lmcache_mp_lookups_requests_total", "lmcache_mp.lookups"},
    {"lmcache_mp_num_chunks_loaded_total", "lmcache_mp.num_chunks_loaded"},
    {"lmcache_mp_num_finished_retrieves_total", "lmcache_mp.num_finished_retrieves"},
    {"lmcache_mp_num_finished_stores_total", "lmcache_mp.num_finished_stores"},
    {"lmcache_mp_num_submitted_retrieves_total", "lmcache_mp.num_submitted_retrieves"},
    {"lmcache_mp_num_submitted_stores_total", "lmcache_mp.num_submitted_stores"},
    {"lmcache_mp_real_reuse_gap_objects_chunks", "lmcache_mp.real_reuse_gap_objects"},
    {"lmcache_mp_real_reuse_gap_seconds", "lmcache_mp.real_reuse_gap"},
    {"lmcache_mp_timeouts_total", "lmcache_mp.timeouts"},
    {"lmcache_mp_transfer_phase_bytes_total", "lmcache_mp.transfer_phase_bytes"},
    {"lmcache_mp_transfer_phase_elapsed_seconds_total", "lmcache_mp.transfer_phase_elapsed"},
    {"lmcache_mp_transfer_staging_throughput_GB_per_second", "lmcache_mp.transfer_staging_throughput"},
    {"sglang:backup_bandwidth", "sglang:backup_bandwidth"},
    {"sglang:backup_pgs", "sglang:backup_pgs"},
    {"sglang:backuped_tokens_total", "sglang:backuped_tokens"},
    {"sglang:cache_hit_rate", "sglang:cache_hit_rate"},
    {"sglang:cached_tokens_total", "sglang:cached_tokens"},
    {"sglang:decode_sum_seq_lens", "sglang:decode_sum_seq_lens"},
    {"sglang:full_token_usage", "sglang:full_token_usage"},
    {"sglang:gen_throughput", "sglang:gen_throughput"},
    {"sglang:generation_tokens_total", "sglang:generation_tokens"},
    {"sglang:hicache_dropped_tokens_total", "sglang:hicache_dropped_tokens"},
    {"sglang:hicache_host_total_tokens", "sglang:hicache_host_total_tokens"},
    {"sglang:hicache_host_used_tokens", "sglang:hicache_host_used_tokens"},
    {"sglang:hicache_l1_hit_rate", "sglang:hicache_l1_hit_rate"},
    {"sglang:hicache_l2_hit_rate", "sglang:hicache_l2_hit_rate"},
    {"sglang:hicache_storage_fault_events_total", "sglang:hicache_storage_fault_events"},
    {"sglang:hicache_storage_fault_state", "sglang:hicache_storage_fault_state"},
    {"sglang:kv_available_tokens", "sglang:kv_available_tokens"},
    {"sglang:kv_evictable_tokens", "sglang:kv_evictable_tokens"},
    {"sglang:kv_transfer_alloc_ms", "sglang:kv_transfer_alloc_ms"},
    {"sglang:kv_transfer_bootstrap_ms", "sglang:kv_transfer_bootstrap_ms"},
    {"sglang:kv_transfer_latency_ms", "sglang:kv_transfer_latency_ms"},
    {"sglang:kv_transfer_speed_gb_s", "sglang:kv_transfer_speed_gb_s"},
    {"sglang:kv_transfer_total_mb", "sglang:kv_transfer_total_mb"},
    {"sglang:kv_used_tokens", "sglang:kv_used_tokens"},
    {"sglang:mamba_available_tokens", "sglang:mamba_available_tokens"},
    {"sglang:mamba_evictable_tokens", "sglang:mamba_evictable_tokens"},
    {"sglang:mamba_usage", "sglang:mamba_usage"},
    {"sglang:mamba_used_tokens", "sglang:mamba_used_tokens"},
    {"sglang:max_total_num_tokens", "sglang:max_total_num_tokens"},
    {"sglang:num_bootstrap_failed_reqs_total", "sglang:num_bootstrap_failed_reqs"},
    {"sglang:num_decode_prealloc_queue_reqs", "sglang:num_decode_prealloc_queue_reqs"},
    {"sglang:num_decode_transfer_queue_reqs", "sglang:num_decode_transfer_queue_reqs"},
    {"sglang:num_grammar_queue_reqs", "sglang:num_grammar_queue_reqs"},
    {"sglang:num_paused_reqs", "sglang:num_paused_reqs"},
    {"sglang:num_prefill_bootstrap_queue_reqs", "sglang:num_prefill_bootstrap_queue_reqs"},
    {"sglang:num_prefill_inflight_queue_reqs", "sglang:num_prefill_inflight_queue_reqs"},
    {"sglang:num_prefill_retries_total", "sglang:num_prefill_retries"},
    {"sglang:num_queue_reqs", "sglang:num_queue_reqs"},
    {"sglang:num_retracted_reqs", "sglang:num_retracted_reqs"},
    {"sglang:num_retracted_requests_total", "sglang:num_retracted_requests"},
    {"sglang:num_running_reqs", "sglang:num_running_reqs"},
    {"sglang:num_running_reqs_offline_batch", "sglang:num_running_reqs_offline_batch"},
    {"sglang:num_transfer_failed_reqs_total", "sglang:num_transfer_failed_reqs"},
    {"sglang:num_used_tokens", "sglang:num_used_tokens"},
    {"sglang:pending_prealloc_token_usage", "sglang:pending_prealloc_token_usage"},
    {"sglang:per_stage_req_latency_seconds", "sglang:per_stage_req_latency_seconds"},
    {"sglang:prefetch_bandwidth", "sglang:prefetch_bandwidth"},
    {"sglang:prefetch_pgs", "sglang:prefetch_pgs"},
    {"sglang:prefetched_tokens_total", "sglang:prefetched_tokens"},
    {"sglang:prompt_tokens_total", "sglang:prompt_tokens"},
    {"sglang:queue_time_seconds", "sglang:queue_time_seconds"},
    {"sglang:realtime_tokens_total", "sglang:realtime_tokens"},
    {"sglang:swa_available_tokens", "sglang:swa_available_tokens"},
    {"sglang:swa_evictable_tokens", "sglang:swa_evictable_tokens"},
    {"sglang:swa_token_usage", "sglang:swa_token_usage"},
    {"sglang:swa_used_tokens", "sglang:swa_used_tokens"},
    {"sglang:token_usage", "sglang:token_usage"},
    {"simple_kv_offload_info", "vllm:simple_kv_offload_info"},
    {"vllm:cache_config_info", "vllm:cache_config_info"},
    {"vllm:external_prefix_cache_hits", "vllm:external_prefix_cache_hits"},
    {"vllm:external_prefix_cache_queries", "vllm:external_prefix_cache_queries"},
    {"vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"},
    {"vllm:kv_block_idle_before_evict_seconds", "vllm:kv_block_idle_before_evict_seconds"},
    {"vllm:kv_block_lifetime_seconds", "vllm:kv_block_lifetime_seconds"},
    {"vllm:kv_block_reuse_gap_seconds", "vllm:kv_block_reuse_gap_seconds"},
    {"vllm:kv_cache_usage_perc", "vllm:kv_cache_usage_perc"},
    {"vllm:kv_offload_load_bytes", "vllm:kv_offload_load_bytes"},
    {"vllm:kv_offload_load_size", "vllm:kv_offload_load_size"},
    {"vllm:kv_offload_load_time", "vllm:kv_offload_load_time"},
    {"vllm:kv_offload_lookup_sync_delay_seconds", "vllm:kv_offload_lookup_sync_delay_seconds"},
    {"vllm:kv_offload_size", "vllm:kv_offload_size"},
    {"vllm:kv_offload_store_bytes", "vllm:kv_offload_store_bytes"},
    {"vllm:kv_offload_store_size", "vllm:kv_offload_store_size"},
    {"vllm:kv_offload_store_time", "vllm:kv_offload_store_time"},
    {"vllm:kv_offload_total_bytes", "vllm:kv_offload_total_bytes"},
    {"vllm:kv_offload_total_time", "vllm:kv_offload_total_time"},
    {"vllm:mm_cache_hits", "vllm:mm_cache_hits"},
    {"vllm:mm_cache_queries", "vllm:mm_cache_queries"},
    {"vllm:num_preemptions", "vllm:num_preemptions"},
    {"vllm:prefix_cache_hits", "vllm:prefix_cache_hits"},
    {"vllm:prefix_cache_queries", "vllm:prefix_cache_queries"},
    {"vllm:prompt_tokens", "vllm:prompt_tokens"},
    {"vllm:prompt_tokens_by_source", "vllm:prompt_tokens_by_source"},
    {"vllm:prompt_tokens_cached", "vllm:prompt_tokens_cached"},
    {"vllm:prompt_tokens_recomputed", "vllm:prompt_tokens_recomputed"},
    {"vllm:request_prefill_kv_computed_tokens", "vllm:request_prefill_kv_computed_tokens"},
};

static void test_doc_spellings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof doc / sizeof *doc; i++)
        expect(doc[i].spelling, doc[i].id);
    /* each resolves to exactly one key: the resolution is a function, and
     * the different spellings of one metric agree */
    assert_true(sizeof doc / sizeof *doc >= 360);
}

/* The OTel Prometheus exporter's unit mapping. */
static const char *prom_unit(const char *u)
{
    static const char *const m[][2] = {{"s", "seconds"}, {"ms", "milliseconds"}, {"By", "bytes"},
                                       {"GB/s", "GB_per_second"}, {"By/s", "bytes_per_second"}, {"1", ""},
                                       {"chunks", "chunks"}, {"tokens", "tokens"}, {"requests", "requests"},
                                       {"keys", "keys"}};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (strcmp(u, m[i][0]) == 0)
            return m[i][1];
    return NULL;
}

static void check_form(const char *form, kvs_metric_key k)
{
    if (canon(form) != k)
        fail_msg("%s resolved to %s, expected %s", form, kvs_metric_id(canon(form)), kvs_metric_id(k));
}

static void test_derived_prometheus_forms(void **state)
{
    (void)state;
    char base[256], name[300];
    size_t checked = 0;
    for (int k = 1; k < KVS_METRIC__COUNT; k++) {
        const kvs_metric_info *in = kvs_metric_info_of((kvs_metric_key)k);
        size_t n = strlen(in->id);
        for (size_t i = 0; i <= n; i++)
            base[i] = in->id[i] == '.' ? '_' : in->id[i];
        bool otel = in->surface == KVS_SURFACE_LMCACHE_MP || in->surface == KVS_SURFACE_LMCACHE_CACHEBLEND;
        if (otel) {
            const char *u = prom_unit(in->unit);
            if (!u)
                u = "";
            size_t un = strlen(u);
            if (un && !(n > un && base[n - un - 1] == '_' && strcmp(base + n - un, u) == 0))
                snprintf(base + n, sizeof base - n, "_%s", u);
            /* the OTLP form: the OTel name with its unit */
            assert_int_equal(kvs_metric_canonical(in->id, n, in->unit), k);
        }
        size_t bn = strlen(base);
        check_form(base, (kvs_metric_key)k);
        if (in->kind == KVS_MKIND_COUNTER) {
            bool has_total = bn > 6 && strcmp(base + bn - 6, "_total") == 0;
            snprintf(name, sizeof name, "%s%s", base, has_total ? "" : "_total");
            check_form(name, (kvs_metric_key)k);
            snprintf(name, sizeof name, "%.*s_created", (int)(has_total ? bn - 6 : bn), base);
            check_form(name, (kvs_metric_key)k);
        } else if (in->kind == KVS_MKIND_HISTOGRAM) {
            static const char *const sfx[] = {"_bucket", "_sum", "_count", "_created"};
            for (size_t i = 0; i < 4; i++) {
                snprintf(name, sizeof name, "%s%s", base, sfx[i]);
                check_form(name, (kvs_metric_key)k);
            }
        }
        checked++;
    }
    assert_int_equal(checked, KVS_METRIC__COUNT - 1);
}

static void test_unit_suffixed_names(void **state)
{
    (void)state;
    /* the live scrape's double suffix the peer tool gets wrong */
    expect("lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second_bucket", "lmcache_mp.l0_l1_store_throughput");
    expect("lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second_sum", "lmcache_mp.l0_l1_store_throughput");
    expect("lmcache_mp_l0_l1_store_throughput_gbs_GB_per_second_count", "lmcache_mp.l0_l1_store_throughput");
    expect("lmcache_mp_l0_l1_load_throughput_gbs_GB_per_second_count", "lmcache_mp.l0_l1_load_throughput");
    expect("lmcache_mp_l2_store_throughput_GBs_sum", "lmcache_mp.l2_store_throughput");
    expect("lmcache_mp_l2_load_throughput_gbs_bucket", "lmcache_mp.l2_load_throughput");
    expect("lmcache_mp.l2_load_throughput_GB_per_second", "lmcache_mp.l2_load_throughput");
    expect("lmcache_blend_lookup_duration_milliseconds_bucket", "lmcache_blend.lookup_duration");
    expect("lmcache_blend_serde_bytes_in_bytes_total", "lmcache_blend.serde_bytes_in");
    expect("grpc_client_attempt_sent_total_compressed_message_size_bytes_bucket",
           "grpc.client.attempt.sent_total_compressed_message_size");
    /* _keys history names, and where _keys is part of the name */
    expect("lmcache_mp_l1_read_keys_total", "lmcache_mp.l1_read");
    expect("lmcache_mp_lookup_hit_l1_keys_total", "lmcache_mp.lookup_hit_l1_keys");
    expect("lmcache_mp_sm_read_succeed_keys_total", "lmcache_mp.sm_read_succeed_keys");
    expect("lmcache_mp_l2_prefetch_lookup_keys_total", "lmcache_mp.l2_prefetch_lookup_objects");
}

static void test_suffix_words_inside_names(void **state)
{
    (void)state;
    /* names that end in a type-suffix word are not stripped */
    expect("lmcache:local_cpu_evict_count", "lmcache:local_cpu_evict_count");
    expect("lmcache:local_cpu_evict_count_total", "lmcache:local_cpu_evict_count");
    expect("lmcache:active_memory_objs_count", "lmcache:active_memory_objs_count");
    expect("lmcache:periodic_threads_critical_total", "lmcache:periodic_threads_critical_total");
    expect("lmcache:periodic_threads_total_count", "lmcache:periodic_threads_total_count");
    expect("sglang:decode_sum_seq_lens", "sglang:decode_sum_seq_lens");
    expect("sglang:hicache_host_total_tokens", "sglang:hicache_host_total_tokens");
    expect("lmcache_mp_event_bus_dropped_events_total", "lmcache_mp.event_bus.dropped_events_total");
    /* prometheus_client names the created series of a *_total counter without _total */
    expect("lmcache_mp_event_bus_dropped_events_created", "lmcache_mp.event_bus.dropped_events_total");
    expect("vllm:kv_offload_total_bytes_total", "vllm:kv_offload_total_bytes");
    expect("vllm:kv_offload_size_bucket", "vllm:kv_offload_size");
    expect("vllm:prompt_tokens_created", "vllm:prompt_tokens");
    expect("vllm:prompt_tokens_cached_total", "vllm:prompt_tokens_cached");
    expect("sglang:num_retracted_reqs", "sglang:num_retracted_reqs");
    expect("sglang:num_retracted_requests_total", "sglang:num_retracted_requests");
}

static void test_spelling_variants(void **state)
{
    (void)state;
    /* dotted / underscored / colon / case */
    expect("LMCACHE_MP.L1_READ", "lmcache_mp.l1_read");
    expect("lmcache_mp_l1_read", "lmcache_mp.l1_read");
    expect("lmcache_num_hit_tokens_total", "lmcache:num_hit_tokens");
    expect("vllm_prefix_cache_hits_total", "vllm:prefix_cache_hits");
    expect("lmcache_blend.lookup_requests", "lmcache_blend.lookup_requests");
    expect("lmcache:cache_hit_rate", "lmcache:retrieve_hit_rate");
    expect("vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc");
    /* the OTLP name + unit, as pushed */
    assert_int_equal(kvs_metric_canonical("lmcache_mp.l1_read", 18, "chunks"), KVS_METRIC_LMCACHE_MP_L1_READ);
    assert_int_equal(kvs_metric_canonical("lmcache_mp.l2_store_throughput", 30, "GB/s"),
                     KVS_METRIC_LMCACHE_MP_L2_STORE_THROUGHPUT);
    /* a length, not a NUL, ends the name */
    assert_int_equal(kvs_metric_canonical("lmcache_mp.l1_readXYZ", 18, NULL), KVS_METRIC_LMCACHE_MP_L1_READ);
}

static void test_info(void **state)
{
    (void)state;
    const kvs_metric_info *in = kvs_metric_info_of(KVS_METRIC_LMCACHE_MP_L1_READ);
    assert_string_equal(in->id, "lmcache_mp.l1_read");
    assert_int_equal(in->surface, KVS_SURFACE_LMCACHE_MP);
    assert_int_equal(in->kind, KVS_MKIND_COUNTER);
    assert_string_equal(in->unit, "chunks");
    in = kvs_metric_info_of(KVS_METRIC_LMCACHE_MP_L0_L1_STORE_THROUGHPUT);
    assert_int_equal(in->kind, KVS_MKIND_HISTOGRAM);
    assert_string_equal(in->unit, "GB/s");
    in = kvs_metric_info_of(KVS_METRIC_LMCACHE_NUM_HIT_TOKENS);
    assert_int_equal(in->surface, KVS_SURFACE_LMCACHE_EMBEDDED);
    in = kvs_metric_info_of(KVS_METRIC_LMCACHE_BLEND_LOOKUP_HIT_TOKENS);
    assert_int_equal(in->surface, KVS_SURFACE_LMCACHE_CACHEBLEND);
    in = kvs_metric_info_of(KVS_METRIC_VLLM_KV_CACHE_USAGE_PERC);
    assert_int_equal(in->surface, KVS_SURFACE_VLLM);
    assert_int_equal(in->kind, KVS_MKIND_GAUGE);
    in = kvs_metric_info_of(KVS_METRIC_SGLANG_CACHED_TOKENS);
    assert_int_equal(in->surface, KVS_SURFACE_SGLANG);
    assert_null(kvs_metric_info_of(KVS_METRIC_UNKNOWN));
    assert_null(kvs_metric_info_of(KVS_METRIC__COUNT));
    assert_string_equal(kvs_metric_id(KVS_METRIC_UNKNOWN), "unknown");
    assert_string_equal(kvs_metric_surface_name(KVS_SURFACE_LMCACHE_CACHEBLEND), "lmcache_cacheblend");
    assert_string_equal(kvs_metric_kind_name(KVS_MKIND_HISTOGRAM), "histogram");
    assert_int_equal(kvs_metric_by_id("lmcache_mp_l1_read"), KVS_METRIC_UNKNOWN); /* ids are exact */
}

static void test_unknown(void **state)
{
    (void)state;
    static const char *const names[] = {
        "", "x", "lmcache_mp", "lmcache_mp.", "lmcache_mp.l1", "lmcache_mp.l1_reads", "vllm:foo",
        "sglang:l1_read", "num_hit_tokens", "process_cpu_seconds_total", "python_gc_objects_collected_total",
        "lmcache_mp_l1_read_chunks_totally", "_total", "_bucket", "_seconds", "target_info",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (canon(names[i]) != KVS_METRIC_UNKNOWN)
            fail_msg("%s resolved to %s", names[i], kvs_metric_id(canon(names[i])));
    char big[400];
    memset(big, 'a', sizeof big);
    assert_int_equal(kvs_metric_canonical(big, sizeof big, NULL), KVS_METRIC_UNKNOWN);
    assert_int_equal(kvs_metric_canonical(NULL, 3, NULL), KVS_METRIC_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sorted_unique),
        cmocka_unit_test(test_every_id_resolves_to_itself),
        cmocka_unit_test(test_doc_spellings),
        cmocka_unit_test(test_derived_prometheus_forms),
        cmocka_unit_test(test_unit_suffixed_names),
        cmocka_unit_test(test_suffix_words_inside_names),
        cmocka_unit_test(test_spelling_variants),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
