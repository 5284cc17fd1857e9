/*  =========================================================================
    test_status_page - the parts the HTML status pages share
    =========================================================================
*/
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "status_page.h"

//  What writer wrote, as a string (free it)
static char *
s_written (void (*writer) (FILE *out, void *arg), void *arg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    cr_assert_not_null (out);
    writer (out, arg);
    fclose (out);
    return text;
}

static void
s_begin (FILE *out, void *arg)
{
    status_page_begin (out, "Strata cluster", (const char *) arg, 2, "tr.down{background:#fde}");
}

Test (status_page, begin_escapes_the_name_and_adds_the_style)
{
    char *text = s_written (s_begin, "a<b>&c");
    cr_assert (strncmp (text, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                              "<meta http-equiv=\"refresh\" content=\"2\">", 84) == 0, "%s", text);
    cr_assert_not_null (strstr (text, "<title>Strata cluster a&lt;b&gt;&amp;c</title>"), "%s", text);
    cr_assert_not_null (strstr (text, "td.num{text-align:right}tr.down{background:#fde}</style>"), "%s", text);
    size_t size = strlen (text);
    const char *end = "<h1>Strata cluster a&lt;b&gt;&amp;c";
    cr_assert (size > strlen (end) && strcmp (text + size - strlen (end), end) == 0, "%s", text);
    free (text);
}

static void
s_figures (FILE *out, void *arg)
{
    (void) arg;
    status_page_bytes (out, 0);
    fputc ('|', out);
    status_page_bytes (out, 1023);
    fputc ('|', out);
    status_page_bytes (out, 1536);
    fputc ('|', out);
    status_page_bytes (out, 5LL << 40);
    fputc ('|', out);
    status_page_bytes (out, -1);
    fputc ('|', out);
    status_page_count (out, 42);
    fputc ('|', out);
    status_page_count (out, -1);
}

Test (status_page, bytes_and_counts)
{
    char *text = s_written (s_figures, NULL);
    cr_assert_str_eq (text, "0 B|1023 B|1.5 KiB|5.0 TiB|&mdash;|42|&mdash;");
    free (text);
}
