/*  =========================================================================
    test_config_keys - strict reading of ZPL files: line numbers, unknown
    and repeated keys, lists, ignored subtrees, "did you mean", the
    effective-configuration listing
    =========================================================================
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "config_keys.h"

static char s_dir [64];
static char s_path [128];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/strata-test-config-keys-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof s_path, "%s/file.cfg", s_dir);
}

static void
s_teardown (void)
{
    unlink (s_path);
    rmdir (s_dir);
}

TestSuite (config_keys, .init = s_setup, .fini = s_teardown);

static config_keys_t *
s_load (const char *text)
{
    FILE *file = fopen (s_path, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
    char error [512] = "";
    config_keys_t *keys = config_keys_load (s_path, "configuration file", error, sizeof error);
    cr_assert_not_null (keys, "%s", error);
    return keys;
}

Test (config_keys, lines_follow_comments_and_blanks)
{
    config_keys_t *keys = s_load ("# top\n\nsection\n    # inside\n    alpha = 1\n\n    beta = \"two words\"\n");
    char where [256], expected [256];
    snprintf (expected, sizeof expected, "%s:7", s_path);
    cr_assert_str_eq (config_keys_where (keys, "section/beta", where, sizeof where), expected);
    snprintf (expected, sizeof expected, "%s:3", s_path);
    cr_assert_str_eq (config_keys_where (keys, "section", where, sizeof where), expected);
    cr_assert_str_eq (config_keys_where (keys, "section/missing", where, sizeof where), s_path);
    cr_assert_str_eq (config_keys_get (keys, "section/beta"), "two words");
    config_keys_destroy (&keys);
    cr_assert_null (keys);
}

Test (config_keys, unknown_key_with_suggestion)
{
    config_keys_t *keys = s_load ("section\n    alpha = 1\n    betta = 2\n");
    config_keys_get (keys, "section/alpha");
    config_keys_get (keys, "section/beta");
    char error [512];
    cr_assert_eq (config_keys_check (keys, error, sizeof error), -1);
    cr_assert_not_null (strstr (error, ":3: unknown key 'section/betta' (did you mean 'section/beta'?)"), "%s", error);
    config_keys_destroy (&keys);
}

Test (config_keys, lists_and_ignored_subtrees)
{
    config_keys_t *keys = s_load ("list\n    a = x\n    b = y\nother\n    deep\n        deeper = 1\n");
    zconfig_t *list = config_keys_list (keys, "list");
    cr_assert_not_null (list);
    config_keys_ignore (keys, "other");
    char error [512] = "";
    cr_assert_eq (config_keys_check (keys, error, sizeof error), 0, "%s", error);
    config_keys_destroy (&keys);
}

Test (config_keys, duplicate_and_section_errors)
{
    config_keys_t *keys = s_load ("one\n    key = 1\ntwo\n    key = 2\n    key = 3\n");
    config_keys_get (keys, "one/key");
    config_keys_get (keys, "two/key");
    char error [512];
    cr_assert_eq (config_keys_check (keys, error, sizeof error), -1);
    cr_assert_not_null (strstr (error, ":5: 'two/key' is given twice (first at line 4)"), "%s", error);
    config_keys_destroy (&keys);
    keys = s_load ("one\n    key = 1\nthree\n");
    config_keys_get (keys, "one/key");
    cr_assert_eq (config_keys_check (keys, error, sizeof error), -1);
    cr_assert_not_null (strstr (error, ":3: unknown section 'three' (expected one of: one)"), "%s", error);
    config_keys_destroy (&keys);
}

Test (config_keys, load_errors)
{
    char error [512];
    cr_assert_null (config_keys_load (s_dir, "configuration file", error, sizeof error));
    cr_assert_not_null (strstr (error, "is a directory, expected a configuration file"), "%s", error);
    cr_assert_null (config_keys_load ("/nonexistent/x.cfg", "cluster file", error, sizeof error));
    cr_assert_not_null (strstr (error, "no such cluster file"), "%s", error);
    FILE *file = fopen (s_path, "w");
    fputs ("a\n\tb = 1\n", file);
    fclose (file);
    cr_assert_null (config_keys_load (s_path, "configuration file", error, sizeof error));
    cr_assert_not_null (strstr (error, ":2: bad indentation"), "%s", error);
    config_keys_t *empty = config_keys_load (NULL, "configuration file", error, sizeof error);
    cr_assert_not_null (empty);
    cr_assert_eq (config_keys_check (empty, error, sizeof error), 0);
    config_keys_destroy (&empty);
}

Test (config_keys, print_effective_values, .init = cr_redirect_stdout)
{
    s_setup ();
    config_keys_t *keys = s_load ("section\n    number = 42\n");
    uint64_t number = 7;
    int small = 3;
    bool flag = true;
    char text [32] = "hello";
    if (config_keys_bind (keys, "section/number", CONFIG_KEY_NUMBER, &number, sizeof number))
        number = 42;
    config_keys_bind (keys, "section/small", CONFIG_KEY_NUMBER, &small, sizeof small);
    config_keys_bind (keys, "section/flag", CONFIG_KEY_BOOL, &flag, sizeof flag);
    config_keys_bind (keys, "section/text", CONFIG_KEY_TEXT, text, sizeof text);
    config_keys_set_origin (keys, "section/text", "flag", NULL);
    config_keys_print (keys, stdout);
    fflush (stdout);
    char output [2048] = "";
    size_t size = fread (output, 1, sizeof output - 1, cr_get_redirected_stdout ());
    output [size] = 0;
    cr_assert_not_null (strstr (output, "section/number"), "%s", output);
    cr_assert (strstr (output, "42") && strstr (output, "# file"), "%s", output);
    cr_assert (strstr (output, "hello") && strstr (output, "# flag"), "%s", output);
    cr_assert (strstr (output, "# default"), "%s", output);
    config_keys_destroy (&keys);
    s_teardown ();
}

Test (config_keys, booleans_and_distance)
{
    bool value = false;
    cr_assert_eq (config_keys_parse_bool ("yes", &value), 0);
    cr_assert (value);
    cr_assert_eq (config_keys_parse_bool ("0", &value), 0);
    cr_assert_not (value);
    cr_assert_eq (config_keys_parse_bool ("maybe", &value), -1);
    cr_assert_eq (config_keys_distance ("writter", "writer"), 1);
    cr_assert_eq (config_keys_distance ("", "abc"), 3);
    cr_assert_eq (config_keys_distance ("nod", "node"), 1);
}
