/*  =========================================================================
    timestamp - parse and format the protocol's `timestamp-repr`

    Accepted: ISO 8601 UTC ("2026-11-21T23:34:52.123456Z", fraction of 0..9
    digits optional — digits past microseconds are truncated —, suffix "Z" or
    "+00:00"), and the legacy Python form
    "datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)" with 3 to 7 integer
    fields (naive, taken as UTC). Produced: ISO 8601 with microseconds and Z.
    Internally a timestamp is microseconds since the Unix epoch (int64).
    =========================================================================
*/
#ifndef STRATA_TIMESTAMP_H_INCLUDED
#define STRATA_TIMESTAMP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  "2026-11-21T23:34:52.123456Z" plus null, with room to spare
#define TIMESTAMP_TEXT_SIZE 32

//  Parse text (size bytes, not necessarily null-terminated) in either form.
//  Rejects out-of-range fields (month 13, Feb 30, hour 24, ...), years
//  outside 1..9999, trailing garbage, and any other form. Returns 0 and sets
//  *usec_p on success, -1 on failure. Never reads past text + size.
int
    timestamp_parse (const char *text, size_t size, int64_t *usec_p);

//  Format usec (microseconds since the epoch) as ISO 8601 UTC with six
//  fraction digits and "Z" into out. Returns out.
char *
    timestamp_format (int64_t usec, char out [TIMESTAMP_TEXT_SIZE]);

//  Current wall-clock time in microseconds since the epoch.
int64_t
    timestamp_now (void);

#endif
