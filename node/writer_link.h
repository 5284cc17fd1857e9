/*  =========================================================================
    writer_link - what the threads around the writer steer by

    Two control values, owned here rather than among the reported
    statistics (node_stats), and shared by pointer between the threads:

    * the payload bytes handed to the writer and not yet taken by it: the
      dispatcher adds a request's bytes when it queues it and waits (then
      answers overloaded) while node/queue-bytes are queued; the writer
      takes them off when it takes the request (back-pressure);
    * the writer's commit generation: the writer moves it after each group
      commit lands and before that commit's replies go out; the reader
      starts a new index snapshot when it moves, so a retrieval sent after
      a success reply sees what the reply acknowledged (read-your-writes,
      index_reader_set_generation).

    The counts the node reports (queue-depth, syncs) stay in node_stats.
    =========================================================================
*/
#ifndef STRATA_WRITER_LINK_H_INCLUDED
#define STRATA_WRITER_LINK_H_INCLUDED

#include <stdint.h>

typedef struct _writer_link_t writer_link_t;

//  Create a link: nothing queued, generation 0. NULL on out-of-memory.
writer_link_t *
    writer_link_new (void);

//  Destroy and set the caller's pointer to NULL. Accepts NULL.
void
    writer_link_destroy (writer_link_t **self_p);

//  Dispatcher: bytes of payload handed to the writer (or, negative, taken
//  back when the hand-over failed).
void
    writer_link_queued (writer_link_t *self, int64_t bytes);

//  Writer: bytes of payload taken off the queue.
void
    writer_link_dequeued (writer_link_t *self, int64_t bytes);

//  Payload bytes handed to the writer and not yet taken.
int64_t
    writer_link_queue_bytes (writer_link_t *self);

//  Writer: a group commit landed (before its replies are sent).
void
    writer_link_committed (writer_link_t *self);

//  The commit generation (group commits landed so far).
uint64_t
    writer_link_generation (writer_link_t *self);

#endif
