/*  =========================================================================
    test_meta_stamp - the cluster fingerprint kept in an object's meta
    =========================================================================
*/
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include "meta_stamp.h"

//  A map of count "kN" -> "vN" entries
static void
s_map (msgpack_sbuffer *buffer, size_t count)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, count);
    for (size_t index = 0; index < count; index++) {
        char text [16];
        snprintf (text, sizeof text, "k%zu", index);
        msgpack_pack_str_with_body (&packer, text, strlen (text));
        snprintf (text, sizeof text, "v%zu", index);
        msgpack_pack_str_with_body (&packer, text, strlen (text));
    }
}

Test (meta_stamp, add_then_take)
{
    msgpack_sbuffer buffer;
    s_map (&buffer, 2);
    uint8_t *stamped = NULL;
    size_t stamped_size = 0;
    cr_assert_eq (meta_stamp_add ((uint8_t *) buffer.data, buffer.size, "c:k8:n10:s1:00", 64,
                                  &stamped, &stamped_size), 0);
    char fingerprint [64];
    uint8_t *stripped = NULL;
    size_t stripped_size = 0;
    cr_assert_eq (meta_stamp_take (stamped, stamped_size, fingerprint, sizeof fingerprint,
                                   &stripped, &stripped_size), 0);
    cr_assert_str_eq (fingerprint, "c:k8:n10:s1:00");
    cr_assert_eq (stripped_size, buffer.size);
    cr_assert_eq (memcmp (stripped, buffer.data, buffer.size), 0, "the client's meta comes back as sent");
    free (stamped);
    free (stripped);
    msgpack_sbuffer_destroy (&buffer);
}

Test (meta_stamp, no_meta_and_full_meta)
{
    uint8_t *stamped = NULL;
    size_t stamped_size = 0;
    cr_assert_eq (meta_stamp_add (NULL, 0, "fp", 64, &stamped, &stamped_size), 0);
    char fingerprint [64];
    uint8_t *stripped = (uint8_t *) 1;
    size_t stripped_size = 1;
    cr_assert_eq (meta_stamp_take (stamped, stamped_size, fingerprint, sizeof fingerprint,
                                   &stripped, &stripped_size), 0);
    cr_assert_str_eq (fingerprint, "fp");
    cr_assert_null (stripped, "nothing left: nil meta");
    cr_assert_eq (stripped_size, 0);
    free (stamped);

    //  A full map gets no stamp; old objects have none
    msgpack_sbuffer buffer;
    s_map (&buffer, 64);
    cr_assert_eq (meta_stamp_add ((uint8_t *) buffer.data, buffer.size, "fp", 64, &stamped, &stamped_size), 0);
    cr_assert_eq (meta_stamp_take (stamped, stamped_size, fingerprint, sizeof fingerprint,
                                   &stripped, &stripped_size), 0);
    cr_assert_str_eq (fingerprint, "");
    cr_assert_eq (stripped_size, buffer.size);
    free (stamped);
    free (stripped);
    msgpack_sbuffer_destroy (&buffer);
}

Test (meta_stamp, not_a_map)
{
    uint8_t text [] = { 0xa1, 'x' };            //  the str "x"
    uint8_t *out = NULL;
    size_t out_size = 0;
    cr_assert_eq (meta_stamp_add (text, sizeof text, "fp", 64, &out, &out_size), -1);
    char fingerprint [8];
    cr_assert_eq (meta_stamp_take (text, sizeof text, fingerprint, sizeof fingerprint, &out, &out_size), -1);
    cr_assert_eq (out_size, sizeof text);
    free (out);
}
