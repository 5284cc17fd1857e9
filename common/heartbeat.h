/*  =========================================================================
    heartbeat - liveness of long-lived ZeroMQ connections, independent of
    TCP's timers

    Two kinds of connection:

    - Reply connections (a node's replies to the router or to a handoff
      forwarder), whose receivers always read: ZMTP heartbeats. A PING goes
      out every interval; a connection that carries nothing for timeout
      after a PING is closed by ZeroMQ and reconnected (the PING's TTL
      tells the peer to drop it too). PINGs are answered in the peer's I/O
      thread, so a busy peer still answers.
    - Connections into a node's intake (requests to a writer or reader
      endpoint, the router's pings, handoff forwarding), whose receiver
      stops reading to push back (receive-hwm is small): no ZMTP
      heartbeats. libzmq 4.3.4 aborts a receiver that finds a PING in its
      buffer after backpressure stopped its input and the peer hung up
      (assertion !_io_error in stream_engine_base.cpp), and a receiver
      whose input is stopped neither answers nor sends PINGs, so heartbeats
      would also drop a healthy but busy connection. Their liveness comes
      from data the sender sends anyway (the router's pings every
      ping-interval-ms) on a connection of their own: TCP_USER_TIMEOUT
      drops it when a ping is not acknowledged in time, which only a dead
      link or host causes (the peer's kernel acknowledges whether or not
      the program reads, and pings are too small to fill its buffer). Data
      connections get no TCP_USER_TIMEOUT: Linux also applies it to a zero
      window (a receiver that pushes back for that long), which would drop
      a connection that is only busy; they are replaced when the liveness
      connection says the node is lost.

    Both kinds: a connect attempt gives up after a bounded time (a SYN
    lost in a partition does not back off for minutes) and reconnecting
    waits at most reconnect_max between attempts, so a healed link is used
    again within about twice reconnect_max.
    =========================================================================
*/
#ifndef STRATA_HEARTBEAT_H_INCLUDED
#define STRATA_HEARTBEAT_H_INCLUDED

#include <czmq.h>

//  What a node uses towards reply addresses and handoff owners
#define HEARTBEAT_NODE_INTERVAL_MS      1000
#define HEARTBEAT_NODE_TIMEOUT_MS       3000
#define HEARTBEAT_NODE_RECONNECT_MAX_MS 500

//  ZMTP heartbeats on socket, set before it connects or binds:
//  ZMQ_HEARTBEAT_IVL = interval_ms, ZMQ_HEARTBEAT_TIMEOUT and
//  ZMQ_HEARTBEAT_TTL = timeout_ms, ZMQ_CONNECT_TIMEOUT = reconnect_max_ms,
//  ZMQ_RECONNECT_IVL_MAX = reconnect_max_ms (at least ZeroMQ's reconnect
//  interval of 100 ms), ZMQ_TCP_MAXRT = timeout_ms. Only for sockets whose
//  peers always read (see above). All times must be positive.
void
    heartbeat_apply (zsock_t *socket, int interval_ms, int timeout_ms, int reconnect_max_ms);

//  Bounded reconnection without ZMTP heartbeats: ZMQ_CONNECT_TIMEOUT =
//  connect_timeout_ms, ZMQ_RECONNECT_IVL_MAX = reconnect_max_ms, and, when
//  unacked_ms > 0, ZMQ_TCP_MAXRT = unacked_ms (sent data unacknowledged
//  this long, or a zero window held this long, drops the connection: only
//  for a connection whose peer never stops reading). connect_timeout_ms
//  and reconnect_max_ms must be positive, unacked_ms at least 0.
void
    heartbeat_apply_data (zsock_t *socket, int connect_timeout_ms, int unacked_ms, int reconnect_max_ms);

//  heartbeat_apply with the node's constants above (reply connections,
//  the handoff forwarder's reply socket).
void
    heartbeat_apply_node (zsock_t *socket);

//  heartbeat_apply_data with the node's reconnect constant, no
//  TCP_USER_TIMEOUT (handoff forwarding to an owner's endpoints).
void
    heartbeat_apply_node_data (zsock_t *socket);

#endif
