/*  =========================================================================
    work - one received request on its way from a receiving thread to the
    thread that handles it

    The dispatcher (or reader) receives a request, decodes and validates its
    header, checks the payload's size and MD5, and passes the work item by
    pointer over an inproc socket: the payload frames are moved, never
    copied. `verdict` is the dispatcher's result: anything but success is
    answered at once by the handler without touching storage.
    =========================================================================
*/
#ifndef STRATA_WORK_H_INCLUDED
#define STRATA_WORK_H_INCLUDED

#include <czmq.h>
#include "request.h"
#include "node_stats.h"

typedef struct {
    request_t request;              //  the decoded header
    zmsg_t *payload;                //  data frames (may be empty), owned
    uint64_t payload_size;          //  sum of the data frames' sizes
    result_t verdict;               //  success, or why the request fails
    char verdict_message [256];     //  error-message when verdict != success
    int64_t received_us;            //  when the request arrived
    node_stage_stamps_t stages;     //  when it passed each stage (archive requests)
} work_t;

//  Create an empty work item with an empty payload. NULL on out-of-memory.
work_t *
    work_new (void);

//  Destroy (request meta and payload too), set the caller's pointer to
//  NULL. Accepts NULL.
void
    work_destroy (work_t **self_p);

//  Set the verdict to a failure with a printf-style message.
void
    work_fail (work_t *self, result_t result, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
