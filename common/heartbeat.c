/*  =========================================================================
    heartbeat - liveness of long-lived ZeroMQ connections, independent of
    TCP's timers
    =========================================================================
*/
#include "heartbeat.h"

#define S_RECONNECT_IVL_MS  100         //  ZeroMQ's default first retry

static void
s_reconnect (zsock_t *socket, int connect_timeout_ms, int unacked_ms, int reconnect_max_ms)
{
    zsock_set_connect_timeout (socket, connect_timeout_ms);
    zsock_set_reconnect_ivl (socket, S_RECONNECT_IVL_MS);
    zsock_set_reconnect_ivl_max (socket, reconnect_max_ms > S_RECONNECT_IVL_MS
                                         ? reconnect_max_ms: S_RECONNECT_IVL_MS);
    if (unacked_ms > 0)
        zsock_set_tcp_maxrt (socket, unacked_ms);
}

void
heartbeat_apply (zsock_t *socket, int interval_ms, int timeout_ms, int reconnect_max_ms)
{
    assert (socket);
    assert (interval_ms > 0 && timeout_ms > 0 && reconnect_max_ms > 0);
    zsock_set_heartbeat_ivl (socket, interval_ms);
    zsock_set_heartbeat_timeout (socket, timeout_ms);
    //  TTL travels in deciseconds, at most 6553.5 s
    zsock_set_heartbeat_ttl (socket, timeout_ms < 6553500? timeout_ms: 6553500);
    s_reconnect (socket, reconnect_max_ms, timeout_ms, reconnect_max_ms);
}

void
heartbeat_apply_data (zsock_t *socket, int connect_timeout_ms, int unacked_ms, int reconnect_max_ms)
{
    assert (socket);
    assert (connect_timeout_ms > 0 && unacked_ms >= 0 && reconnect_max_ms > 0);
    s_reconnect (socket, connect_timeout_ms, unacked_ms, reconnect_max_ms);
}

void
heartbeat_apply_node (zsock_t *socket)
{
    heartbeat_apply (socket, HEARTBEAT_NODE_INTERVAL_MS, HEARTBEAT_NODE_TIMEOUT_MS,
                     HEARTBEAT_NODE_RECONNECT_MAX_MS);
}

void
heartbeat_apply_node_data (zsock_t *socket)
{
    heartbeat_apply_data (socket, HEARTBEAT_NODE_RECONNECT_MAX_MS, 0, HEARTBEAT_NODE_RECONNECT_MAX_MS);
}
