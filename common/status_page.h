/*  =========================================================================
    status_page - what the HTML status pages of strata-node and
    strata-router share

    Both programs serve a small status page at / of their HTTP endpoint
    (docs/operations.md): a page that reloads itself, one look (the base
    style), byte and count cells. Each program writes its own tables
    between status_page_begin () and its closing tags.
    =========================================================================
*/
#ifndef STRATA_STATUS_PAGE_H_INCLUDED
#define STRATA_STATUS_PAGE_H_INCLUDED

#include <stdint.h>
#include <stdio.h>

//  Write the start of a page: doctype, head (reloading every
//  refresh_seconds, titled "<what> <name>", the base style followed by
//  extra_style), and the opening of the body up to and including the text
//  of its <h1>, "<what> <name>", left open for the caller to add to and
//  close. name is HTML-escaped; what and extra_style are our own text.
void
    status_page_begin (FILE *out, const char *what, const char *name, int refresh_seconds,
                       const char *extra_style);

//  A byte count with a binary unit ("512 B", "1.5 MiB"); &mdash; when
//  bytes < 0 (not known).
void
    status_page_bytes (FILE *out, int64_t bytes);

//  A count; &mdash; when count < 0 (not known).
void
    status_page_count (FILE *out, int64_t count);

#endif
