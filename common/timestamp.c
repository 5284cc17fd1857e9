/*  =========================================================================
    timestamp - parse and format the protocol's `timestamp-repr`

    Two forms come in (proto/PROTOCOL.md, "Timestamps"):

        2026-11-21T23:34:52.123456Z         ISO 8601, UTC only
        2026-11-21T23:34:52+00:00           fraction optional, Z or +00:00
        datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)
                                            legacy Python repr, 3..7 fields

    One goes out: ISO 8601 with six fraction digits and "Z".

    The parser walks a cursor over text and never reads past its end (the
    text comes from a message and is not null-terminated). Digits are read
    by hand with a digit-count limit, so no field can overflow; every field
    is then range-checked, days against the month and leap year. Dates are
    turned into days since 1970-01-01 by the days-from-civil computation
    (proleptic Gregorian), which needs neither timegm nor the TZ variable.
    =========================================================================
*/

#include "timestamp.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_USEC_PER_SEC  INT64_C(1000000)
#define S_SEC_PER_DAY   INT64_C(86400)

//  A legacy field has at most this many digits: enough for any valid value
//  (year 9999, microsecond 999999), few enough that it cannot overflow
#define S_FIELD_DIGITS_MAX  9

//  Parse position within the text
typedef struct {
    const char *pos;            //  Next character to read
    const char *end;            //  One past the last character
} s_cursor_t;

//  Broken-down UTC time, as parsed
typedef struct {
    int year;                   //  1..9999
    int month;                  //  1..12
    int day;                    //  1..days in month
    int hour;                   //  0..23
    int minute;                 //  0..59
    int second;                 //  0..59
    int usec;                   //  0..999999
} s_civil_t;


//  --------------------------------------------------------------------------
//  Cursor helpers; each returns false, and may leave the cursor anywhere,
//  when the text does not match.

static bool
s_at_end (const s_cursor_t *cursor)
{
    return cursor->pos == cursor->end;
}

static bool
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

//  Consume one expected character
static bool
s_expect_char (s_cursor_t *cursor, char expected)
{
    if (s_at_end (cursor) || *cursor->pos != expected)
        return false;
    cursor->pos++;
    return true;
}

//  Consume an expected literal string
static bool
s_expect_literal (s_cursor_t *cursor, const char *literal)
{
    size_t length = strlen (literal);
    if ((size_t) (cursor->end - cursor->pos) < length
    ||  memcmp (cursor->pos, literal, length) != 0)
        return false;
    cursor->pos += length;
    return true;
}

//  Consume exactly count digits (count <= 9) into *value_p
static bool
s_fixed_digits (s_cursor_t *cursor, int count, int *value_p)
{
    assert (count > 0 && count <= S_FIELD_DIGITS_MAX);
    int value = 0;
    for (int index = 0; index < count; index++) {
        if (s_at_end (cursor) || !s_is_digit (*cursor->pos))
            return false;
        value = value * 10 + (*cursor->pos++ - '0');
    }
    *value_p = value;
    return true;
}

//  Consume 1..S_FIELD_DIGITS_MAX digits into *value_p; a longer run of
//  digits is refused rather than overflowing
static bool
s_integer (s_cursor_t *cursor, int *value_p)
{
    int value = 0;
    int count = 0;              //  Digits consumed so far
    while (!s_at_end (cursor) && s_is_digit (*cursor->pos)) {
        if (++count > S_FIELD_DIGITS_MAX)
            return false;
        value = value * 10 + (*cursor->pos++ - '0');
    }
    *value_p = value;
    return count > 0;
}

//  Skip any spaces and tabs
static void
s_skip_blanks (s_cursor_t *cursor)
{
    while (!s_at_end (cursor) && (*cursor->pos == ' ' || *cursor->pos == '\t'))
        cursor->pos++;
}


//  --------------------------------------------------------------------------
//  Calendar arithmetic (proleptic Gregorian; H. Hinnant's days_from_civil
//  and civil_from_days, valid far beyond the years we accept).

static bool
s_is_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
s_days_in_month (int year, int month)
{
    static const int days [12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    assert (month >= 1 && month <= 12);
    return month == 2 && s_is_leap (year)? 29: days [month - 1];
}

//  Days from 1970-01-01 to year-month-day
static int64_t
s_days_from_civil (int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0? year: year - 399) / 400;
    int64_t year_of_era = year - era * 400;                     //  0..399
    int64_t day_of_year = (153 * (month > 2? month - 3: month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4
                       - year_of_era / 100 + day_of_year;       //  0..146096
    return era * 146097 + day_of_era - 719468;
}

//  Year, month and day of a count of days since 1970-01-01
static void
s_civil_from_days (int64_t days, int64_t *year_p, int *month_p, int *day_p)
{
    days += 719468;
    int64_t era = (days >= 0? days: days - 146096) / 146097;
    int64_t day_of_era = days - era * 146097;                   //  0..146096
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524
                        - day_of_era / 146096) / 365;           //  0..399
    int64_t day_of_year = day_of_era
                        - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_index = (5 * day_of_year + 2) / 153;          //  0..11, from March
    *day_p = (int) (day_of_year - (153 * month_index + 2) / 5 + 1);
    *month_p = (int) (month_index < 10? month_index + 3: month_index - 9);
    *year_p = year_of_era + era * 400 + (*month_p <= 2);
}


//  --------------------------------------------------------------------------
//  Range-check a parsed time and convert it to microseconds since the epoch.

static int
s_civil_to_usec (const s_civil_t *civil, int64_t *usec_p)
{
    if (civil->year < 1 || civil->year > 9999
    ||  civil->month < 1 || civil->month > 12
    ||  civil->day < 1 || civil->day > s_days_in_month (civil->year, civil->month)
    ||  civil->hour < 0 || civil->hour > 23
    ||  civil->minute < 0 || civil->minute > 59
    ||  civil->second < 0 || civil->second > 59
    ||  civil->usec < 0 || civil->usec > 999999)
        return -1;
    int64_t days = s_days_from_civil (civil->year, civil->month, civil->day);
    int64_t seconds = days * S_SEC_PER_DAY
                    + civil->hour * INT64_C(3600) + civil->minute * INT64_C(60)
                    + civil->second;
    *usec_p = seconds * S_USEC_PER_SEC + civil->usec;
    return 0;
}


//  --------------------------------------------------------------------------
//  ISO 8601: YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+00:00), nothing after.

static int
s_parse_iso (s_cursor_t *cursor, s_civil_t *civil)
{
    if (!s_fixed_digits (cursor, 4, &civil->year)
    ||  !s_expect_char (cursor, '-')
    ||  !s_fixed_digits (cursor, 2, &civil->month)
    ||  !s_expect_char (cursor, '-')
    ||  !s_fixed_digits (cursor, 2, &civil->day)
    ||  !s_expect_char (cursor, 'T')
    ||  !s_fixed_digits (cursor, 2, &civil->hour)
    ||  !s_expect_char (cursor, ':')
    ||  !s_fixed_digits (cursor, 2, &civil->minute)
    ||  !s_expect_char (cursor, ':')
    ||  !s_fixed_digits (cursor, 2, &civil->second))
        return -1;

    civil->usec = 0;
    if (s_expect_char (cursor, '.')) {
        //  1..9 digits; the first six are microseconds, the rest truncated
        int count = 0;          //  Fraction digits consumed
        int scale = 100000;     //  Weight of the next digit in microseconds
        while (!s_at_end (cursor) && s_is_digit (*cursor->pos)) {
            if (++count > 9)
                return -1;
            civil->usec += (*cursor->pos++ - '0') * scale;
            scale /= 10;
        }
        if (count == 0)
            return -1;
    }
    if (!s_expect_char (cursor, 'Z') && !s_expect_literal (cursor, "+00:00"))
        return -1;
    return s_at_end (cursor)? 0: -1;
}


//  --------------------------------------------------------------------------
//  Legacy: datetime.datetime(year, month, day[, hour[, minute[, second[,
//  microsecond]]]]), blanks allowed after each comma, nothing after ')'.

static int
s_parse_legacy (s_cursor_t *cursor, s_civil_t *civil)
{
    int *fields [7] = {
        &civil->year, &civil->month, &civil->day,
        &civil->hour, &civil->minute, &civil->second, &civil->usec
    };
    memset (civil, 0, sizeof (*civil));

    if (!s_expect_literal (cursor, "datetime.datetime("))
        return -1;
    int count = 0;              //  Fields parsed so far
    while (true) {
        if (count == 7 || !s_integer (cursor, fields [count]))
            return -1;
        count++;
        if (s_expect_char (cursor, ')'))
            break;
        if (!s_expect_char (cursor, ','))
            return -1;
        s_skip_blanks (cursor);
    }
    if (count < 3)
        return -1;
    return s_at_end (cursor)? 0: -1;
}


//  --------------------------------------------------------------------------
//  Parse text (size bytes, not necessarily null-terminated) in either form.
//  Returns 0 and sets *usec_p on success, -1 on failure.

int
timestamp_parse (const char *text, size_t size, int64_t *usec_p)
{
    assert (usec_p);
    assert (text || size == 0);
    if (size == 0)
        return -1;

    s_cursor_t cursor = { text, text + size };
    s_civil_t civil;
    int rc = s_is_digit (text [0])
           ? s_parse_iso (&cursor, &civil)
           : s_parse_legacy (&cursor, &civil);
    if (rc == 0)
        rc = s_civil_to_usec (&civil, usec_p);
    return rc;
}


//  --------------------------------------------------------------------------
//  Format usec as ISO 8601 UTC with six fraction digits and "Z". Returns out.

char *
timestamp_format (int64_t usec, char out [TIMESTAMP_TEXT_SIZE])
{
    assert (out);
    //  Floor division throughout, so times before 1970 come out right
    int64_t seconds = usec / S_USEC_PER_SEC;
    int64_t fraction = usec % S_USEC_PER_SEC;
    if (fraction < 0) {
        fraction += S_USEC_PER_SEC;
        seconds--;
    }
    int64_t days = seconds / S_SEC_PER_DAY;
    int64_t second_of_day = seconds % S_SEC_PER_DAY;
    if (second_of_day < 0) {
        second_of_day += S_SEC_PER_DAY;
        days--;
    }
    int64_t year;
    int month, day;
    s_civil_from_days (days, &year, &month, &day);

    //  The year is within +-292278 for any int64, so the text always fits
    //  (at most 31 characters with the null); the compiler cannot see that,
    //  so format into a roomier buffer and copy
    char text [48];
    int length = snprintf (text, sizeof (text), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                           (int) year, month, day,
                           (int) (second_of_day / 3600), (int) (second_of_day / 60 % 60),
                           (int) (second_of_day % 60), (int) fraction);
    assert (length > 0 && length < TIMESTAMP_TEXT_SIZE);
    memcpy (out, text, (size_t) length + 1);
    return out;
}


//  --------------------------------------------------------------------------
//  Current wall-clock time in microseconds since the epoch.

int64_t
timestamp_now (void)
{
    struct timespec now;
    int rc = clock_gettime (CLOCK_REALTIME, &now);
    assert (rc == 0);           //  Cannot fail for CLOCK_REALTIME
    (void) rc;
    return (int64_t) now.tv_sec * S_USEC_PER_SEC + now.tv_nsec / 1000;
}
