/*  =========================================================================
    status_page - what the HTML status pages of strata-node and
    strata-router share

    See status_page.h.
    =========================================================================
*/
#include <assert.h>
#include "status_page.h"
#include "http_server.h"

//  The look both pages share
static const char *s_base_style =
    "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fafafa}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:0.3em 0.7em;text-align:left}"
    "th{background:#eee}td.num{text-align:right}";

void
status_page_begin (FILE *out, const char *what, const char *name, int refresh_seconds,
                   const char *extra_style)
{
    assert (out && what && name && extra_style);
    fprintf (out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
             "<meta http-equiv=\"refresh\" content=\"%d\"><title>%s ", refresh_seconds, what);
    http_server_html_escape (out, name);
    fprintf (out, "</title><style>%s%s</style></head><body>\n<h1>%s ", s_base_style, extra_style, what);
    http_server_html_escape (out, name);
}

void
status_page_bytes (FILE *out, int64_t bytes)
{
    assert (out);
    if (bytes < 0) {
        fputs ("&mdash;", out);
        return;
    }
    const char *units [] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double value = (double) bytes;
    int unit = 0;
    while (value >= 1024 && unit < 5) {
        value /= 1024;
        unit++;
    }
    fprintf (out, unit? "%.1f %s": "%.0f %s", value, units [unit]);
}

void
status_page_count (FILE *out, int64_t count)
{
    assert (out);
    if (count < 0)
        fputs ("&mdash;", out);
    else
        fprintf (out, "%lld", (long long) count);
}
