/*  =========================================================================
    test_timestamp - parsing and formatting of timestamp-repr

    Both accepted forms, every range check, bounds (text is not
    null-terminated), and format/parse round trips including pre-1970.
    =========================================================================
*/

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "timestamp.h"

//  2011-06-30T13:52:34.720271Z in microseconds since the epoch
#define REFERENCE_USEC  INT64_C(1309441954720271)

static int
s_parse (const char *text, int64_t *usec_p)
{
    return timestamp_parse (text, strlen (text), usec_p);
}

static int64_t
s_parse_ok (const char *text)
{
    int64_t usec = 0;
    cr_assert_eq (s_parse (text, &usec), 0, "should parse: %s", text);
    return usec;
}

static void
s_reject (const char *text)
{
    int64_t usec = 12345;
    cr_assert_eq (s_parse (text, &usec), -1, "should reject: %s", text);
}

Test (timestamp, legacy_all_field_counts)
{
    int64_t day = INT64_C(1309392000000000);        //  2011-06-30T00:00:00Z
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011, 6, 30)"), day);
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011, 6, 30, 13)"),
                  day + INT64_C(13) * 3600 * 1000000);
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011, 6, 30, 13, 52)"),
                  day + (INT64_C(13) * 3600 + 52 * 60) * 1000000);
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011, 6, 30, 13, 52, 34)"),
                  REFERENCE_USEC - 720271);
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)"),
                  REFERENCE_USEC);
    //  Flexible blanks after commas, including none
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011,6,30,13,52,34,720271)"), REFERENCE_USEC);
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011,  6,\t30, 13,52,   34, 720271)"),
                  REFERENCE_USEC);
    cr_assert_eq (s_parse_ok ("datetime.datetime(1970, 1, 1)"), 0);
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011, 6, 30, 0, 0, 0, 1)"), day + 1);
    cr_assert_eq (s_parse_ok ("datetime.datetime(2011, 6, 30, 23, 59, 59, 999999)"),
                  day + INT64_C(86400000000) - 1);
}

Test (timestamp, iso_forms)
{
    cr_assert_eq (s_parse_ok ("2011-06-30T13:52:34.720271Z"), REFERENCE_USEC);
    cr_assert_eq (s_parse_ok ("2011-06-30T13:52:34.720271+00:00"), REFERENCE_USEC);
    cr_assert_eq (s_parse_ok ("2011-06-30T13:52:34Z"), REFERENCE_USEC - 720271);
    cr_assert_eq (s_parse_ok ("2011-06-30T13:52:34+00:00"), REFERENCE_USEC - 720271);
    //  Fraction of 1 digit, and of 9 (past microseconds truncated)
    cr_assert_eq (s_parse_ok ("2011-06-30T13:52:34.7Z"), REFERENCE_USEC - 720271 + 700000);
    cr_assert_eq (s_parse_ok ("2011-06-30T13:52:34.720271999Z"), REFERENCE_USEC);
    cr_assert_eq (s_parse_ok ("2011-06-30T13:52:34.000000001+00:00"), REFERENCE_USEC - 720271);
    cr_assert_eq (s_parse_ok ("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq (s_parse_ok ("2026-11-21T23:34:52.123456Z"), INT64_C(1795304092123456));
    //  Extremes of the accepted years
    cr_assert_eq (s_parse_ok ("0001-01-01T00:00:00Z"), INT64_C(-62135596800000000));
    cr_assert_eq (s_parse_ok ("9999-12-31T23:59:59.999999Z"), INT64_C(253402300799999999));
    //  Both forms agree
    cr_assert_eq (s_parse_ok ("datetime.datetime(1969, 12, 31, 23, 59, 59, 500000)"),
                  s_parse_ok ("1969-12-31T23:59:59.5Z"));
}

Test (timestamp, leap_years)
{
    s_parse_ok ("2024-02-29T00:00:00Z");
    s_parse_ok ("2000-02-29T00:00:00Z");
    s_parse_ok ("datetime.datetime(2024, 2, 29)");
    s_reject ("2023-02-29T00:00:00Z");
    s_reject ("1900-02-29T00:00:00Z");
    s_reject ("datetime.datetime(2023, 2, 29)");
    s_reject ("datetime.datetime(2100, 2, 29)");
    cr_assert_eq (s_parse_ok ("2024-03-01T00:00:00Z") - s_parse_ok ("2024-02-28T00:00:00Z"),
                  INT64_C(2) * 86400 * 1000000);
}

Test (timestamp, rejects_out_of_range)
{
    s_reject ("2011-13-01T00:00:00Z");
    s_reject ("2011-00-01T00:00:00Z");
    s_reject ("2011-04-31T00:00:00Z");
    s_reject ("2011-01-32T00:00:00Z");
    s_reject ("2011-01-00T00:00:00Z");
    s_reject ("2011-01-01T24:00:00Z");
    s_reject ("2011-01-01T00:60:00Z");
    s_reject ("2011-01-01T00:00:60Z");
    s_reject ("0000-01-01T00:00:00Z");
    s_reject ("datetime.datetime(2011, 13, 1)");
    s_reject ("datetime.datetime(2011, 0, 1)");
    s_reject ("datetime.datetime(2011, 6, 31)");
    s_reject ("datetime.datetime(2011, 6, 30, 24)");
    s_reject ("datetime.datetime(2011, 6, 30, 13, 60)");
    s_reject ("datetime.datetime(2011, 6, 30, 13, 52, 60)");
    s_reject ("datetime.datetime(2011, 6, 30, 13, 52, 34, 1000000)");
    s_reject ("datetime.datetime(0, 6, 30)");
    s_reject ("datetime.datetime(10000, 6, 30)");
    s_reject ("datetime.datetime(99999999999999999999, 6, 30)");
    s_reject ("datetime.datetime(2011, 6, 30, 13, 52, 34, 99999999999999999999)");
    s_reject ("datetime.datetime(2011, 4294967302, 30)");   //  2^32 + 6
}

Test (timestamp, rejects_malformed)
{
    int64_t usec = 0;
    cr_assert_eq (timestamp_parse ("", 0, &usec), -1);
    cr_assert_eq (timestamp_parse (NULL, 0, &usec), -1);
    //  Trailing garbage
    s_reject ("2011-06-30T13:52:34Zx");
    s_reject ("2011-06-30T13:52:34Z ");
    s_reject ("2011-06-30T13:52:34+00:00Z");
    s_reject ("datetime.datetime(2011, 6, 30) ");
    s_reject ("datetime.datetime(2011, 6, 30)x");
    //  Missing parenthesis, wrong field counts
    s_reject ("datetime.datetime(2011, 6, 30");
    s_reject ("datetime.datetime 2011, 6, 30)");
    s_reject ("datetime.datetime(2011, 6)");
    s_reject ("datetime.datetime(2011)");
    s_reject ("datetime.datetime()");
    s_reject ("datetime.datetime(2011, 6, 30, 13, 52, 34, 720271, 5)");
    s_reject ("datetime.datetime(2011, 6, 30, 13, 52, 34, 720271, tzinfo=None)");
    //  Negative and signed numbers, empty fields, blanks not after a comma
    s_reject ("datetime.datetime(-2011, 6, 30)");
    s_reject ("datetime.datetime(2011, -6, 30)");
    s_reject ("datetime.datetime(2011, +6, 30)");
    s_reject ("datetime.datetime(2011, , 30)");
    s_reject ("datetime.datetime(2011, 6, 30,)");
    s_reject ("datetime.datetime( 2011, 6, 30)");
    s_reject ("datetime.datetime(2011 , 6, 30)");
    s_reject ("datetime.date(2011, 6, 30)");
    s_reject ("-2011-06-30T13:52:34Z");
    //  ISO: non-UTC offsets, missing zone, lowercase, other separators
    s_reject ("2011-06-30T13:52:34+01:00");
    s_reject ("2011-06-30T13:52:34-00:00");
    s_reject ("2011-06-30T13:52:34+0000");
    s_reject ("2011-06-30T13:52:34");
    s_reject ("2011-06-30T13:52:34.5");
    s_reject ("2011-06-30T13:52:34z");
    s_reject ("2011-06-30t13:52:34Z");
    s_reject ("2011-06-30 13:52:34Z");
    //  ISO: field widths and fractions
    s_reject ("2011-6-30T13:52:34Z");
    s_reject ("20110-06-30T13:52:34Z");
    s_reject ("2011-06-30T13:52Z");
    s_reject ("2011-06-30T13:52:34.Z");
    s_reject ("2011-06-30T13:52:34.1234567890Z");
    s_reject ("2011-06-30");
    s_reject ("99999999999999999999");
    s_reject ("garbage");
}

Test (timestamp, never_reads_past_size)
{
    //  Valid text whose size cuts it short must fail, not read on
    const char *iso = "2011-06-30T13:52:34.720271Z";
    const char *legacy = "datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)";
    int64_t usec;
    for (size_t size = 0; size < strlen (iso); size++) {
        //  Copy into an exact-size heap buffer so ASan sees any overread
        char *copy = malloc (size? size: 1);
        memcpy (copy, iso, size);
        int rc = timestamp_parse (copy, size, &usec);
        free (copy);
        //  Only the prefixes that end in a complete form can parse; none here
        //  end with Z or +00:00
        cr_assert_eq (rc, -1, "iso prefix of %zu", size);
    }
    for (size_t size = 0; size < strlen (legacy); size++) {
        char *copy = malloc (size? size: 1);
        memcpy (copy, legacy, size);
        cr_assert_eq (timestamp_parse (copy, size, &usec), -1, "legacy prefix of %zu", size);
        free (copy);
    }
    //  A valid text followed by more bytes beyond size
    cr_assert_eq (timestamp_parse ("1970-01-01T00:00:00Zjunk", 20, &usec), 0);
    cr_assert_eq (usec, 0);
}

Test (timestamp, format_known)
{
    char text [TIMESTAMP_TEXT_SIZE];
    cr_assert_str_eq (timestamp_format (0, text), "1970-01-01T00:00:00.000000Z");
    cr_assert_str_eq (timestamp_format (REFERENCE_USEC, text), "2011-06-30T13:52:34.720271Z");
    //  Pre-1970: floor division, not truncation towards zero
    cr_assert_str_eq (timestamp_format (-1, text), "1969-12-31T23:59:59.999999Z");
    cr_assert_str_eq (timestamp_format (-1000000, text), "1969-12-31T23:59:59.000000Z");
    cr_assert_str_eq (timestamp_format (-1000001, text), "1969-12-31T23:59:58.999999Z");
    cr_assert_str_eq (timestamp_format (INT64_C(-86400000000), text), "1969-12-31T00:00:00.000000Z");
    cr_assert_str_eq (timestamp_format (INT64_C(-62135596800000000), text),
                      "0001-01-01T00:00:00.000000Z");
    cr_assert_str_eq (timestamp_format (INT64_C(253402300799999999), text),
                      "9999-12-31T23:59:59.999999Z");
    //  Extremes of int64 must not crash or overflow the buffer
    timestamp_format (INT64_MAX, text);
    cr_assert_lt (strlen (text), (size_t) TIMESTAMP_TEXT_SIZE);
    timestamp_format (INT64_MIN, text);
    cr_assert_lt (strlen (text), (size_t) TIMESTAMP_TEXT_SIZE);
}

Test (timestamp, round_trip)
{
    const char *texts [] = {
        "2011-06-30T13:52:34.720271Z",
        "1970-01-01T00:00:00.000000Z",
        "1969-12-31T23:59:59.999999Z",
        "1900-02-28T12:00:00.000001Z",
        "2000-02-29T23:59:59.500000Z",
        "0001-01-01T00:00:00.000000Z",
        "9999-12-31T23:59:59.999999Z",
        "2026-11-21T23:34:52.123456Z",
    };
    for (size_t index = 0; index < sizeof (texts) / sizeof (texts [0]); index++) {
        char text [TIMESTAMP_TEXT_SIZE];
        cr_assert_str_eq (timestamp_format (s_parse_ok (texts [index]), text), texts [index]);
    }
    //  Legacy forms come back as ISO
    char text [TIMESTAMP_TEXT_SIZE];
    cr_assert_str_eq (timestamp_format (s_parse_ok ("datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)"), text),
                      "2011-06-30T13:52:34.720271Z");
    cr_assert_str_eq (timestamp_format (s_parse_ok ("datetime.datetime(2011, 6, 30, 13)"), text),
                      "2011-06-30T13:00:00.000000Z");
    //  Every day across several years (leap, century) parses back to itself
    for (int64_t day = -800; day < 800; day++) {
        int64_t usec = day * INT64_C(86400000000) + day * 1013;
        timestamp_format (usec, text);
        cr_assert_eq (s_parse_ok (text), usec, "%s", text);
    }
}

Test (timestamp, now_is_plausible)
{
    int64_t now = timestamp_now ();
    cr_assert_gt (now, s_parse_ok ("2024-01-01T00:00:00Z"));
    cr_assert_lt (now, s_parse_ok ("2200-01-01T00:00:00Z"));
    cr_assert_geq (timestamp_now (), now);
}
